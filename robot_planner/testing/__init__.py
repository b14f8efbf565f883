"""Stand-ins for external services, for tests and ``robot-planner bench faults``."""
