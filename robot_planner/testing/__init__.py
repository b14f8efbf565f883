"""Test support shipped with the package (tests and ``robot-planner bench`` use it):
stand-ins for external services (`fake_openai`), bounded waits (`waiting`) and per-run
isolation on a shared host (`isolation`: ROS domain reservations, unique command ids)."""
