"""Thin rclpy nodes: each converts messages to numpy and calls one object of an inner layer."""
