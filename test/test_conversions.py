"""Image message <-> numpy: exact round trips, padded rows, byte order, clear errors."""

import numpy as np
import pytest
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from amplify_ros.nodes.conversions import ENCODINGS, ImageConversionError, imgmsg_to_numpy, numpy_to_imgmsg, to_rgb


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
def test_round_trip_is_exact(encoding):
    dtype, channels = ENCODINGS[encoding]
    rng = np.random.default_rng(0)
    shape = (5, 7) if channels == 1 else (5, 7, channels)
    arr = (
        (rng.normal(size=shape) * 1000).astype(dtype) if "F" in encoding else rng.integers(0, 200, shape).astype(dtype)
    )
    header = Header(frame_id="cam")
    msg = numpy_to_imgmsg(arr, encoding, header)
    assert msg.header.frame_id == "cam" and msg.step == 7 * channels * np.dtype(dtype).itemsize
    assert np.array_equal(imgmsg_to_numpy(msg), arr)


def test_padded_rows_and_big_endian_data():
    arr = np.arange(12, dtype=np.uint16).reshape(3, 4) * 1000
    msg = Image(height=3, width=4, encoding="16UC1", is_bigendian=1, step=10)  # 8 bytes of pixels + 2 padding
    rows = [arr[r].astype(">u2").tobytes() + b"\xff\xff" for r in range(3)]
    msg.data = b"".join(rows)
    assert np.array_equal(imgmsg_to_numpy(msg), arr)


def test_colour_conversions():
    rgb = np.random.default_rng(1).integers(0, 255, (4, 4, 3), dtype=np.uint8)
    assert np.array_equal(to_rgb(numpy_to_imgmsg(rgb[..., ::-1].copy(), "bgr8")), rgb)
    assert to_rgb(numpy_to_imgmsg(rgb[..., 0].copy(), "mono8")).shape == (4, 4, 3)
    with pytest.raises(ImageConversionError, match="not a colour camera encoding"):
        to_rgb(numpy_to_imgmsg(np.zeros((2, 2), np.float32), "32FC1"))


def test_bad_messages_are_clear_errors():
    with pytest.raises(ImageConversionError, match="unsupported image encoding 'yuv422'"):
        imgmsg_to_numpy(Image(height=1, width=1, encoding="yuv422", step=2, data=b"ab"))
    with pytest.raises(ImageConversionError, match="empty rgb8 image \\(0x0\\)"):
        to_rgb(Image(height=0, width=0, encoding="rgb8", step=0, data=b""))
    with pytest.raises(ImageConversionError, match="needs step >= 12"):
        imgmsg_to_numpy(Image(height=2, width=4, encoding="rgb8", step=8, data=bytes(16)))
    with pytest.raises(ImageConversionError, match="needs a \\(H, W, 3\\) uint8 array"):
        numpy_to_imgmsg(np.zeros((2, 2), np.uint8), "rgb8")
