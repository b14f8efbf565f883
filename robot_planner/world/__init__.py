"""World model: domains, scenes, the skill catalogue and facts (ROS-free)."""

from robot_planner.world.catalogue import Catalogue, SkillSpec, load_catalogue
from robot_planner.world.domain import Domain, load_domain
from robot_planner.world.facts import Fact, FactError, format_facts, parse_facts
from robot_planner.world.loading import ConfigError
from robot_planner.world.scene import Scene, load_scene

__all__ = [
    "Catalogue",
    "ConfigError",
    "Domain",
    "Fact",
    "FactError",
    "Scene",
    "SkillSpec",
    "format_facts",
    "load_catalogue",
    "load_domain",
    "load_scene",
    "parse_facts",
]
