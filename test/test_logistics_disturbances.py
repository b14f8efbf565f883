"""Disturbances of the logistics cell's mobile bases: a tray spilled mid-drive (the monitor
notices, the planner has the fetcher pick the parcel off the aisle's floor, the run
succeeds and the simulator agrees) and a base stopped mid-drive (the run succeeds,
later by the delay). The random draws for base drives do not depend on the
probabilities. Headless, bounded in simulated time, no sleeps."""

from __future__ import annotations

import json

import pytest

from robot_planner.adapters.base import SkillState
from robot_planner.cli import main
from robot_planner.episode import EpisodeConfig, run_episode
from robot_planner.sim.adapter import PyBulletRobotAdapter
from robot_planner.sim.disturbances import DisturbanceConfig, Disturbances
from robot_planner.sim.skills import SkillRun
from robot_planner.sim.world import SimWorld
from robot_planner.world.scene import Scene, load_scene

COMMAND = "bring the red parcel to the packing station"


@pytest.fixture(scope="module")
def logistics() -> Scene:
    return load_scene("logistics")


def _disturbances(report: dict) -> list[dict]:
    return [e for e in report["events"] if e.get("event") == "disturbance"]


def test_a_spilled_parcel_is_noticed_mid_drive_and_fetched_from_the_floor(capsys):
    """Seed 1 at p = 0.3: the loaded drive spills (its draw 0.05), the fetcher's drive with
    the parcel does not (0.65). The monitor sees the tray empty; the re-plan sends the
    halted base out of the lane and the fetcher picks the parcel off the aisle's floor
    and brings it to the packer."""
    code = main(
        [
            "run",
            "--scene",
            "logistics",
            "--command",
            COMMAND,
            "--spill-prob",
            "0.3",
            "--seed",
            "1",
            "--max-time",
            "200",
            "--json",
        ]
    )
    report = json.loads(capsys.readouterr().out)
    # The parcel fell off base_1 while it drove it to the packing station (its first
    # drive, to the pick station, had an empty tray: nothing to spill).
    spills = [e for e in _disturbances(report) if e["kind"] == "spill"]
    assert [(s["robot"], s["objects"]) for s in spills] == [("base_1", ["red_parcel"])]
    navigate = next(
        t for t in report["plan"]["tasks"] if t["skill"] == "navigate" and t["depends_on"]
    )
    started = next(
        e["time"]
        for e in report["events"]
        if e.get("event") == "task_started" and e.get("task") == navigate["id"]
    )
    assert spills[0]["time"] > started
    # The monitor saw it during the drive, soon after, and only that.
    [alarm] = report["misalignments"]
    assert alarm["fact"] == "on_tray(red_parcel,base_1)" and alarm["phase"] == "during"
    assert alarm["task"] == navigate["id"]
    assert 0.0 < alarm["time"] - spills[0]["time"] < 2.0
    # Re-planned from what was seen: the parcel on the aisle's floor, base_1 stopped in
    # the lane. The last plan has the fetcher fetch it and the packer unload it.
    first = report["plans"][0]["tasks"]
    assert (first[0]["robot"], first[0]["skill"]) == ("base_1", "navigate")
    last = report["plans"][-1]["tasks"]
    fetches = [t for t in last if t["skill"] == "fetch"]
    assert [(t["robot"], t["args"]) for t in fetches] == [
        ("fetcher_1", {"object": "red_parcel", "from": "aisle"})
    ]
    assert (last[-1]["robot"], last[-1]["skill"]) == ("packer", "place")
    fetched = [
        e
        for e in report["events"]
        if e.get("event") == "task_succeeded" and e.get("robot") == "fetcher_1"
    ]
    assert len(fetched) == 2  # fetch, then the drive to the packing station
    assert code == 0 and report["success"] is True and report["outcome"] == "succeeded"
    truth = report["ground_truth"]
    assert truth["goal_holds"] is True and truth["agrees"] is True
    assert "at(red_parcel,packing_station)" in truth["facts"]


def test_a_delayed_base_arrives_later_and_the_run_succeeds(logistics):
    def episode(disturbances: DisturbanceConfig, monitor: str) -> dict:
        config = EpisodeConfig(
            command=COMMAND, disturbances=disturbances, max_sim_time_s=120.0, monitor=monitor
        )
        return run_episode(config, logistics.domain.catalogue, logistics)

    delay = 4.0
    # The probabilities set to 0 explicitly: the same run as with no disturbance. Both
    # runs have the monitor on: a base driving normally never looks stalled, and a base
    # stopped shorter than its progress check's patience is noticed, not an alarm.
    plain = episode(DisturbanceConfig(spill_prob=0.0, delay_prob=0.0), "on")
    late = episode(DisturbanceConfig(delay_prob=1.0, delay_s=delay), "on")
    assert late["monitor"]["checks"] > 0
    for report in (plain, late):
        assert report["success"], report["reason"]
        assert report["ground_truth"]["goal_holds"] and report["ground_truth"]["agrees"]
        assert report["misalignments"] == [] and report["replans"] == 0
    assert _disturbances(plain) == []
    delays = _disturbances(late)
    # Each of base_1's two drives stopped once, for `delay` seconds.
    assert [(d["kind"], d["robot"], d["seconds"]) for d in delays] == [
        ("delay", "base_1", delay)
    ] * 2

    # The monitor noticed each stop (odometry, Nav2's progress checker) and saw the
    # base move on; the undisturbed run had no stall.
    def progress(report: dict) -> list[tuple[str, str]]:
        return [
            (e["event"], e["robot"])
            for e in report["events"]
            if e.get("event", "").startswith("progress_")
        ]

    assert progress(plain) == []
    assert progress(late) == [("progress_stalled", "base_1"), ("progress_resumed", "base_1")] * 2
    notice_s = logistics.domain.catalogue.skills["navigate"].progress.notice_s
    stalls = [e for e in late["events"] if e.get("event") == "progress_stalled"]
    for stop, stall in zip(delays, stalls, strict=True):
        # The stall counts from where the base came to rest (it brakes for up to a
        # second), and is judged every 0.2 s.
        assert notice_s < stall["time"] - stop["time"] < notice_s + 1.5

    def durations(report: dict) -> dict[str, float]:
        started: dict[str, float] = {}
        took: dict[str, float] = {}
        for e in report["events"]:
            if e.get("event") == "task_started":
                started[e["task"]] = e["time"]
            elif e.get("event") == "task_succeeded":
                took[e["task"]] = e["time"] - started[e["task"]]
        return took

    # Each drive takes longer by the delay (braking and setting off again cost about
    # what the distance covered while braking saves); the arms' tasks take as long.
    skills = {t["id"]: t["skill"] for t in plain["plan"]["tasks"]}
    late_took = durations(late)
    for task, took in durations(plain).items():
        extra = delay if skills[task] == "navigate" else 0.0
        assert late_took[task] - took == pytest.approx(extra, abs=0.6), task
    assert late["sim_time_s"] - plain["sim_time_s"] == pytest.approx(2 * delay, abs=1.0)


def test_a_base_stopped_longer_than_its_drive_limit_still_arrives(logistics):
    """The drive's own time limit (twice the expected drive, about 42 s here) counts only
    the time the base could move: a 45 s stop leaves the skill to the catalogue's
    timeout (120 s) alone. The base stands still while it is stopped."""
    delay = 45.0
    with SimWorld(logistics, seed=0) as world:
        adapter = PyBulletRobotAdapter(world, DisturbanceConfig(delay_prob=1.0, delay_s=delay))
        base = world.bases["base_1"]
        start = world.time
        handle = adapter.start_skill("base_1", "navigate", {"place": "pick_station"})
        speeds: list[tuple[float, float]] = []
        while adapter.poll(handle).state is SkillState.RUNNING and world.time < 90.0:
            adapter.step()
            speeds.append((world.time, abs(base.velocity()[0])))
        status = adapter.poll(handle)
        assert status.state is SkillState.SUCCEEDED, status.reason
        [stop] = adapter.events
        assert stop["kind"] == "delay" and stop["robot"] == "base_1"
        # About 12 s of driving plus the stop; standing still once it has braked.
        assert world.time - start == pytest.approx(12.0 + delay, abs=1.5)
        braked = stop["time"] + base.max_speed / base.max_accel + 0.2
        standing = [v for t, v in speeds if braked < t < stop["time"] + delay]
        assert standing and max(standing) < 0.01


def _feed(world: SimWorld, config: DisturbanceConfig, bases: bool) -> tuple:
    """Skill starts and ends as a cell's runs make them (a base's drive, then a place),
    six times; what the disturbances drew and did."""
    disturbances = Disturbances(world, config)
    for _ in range(6):
        if bases:
            drive = SkillRun("base_1", "navigate", {"place": "pick_station"}, [], world.time)
            disturbances.on_skill_start(drive)
            disturbances.on_skill_end(drive, succeeded=True)
        place = SkillRun(
            "picker", "place", {"object": "red_parcel", "target": "base_1"}, [], world.time
        )
        disturbances.on_skill_start(place)
        disturbances.on_skill_end(place, succeeded=True)
    displaced = [(e["dx_cm"], e["dy_cm"]) for e in disturbances.events]
    return (
        displaced,
        disturbances.rng.bit_generator.state,
        disturbances.base_rng.bit_generator.state,
    )


def test_the_random_streams_do_not_depend_on_the_base_probabilities(logistics):
    with SimWorld(logistics, seed=3) as world:
        reference = _feed(world, DisturbanceConfig(displace_cm=1.0), bases=True)
        assert len(reference[0]) == 6  # every place was displaced: the arms' stream ran
        for spill, delay in ((0.0, 0.0), (0.3, 0.7), (1.0, 1.0)):
            config = DisturbanceConfig(displace_cm=1.0, spill_prob=spill, delay_prob=delay)
            assert _feed(world, config, bases=True) == reference, (spill, delay)
        # The bases draw from a stream of their own: with no base running at all the
        # arms' disturbances are the same, and the bases' stream is untouched.
        displaced, arms, base_stream = _feed(world, DisturbanceConfig(displace_cm=1.0), False)
        assert (displaced, arms) == reference[:2]
        assert base_stream != reference[2]


@pytest.mark.parametrize(
    ("flags", "fragment"),
    [
        (["--spill-prob", "1.5"], "spill probability must be in [0, 1]"),
        (["--delay-prob", "-0.1"], "delay probability must be in [0, 1]"),
        (["--delay-prob", "nan"], "delay probability must be in [0, 1]"),
        (["--delay-s", "-1"], "delay must be a finite number of seconds >= 0"),
        (["--delay-s", "inf"], "delay must be a finite number of seconds >= 0"),
    ],
)
@pytest.mark.parametrize("command", [["run", "--command", COMMAND], ["demo"]])
def test_bad_disturbance_values_are_one_line(command, flags, fragment, capsys):
    assert main([*command, "--scene", "logistics", *flags]) == 2
    err = capsys.readouterr().err
    assert fragment in err and err.count("\n") == 1


def test_bench_episodes_refuses_bad_disturbance_values(capsys):
    argv = ["bench", "episodes", "--scene", "logistics", "--command", COMMAND]
    assert main([*argv, "--spill-prob", "2"]) == 2
    err = capsys.readouterr().err
    assert "spill probability must be in [0, 1]" in err and err.count("\n") == 1


def test_bench_episodes_runs_with_the_monitor_chosen(capsys):
    argv = ["bench", "episodes", "--scene", "logistics", "--seeds", "1"]
    command = ["--command", "robot one, go to the pick station", "--monitor", "off"]
    assert main([*argv, *command, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["monitor"] == "off" and report["episodes"] == 1
    assert report["success_rate"] == 1.0 and report["system_success_rate"] == 1.0
    assert report["disturbances"] == {} and report["stalls_noticed"] == 0
    assert report["misalignments"] == 0 and report["replans_per_episode"] == 0


def test_bench_episodes_counts_delays_and_the_stalls_noticed(capsys):
    argv = ["bench", "episodes", "--scene", "logistics", "--seeds", "1", "--monitor", "on"]
    command = ["--command", "robot one, go to the pick station"]
    assert main([*argv, *command, "--delay-prob", "1", "--delay-s", "5"]) == 0
    out = capsys.readouterr().out
    assert "disturbances: 1 delay; 0 misalignment(s), 0 re-plans per episode" in out
    assert "1 stall(s) noticed" in out
