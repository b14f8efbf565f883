"""ROS 2 nodes: thin glue (parameters, topics, QoS, timers, message conversion) around
the ROS-free core. Each module has a `main` used as a console script."""
