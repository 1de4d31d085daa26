"""The crash-safe recorder and the reader that recovers what a crash left: flush and split
policy, SIGKILL mid-recording, files cut short, clear errors for unwritable bags."""

import errno
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from bags import STRING, T0, TS, recording, string, write_bag
from rosbags.rosbag2 import Reader

from amplify_ros.data.bag_import import BagImportSettings, bag_episodes
from amplify_ros.data.bag_reader import BagReader, BagReadError
from amplify_ros.data.bag_writer import BagRecorder, BagWriteError

TEST_DIR = Path(__file__).parent


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def numbered(reader: BagReader) -> list[int]:
    """The numbers of the String messages ``m<i>`` that came back."""
    return [int(TS.deserialize_cdr(m.data, m.msgtype).data[1:]) for m in reader.messages()]


def test_flushes_and_splits_keep_the_bag_readable_while_recording(tmp_path):
    clock = FakeClock()
    rec = BagRecorder(tmp_path / "rec", flush_seconds=0.45, split_seconds=1.95, clock=clock)
    rec.open()
    with Reader(rec.path) as reader:  # a bag from the first moment, with no file yet
        assert reader.message_count == 0
    for i in range(50):
        clock.now = i * 0.1
        rec.write("/s", STRING, string(f"m{i}"), T0 + i * 10**8)
    assert [p.name for p in rec.segments] == ["rec_0.mcap", "rec_1.mcap"] and rec.segment_folder == rec.path / "rec_2"
    # segments of 21 messages (0 .. 2.0 s, 2.1 .. 4.1 s); the third began at 4.2 s and was flushed at 4.7 s
    assert rec.written == 50 and rec.flushed == 48
    with Reader(rec.path) as reader:  # standard readers see the finished segments
        assert reader.message_count == 42
    assert numbered(BagReader(rec.path)) == list(range(48))  # ours also scans the open segment
    rec.close()
    assert sorted(os.listdir(rec.path)) == ["metadata.yaml", "rec_0.mcap", "rec_1.mcap", "rec_2.mcap"]
    with Reader(rec.path) as reader:
        assert reader.message_count == 50 and reader.duration == 49 * 10**8 + 1


CHILD = """
import sys, time
from bags import recording
from amplify_ros.data.bag_writer import BagRecorder
rec = BagRecorder(sys.argv[1], storage=sys.argv[2], flush_seconds=0.05, split_seconds=0.3)
rec.open()
for topic, msgtype, data, t in recording(duration=4.0)[:700]:
    rec.write(topic, msgtype, data, t)
    time.sleep(0.001)
print(rec.written, rec.flushed, len(rec.segments), flush=True)
time.sleep(60)  # still recording, the last messages in memory, when the kill comes
"""


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_a_killed_recorder_keeps_every_flushed_message(tmp_path, storage):
    bag = tmp_path / "rec"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TEST_DIR.parent), str(TEST_DIR)])}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(bag), storage], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        written, flushed, segments = map(int, child.stdout.readline().split())
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(10)
    assert written == 700 and segments >= 1
    sent = recording(duration=4.0)
    reader = BagReader(bag)
    got = [(m.topic, m.timestamp, m.data) for m in reader.messages()]
    assert flushed <= len(got) <= written  # nothing flushed is lost
    assert (
        sorted(got, key=lambda m: m[1::-1])
        == sorted([(t, r, d) for t, _, d, r in sent], key=lambda m: m[1::-1])[: len(got)]
    )
    with Reader(bag) as finished:  # metadata.yaml lists the finished segments, readable by any tool
        assert finished.message_count > 0
    (ep,) = bag_episodes(bag, None, BagImportSettings(action_topic="/cmd")).episodes
    assert 80 < ep.num_frames <= 87  # the 700 messages sent hold 88 frames, the first before any state


def test_an_mcap_cut_short_gives_back_every_chunk_before_the_cut(tmp_path):
    clock = FakeClock()
    rec = BagRecorder(tmp_path / "rec", flush_seconds=1.0, split_seconds=None, clock=clock)
    rec.open()
    ends = []  # (file size, messages in it) after each flush
    for i in range(60):
        clock.now = i / 10  # a flush every 10 messages
        rec.write("/s", STRING, string(f"m{i}"), T0 + i)
        if rec.flushed == rec.written:
            ends.append(((rec.segment_folder / "rec_0.mcap").stat().st_size, rec.written))
    file = rec.segment_folder / "rec_0.mcap"
    data = file.read_bytes()
    for size, count in [(0, 0), *ends[1:4]]:  # 0: killed before the first flush
        for cut in (size, size + 5):  # right after a chunk, or a few bytes into the next
            file.write_bytes(data[:cut])
            reader = BagReader(rec.path)
            assert numbered(reader) == list(range(count))
            assert f"; kept {count} message(s)" in reader.notes[0]


@pytest.mark.parametrize("zstd", [False, True])
def test_a_finished_mcap_that_lost_its_summary_keeps_all_messages(tmp_path, zstd):
    bag = write_bag(tmp_path / "bag", recording(duration=1.0), zstd=zstd)
    file = next(bag.glob("*.mcap"))
    file.write_bytes(file.read_bytes()[:-200])  # footer and part of the summary gone
    (bag / "metadata.yaml").unlink()
    reader = BagReader(bag)
    assert sum(1 for _ in reader.messages()) == len(recording(duration=1.0))
    assert "no usable index (File end magic is invalid); scanned it: its data is whole" in reader.notes[0]


def test_files_that_are_no_storage_are_skipped_with_a_note(tmp_path):
    bag = write_bag(tmp_path / "bag", recording(duration=1.0))
    (bag / "junk.mcap").write_bytes(b"not an mcap file")
    (bag / "bag_1.db3").write_bytes(b"")  # a database killed before its tables were made
    reader = BagReader(bag)
    assert sum(1 for _ in reader.messages()) == len(recording(duration=1.0))
    assert [n.split(":")[0] for n in reader.notes] == [f"skipped {bag}/bag_1.db3", f"skipped {bag}/junk.mcap"]
    with pytest.raises(BagReadError, match="no readable storage file"):
        BagReader(bag / "junk.mcap")


def test_unwritable_places_and_full_disks_are_clear_errors(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(BagWriteError, match="cannot create bag .*file/rec: Not a directory"):
        BagRecorder(tmp_path / "file" / "rec").open()
    (tmp_path / "old").mkdir()
    with pytest.raises(BagWriteError, match="exists already; a recording is never overwritten"):
        BagRecorder(tmp_path / "old").open()

    class FullDisk:
        """The segment's file, on a disk that has just filled up."""

        def __init__(self, file):
            self.file = file

        def __getattr__(self, name):
            return getattr(self.file, name)

        def write(self, data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    rec = BagRecorder(tmp_path / "rec", flush_seconds=10)
    rec.open()
    rec.write("/s", STRING, string("m0"), T0)
    storage = rec._segment.storage
    storage.bio = FullDisk(storage.bio)
    with pytest.raises(BagWriteError, match="cannot flush bag .*rec: disk full \\(ENOSPC\\)"):
        rec.flush()
    with pytest.raises(BagWriteError, match="failed earlier"):
        rec.write("/s", STRING, string("m1"), T0 + 1)
    assert yaml.safe_load((rec.path / "metadata.yaml").read_text())  # still a bag
