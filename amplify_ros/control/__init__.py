"""Between a predicted action chunk and the arm, without ROS: chunk scheduling and safety."""
