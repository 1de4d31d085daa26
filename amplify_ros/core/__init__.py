"""Tensors, track geometry and models. numpy / torch only: nothing here imports rclpy or MuJoCo."""
