"""The command service, ROS-free: status events, incoming commands, the queue policy and
the journal. The nodes (`robot_planner.nodes`) only move these over DDS."""
