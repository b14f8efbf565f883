"""`python -m robot_planner.cli ...`: the same as the `robot-planner` script (used where
the script may not be on PATH, e.g. benchmarks and system tests starting child processes).
"""

import sys

from robot_planner.cli import main

sys.exit(main())
