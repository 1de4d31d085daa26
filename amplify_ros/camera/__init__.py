"""Camera drivers without ROS: a reconnecting frame source (stream) and RealSense devices (realsense)."""
