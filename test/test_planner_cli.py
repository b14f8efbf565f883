"""`robot-planner plan`, `grammar` and `bench planner`; planner config and backend choice."""

import json
import re

import pytest

from robot_planner.cli import main
from robot_planner.planning.config import PlannerConfig, load_planner_config, make_planner
from robot_planner.planning.jsgf import jsgf_grammar
from robot_planner.planning.offline import OfflinePlanner
from robot_planner.world.loading import ConfigError


def test_plan_prints_the_validated_plan(capsys):
    assert (
        main(["plan", "--scene", "tabletop", "--command", "put the red block in the right bin"])
        == 0
    )
    captured = capsys.readouterr()
    plan = json.loads(captured.out)
    assert plan["goal"] == ["in(red_block,right_bin)"]
    assert [t["robot"] for t in plan["tasks"]] == [
        "left_arm",
        "left_arm",
        "right_arm",
        "right_arm",
    ]
    assert captured.err.startswith("offline: 4 task(s)")


def test_plan_json_has_backend_and_latency(capsys):
    assert main(["plan", "--command", "stack red on green", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["backend"] == "offline" and report["attempts"] == 1
    assert report["plan"]["goal"] == ["on(red_block,green_block)"]


def test_plan_refusal_is_exit_2_with_one_line(capsys):
    assert main(["plan", "--command", "throw the red block"]) == 2
    err = capsys.readouterr().err
    assert "unknown action 'throw'" in err and err.count("\n") == 1


def test_plan_from_a_state_file(tmp_path, capsys):
    state = tmp_path / "state.json"
    state.write_text(
        json.dumps(
            [
                "in(red_block,right_bin)",
                "gripper_empty(left_arm)",
                "gripper_empty(right_arm)",
                "at(green_block,left_side)",
                "on_table(green_block)",
                "at(blue_block,right_side)",
                "on_table(blue_block)",
                "at(yellow_block,right_side)",
                "on_table(yellow_block)",
            ]
        )
    )
    assert (
        main(["plan", "--command", "put the red block in the right bin", "--state", str(state)])
        == 0
    )
    assert json.loads(capsys.readouterr().out)["tasks"] == []


def test_grammar_jsgf_and_lark(capsys):
    assert main(["grammar", "--format", "jsgf"]) == 0
    jsgf = capsys.readouterr().out
    assert jsgf.startswith("#JSGF V1.0;") and "public <command>" in jsgf
    assert main(["grammar", "--format", "lark"]) == 0
    assert "start:" in capsys.readouterr().out


@pytest.mark.parametrize("scene_name", ["tabletop", "logistics"])
def test_the_recognisers_grammar_loads_and_every_word_can_be_pronounced(scene_name):
    from robot_planner.resources import scene_path
    from robot_planner.speech import SpeechRecognizer
    from robot_planner.world.scene import load_scene

    recognizer = SpeechRecognizer(load_scene(scene_path(scene_name)))
    words = set(re.findall(r"(?<![<\w])[a-z']+(?![\w>])", recognizer.grammar.split(";", 2)[-1]))
    # Plurals the dictionary lacks ("grippers", "huskies") were added from their singular.
    missing = sorted(w for w in words if recognizer._decoder.lookup_word(w) is None)
    assert missing == []
    # A robot name the dictionary cannot say ("xarm") costs its phrases, not the grammar.
    if scene_name == "logistics":
        assert "xarm" not in words and "packer" in words
        assert recognizer.is_sentence("robot one and robot two go to the dock")
        assert recognizer.is_sentence("bring the red parcel to the packing station")
    else:
        assert recognizer.is_sentence("both arms go home")
        assert recognizer.is_sentence("open both grippers")


def test_jsgf_holds_sentences_with_the_scene_vocabulary(scene):
    import pocketsphinx

    # Phrases are factored by their first words ("left (bin | box)"), so the grammar is
    # asked about sentences rather than searched for text.
    fsg = pocketsphinx.Decoder(lm=None, loglevel="FATAL").parse_jsgf(jsgf_grammar(scene))
    for sentence in (
        "put the red block in the left bin",
        "put the yellow block in the center zone then put the red one in the right box",
        "put the red block in the left bin while the right arm puts the blue block on it",
        "build a tower with blue at the bottom and yellow on top",
        "put the red block in the middle of the table",
    ):
        assert fsg.accept(sentence), sentence
    assert not fsg.accept("put the red block in the left")
    assert not fsg.accept("put the purple block in the left bin")


def test_bench_planner_offline(capsys, tmp_path):
    assert main(["bench", "planner", "--json", "--out", str(tmp_path)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["backend"] == "offline"
    assert report["commands"] >= 80 and report["goal_accuracy"] == 1.0
    assert report["latency_ms"]["median"] > 0
    assert set(report["by_category"]) >= {"basic", "parallel", "tower"}
    assert len(report["rows"]) == report["commands"]
    written = {p.name for p in tmp_path.iterdir()}
    assert written == {"planner.json", "planner.md", "planner_latency.png"}
    assert (
        "| category | commands | goal accuracy | median ms |"
        in (tmp_path / "planner.md").read_text()
    )


def test_config_auto_backend(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert PlannerConfig().resolved_backend() == "offline"
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    assert PlannerConfig().resolved_backend() == "openai"
    monkeypatch.delenv("OPENAI_API_KEY")
    config = PlannerConfig.model_validate({"openai": {"base_url": "http://127.0.0.1:1/v1"}})
    assert config.resolved_backend() == "openai"


def test_packaged_planner_config_loads_and_makes_offline(monkeypatch, catalogue, scene):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    config = load_planner_config()
    assert config.backend == "auto"
    assert isinstance(make_planner(config, catalogue, scene), OfflinePlanner)


def test_bad_planner_config_is_one_line(tmp_path, capsys):
    path = tmp_path / "planner.yaml"
    path.write_text("backend: telepathy\n")
    with pytest.raises(ConfigError) as info:
        load_planner_config(path)
    assert "backend" in str(info.value) and "\n" not in str(info.value)
    assert main(["plan", "--command", "put red on green", "--planner-config", str(path)]) == 2
    assert "planner config" in capsys.readouterr().err


def test_plan_dart_export_and_validate_dart_import(tmp_path, capsys):
    assert main(["plan", "--command", "put the red block in the right bin", "--dart"]) == 0
    dart = json.loads(capsys.readouterr().out)
    first = dart["tasks"][0]
    assert first["instruction_function"]["name"] == "pick"
    assert first["instruction_function"]["robot_ids"] == ["left_arm"]
    path = tmp_path / "dart.json"
    path.write_text(json.dumps(dart))
    assert main(["validate", str(path), "--dart"]) == 0
    assert "valid plan: 4 task(s)" in capsys.readouterr().out
    dart["tasks"][0]["instruction_function"]["name"] = "throw"
    path.write_text(json.dumps(dart))
    assert main(["validate", str(path), "--dart"]) == 2
    assert "unknown skill 'throw'" in capsys.readouterr().err


class _Dictionary:
    """A stand-in decoder dictionary with the words given."""

    def __init__(self, words: dict[str, str]):
        self.words = words

    def lookup_word(self, word: str) -> str | None:
        return self.words.get(word)


def test_a_missing_plural_is_said_from_its_singular():
    from robot_planner.speech.recognizer import _pronounce

    # "bases": "base" + IH Z, never "bas" + the ending, though "bas" is a word too.
    words = {"base": "B EY S", "bas": "B AA", "box": "B AA K S", "husky": "HH AH S K IY"}
    decoder = _Dictionary(words)
    assert _pronounce(decoder, "bases") == "B EY S IH Z"
    assert _pronounce(decoder, "boxes") == "B AA K S IH Z"
    assert _pronounce(decoder, "huskies") == "HH AH S K IY Z"
    assert _pronounce(decoder, "zones") is None
