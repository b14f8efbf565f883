#!/usr/bin/env bash
# Build robot_planner_interfaces (an ament_cmake package of .msg/.srv/.action files) against
# the ROS 2 Kilted wheels from PyPI, with plain cmake and no ROS install, and install it
# into the venv: afterwards `$VENV/bin/python -c "import robot_planner_interfaces.action"`
# works with no environment variables. With a sourced ROS 2 install, use colcon instead.
# Another interface package (a test's stand-in) builds the same way into its own prefix.
#
# Adapted from ../shared/recipes/ros_interfaces_from_wheels/build_interfaces.sh.
#
# Usage: scripts/build_interfaces.sh [--force]
#   VENV       the venv to build against and install into (default: .venv of the checkout)
#   BUILD_DIR  the CMake build folder (default: build/interfaces). CMake caches the paths it
#              found, so the folder belongs to one venv: it is emptied when VENV changes.
#   VERBOSE=1  show the cmake output (otherwise it goes to BUILD_DIR/build.log)
#   PKG_DIR    the package to build (default: robot_planner_interfaces of the checkout)
#   PREFIX     where to install it (default: VENV). Another prefix keeps the venv as it is:
#              the libraries get PREFIX/lib as their RPATH, and a Python that uses the
#              package needs PREFIX's site-packages on sys.path and PREFIX/lib in
#              LD_LIBRARY_PATH when it starts (rcutils loads typesupport libraries by name),
#              or those libraries loaded beforehand. BUILD_DIR then defaults to
#              build/interfaces-PKG.
#
# Idempotent: when nothing it depends on changed since the last successful install (the
# interface files, the pinned wheels, this script, the venv) it returns at once.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PKG_SRC="$(cd "${PKG_DIR:-$ROOT/robot_planner_interfaces}" 2>/dev/null && pwd)" || {
  echo "error: no package folder at $PKG_DIR" >&2
  exit 2
}
PKG="$(sed -n 's|.*<name>\(.*\)</name>.*|\1|p' "$PKG_SRC/package.xml" 2>/dev/null | head -n 1)"
[ -n "$PKG" ] || { echo "error: $PKG_SRC/package.xml names no package" >&2; exit 2; }
VENV="$(cd "${VENV:-$ROOT/.venv}" 2>/dev/null && pwd)" || {
  echo "error: no venv at ${VENV:-$ROOT/.venv} (run make setup)" >&2
  exit 2
}
PREFIX="${PREFIX:-$VENV}"
mkdir -p "$PREFIX"
PREFIX="$(cd "$PREFIX" && pwd)"
if [ "$PKG" = robot_planner_interfaces ]; then
  BUILD_DIR="${BUILD_DIR:-$ROOT/build/interfaces}"
else
  BUILD_DIR="${BUILD_DIR:-$ROOT/build/interfaces-$PKG}"
fi
PY="$VENV/bin/python"
FINGERPRINT_FILE="$PREFIX/.$PKG.fingerprint"
FORCE=0
[ "${1:-}" = "--force" ] && FORCE=1

[ -x "$PY" ] || { echo "error: $PY not found (run make setup)" >&2; exit 2; }
if [ -n "${ROS_DISTRO:-}" ]; then
  echo "error: ROS 2 $ROS_DISTRO is sourced: build $PKG with colcon build instead" >&2
  exit 2
fi

started_ms=$(($(date +%s%N) / 1000000))
elapsed() {
  local ms=$(($(date +%s%N) / 1000000 - started_ms))
  printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100))
}

# Everything the installed package depends on; the interpreter's real location stands for
# the venv (a venv recreated on another Python must rebuild).
base_prefix="$("$PY" -c 'import sys; print(sys.base_prefix)')"
# What the build folder and the install belong to (the prefix is named only when it is not
# the venv, so a venv's existing build folder stays valid).
owner="venv=$VENV python=$base_prefix"
[ "$PREFIX" = "$VENV" ] || owner="$owner prefix=$PREFIX"
fingerprint="$(
  {
    echo "$owner"
    (cd "$PKG_SRC/.." && find "$(basename "$PKG_SRC")" -type f | LC_ALL=C sort | xargs sha256sum)
    (cd "$ROOT" && sha256sum requirements-ros.txt requirements-interfaces.txt \
      scripts/build_interfaces.sh)
  } | sha256sum | cut -d' ' -f1
)"
# Where the package's Python modules are installed: the venv's site-packages, or the same
# folder under PREFIX (ament_cmake_python installs into lib/pythonX.Y/site-packages).
site="$("$PY" -c \
  'import sys, sysconfig; print(sysconfig.get_path("purelib", vars={"base": sys.argv[1]}))' \
  "$PREFIX")"
if [ "$FORCE" = 0 ] && [ -f "$site/$PKG/__init__.py" ] \
  && [ "$(cat "$FINGERPRINT_FILE" 2>/dev/null)" = "$fingerprint" ]; then
  echo "$PKG: up to date in $PREFIX"
  exit 0
fi
rm -f "$FINGERPRINT_FILE"

# 1. The pinned generator chain (a no-op when make setup installed it already).
echo "$PKG: installing the rosidl generator wheels (requirements-interfaces.txt)"
"$PY" -m pip install --quiet --disable-pip-version-check \
  -r "$ROOT/requirements-ros.txt" -r "$ROOT/requirements-interfaces.txt"
# rosidl_parser's dependency lark-parser overwrites the `lark` module when pip installs it;
# the project's pinned lark 1.x serves rosidl_parser and the command grammar alike.
if ! "$PY" -c 'import lark, sys; sys.exit(not lark.__version__.startswith("1."))' 2>/dev/null
then
  "$PY" -m pip install --quiet --disable-pip-version-check --no-deps --force-reinstall \
    "$(grep -E '^lark==' "$ROOT/requirements.txt")"
fi

# 2. The *_rosidl_generator_pyExport.cmake files of the message wheels name the wheel
#    builder's Python and numpy include folders (/opt/python/cp311-cp311/...), which CMake
#    rejects as non-existent: repoint them at this interpreter's (idempotent).
pyinc="$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
npinc="$("$PY" -c 'import numpy; print(numpy.get_include())')"
[ -f "$pyinc/Python.h" ] || {
  echo "error: Python.h is missing in $pyinc (install the Python 3.11 development headers)" >&2
  exit 2
}
{ grep -rlZ '/opt/python/cp311-cp311' "$VENV/share" --include='*.cmake' || true; } \
  | xargs -0 -r sed -i \
    -e "s|/opt/python/cp311-cp311/include/python3.11|$pyinc|g" \
    -e "s|/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include|$npinc|g"

# 3. One build folder per venv: a folder configured for another venv (or interpreter)
#    starts again from nothing.
if [ -d "$BUILD_DIR" ] && [ "$(cat "$BUILD_DIR/.owner" 2>/dev/null)" != "$owner" ]; then
  echo "$PKG: $BUILD_DIR belongs to another venv or prefix; starting it again"
  rm -rf "$BUILD_DIR"
fi
mkdir -p "$BUILD_DIR"
echo "$owner" >"$BUILD_DIR/.owner"

# 4. Configure, build and install with plain cmake. The typesupports are found through
#    the ament index, so AMENT_PREFIX_PATH must name the venv (and only the venv).
export AMENT_PREFIX_PATH="$VENV"
unset CMAKE_PREFIX_PATH
log="$BUILD_DIR/build.log"
: >"$log"
run() {
  if [ "${VERBOSE:-0}" = 1 ]; then
    "$@"
  elif ! "$@" >>"$log" 2>&1; then
    tail -n 60 "$log" >&2
    echo "error: '$*' failed; the whole output is in $log" >&2
    exit 1
  fi
}
# Outside the venv, the venv's LD_LIBRARY_PATH (set by the ROS wheels at start-up) does not
# name PREFIX/lib: the libraries find each other through their RPATH instead.
rpath=()
[ "$PREFIX" = "$VENV" ] || rpath=(-DCMAKE_INSTALL_RPATH="$PREFIX/lib")
echo "$PKG: building in $BUILD_DIR"
run cmake -S "$PKG_SRC" -B "$BUILD_DIR" -G Ninja \
  -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
  -DCMAKE_PREFIX_PATH="$VENV" -DCMAKE_INSTALL_PREFIX="$PREFIX" \
  -DPython3_EXECUTABLE="$VENV/bin/python3" "${rpath[@]}"
run cmake --build "$BUILD_DIR"
run cmake --install "$BUILD_DIR"

# 5. The venv's Python imports it with no environment variables (from PREFIX: with its
#    site-packages on the path). Only the kinds of interface the package has.
modules=""
for kind in action msg srv; do
  if [ -d "$PKG_SRC/$kind" ]; then modules="$modules${modules:+, }$PKG.$kind"; fi
done
pythonpath=()
[ "$PREFIX" = "$VENV" ] || pythonpath=(PYTHONPATH="$site")
(cd / && env -u AMENT_PREFIX_PATH "${pythonpath[@]}" "$PY" -c \
  "import $modules; print('$PKG: installed in', $PKG.__path__[0])")
echo "$fingerprint" >"$FINGERPRINT_FILE"
echo "$PKG: done in $(elapsed) s"
