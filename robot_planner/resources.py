"""Find the package's data files (config, scenes, examples) wherever it is installed.

Order: ``$ROBOT_PLANNER_SHARE``; the source tree (an editable install or a checkout);
``<prefix>/share/robot_planner`` (pip or colcon install); the ament index.
"""

from __future__ import annotations

import os
import sys
from functools import lru_cache
from pathlib import Path

PACKAGE = "robot_planner"
#: The domain a scene belongs to when it names none (and the one `load_catalogue()` reads).
DEFAULT_DOMAIN = "tabletop"


class ResourceError(FileNotFoundError):
    """A named resource (scene, catalogue) that does not exist; one readable line."""


def _candidates() -> list[Path]:
    found = []
    env = os.environ.get("ROBOT_PLANNER_SHARE")
    if env:
        found.append(Path(env))
    found.append(Path(__file__).resolve().parent.parent)
    found.append(Path(sys.prefix) / "share" / PACKAGE)
    try:
        from ament_index_python.packages import get_package_share_directory

        found.append(Path(get_package_share_directory(PACKAGE)))
    except Exception:
        pass
    return found


@lru_cache(maxsize=1)
def share_dir() -> Path:
    """The directory that holds ``config/`` and ``sim/``."""
    for candidate in _candidates():
        if (candidate / "config" / "domains" / DEFAULT_DOMAIN / "domain.yaml").is_file():
            return candidate
    raise ResourceError(
        f"cannot find robot_planner's data files (config/domains/{DEFAULT_DOMAIN}); "
        "set ROBOT_PLANNER_SHARE to the package's share directory"
    )


def domain_path(name_or_path: str | Path) -> Path:
    """A domain file from a name (``tabletop``: ``config/domains/tabletop/domain.yaml``),
    a domain directory, or a path to a YAML file."""
    text = str(name_or_path)
    if text.endswith((".yaml", ".yml")) or os.sep in text:
        path = Path(text)
        if path.is_dir():
            path = path / "domain.yaml"
        if not path.is_file():
            raise ResourceError(f"domain file {path} does not exist")
        return path
    root = share_dir() / "config" / "domains"
    path = root / text / "domain.yaml"
    if not path.is_file():
        known = sorted(p.parent.name for p in root.glob("*/domain.yaml"))
        raise ResourceError(f"unknown domain '{text}' (known: {', '.join(known) or 'none'})")
    return path


def scene_path(name_or_path: str | Path) -> Path:
    """A scene file from a name (``tabletop``) or a path to a YAML file."""
    text = str(name_or_path)
    if text.endswith((".yaml", ".yml")) or os.sep in text:
        path = Path(text)
        if not path.is_file():
            raise ResourceError(f"scene file {path} does not exist")
        return path
    path = share_dir() / "sim" / "scenes" / f"{text}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in (share_dir() / "sim" / "scenes").glob("*.yaml"))
        raise ResourceError(f"unknown scene '{text}' (known: {', '.join(known) or 'none'})")
    return path
