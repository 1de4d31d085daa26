"""amplify_ros: AMPLIFY (actionless motion priors) as a ROS 2 package.

Layers, innermost first: ``core`` (tensors, track geometry, models), ``tracking`` (point
trackers), ``data`` (episodes on disk), ``sim`` (MuJoCo worlds and exact tracks), ``train``
(command-line tools), ``nodes`` (rclpy). An inner layer never imports an outer one.
"""

__version__ = "0.1.0"
