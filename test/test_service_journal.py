"""The command journal: JSON lines on disk, torn lines, restarts, threads (ROS-free)."""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path

import pytest

from robot_planner.service.journal import Journal, JournalError, read_journal, unfinished


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "journal.jsonl"


def _lines(path: Path) -> list[dict]:
    """Every line of the file parsed strictly (a test fails on any torn line)."""
    text = path.read_text(encoding="utf-8")
    assert text == "" or text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def test_entries_are_appended_as_json_lines(path):
    journal = Journal(path)
    journal.write("c1", "accepted", text="put the red block in the right bin", source="say")
    journal.write("c1", "done", tasks=5)
    journal.close()
    lines = _lines(path)
    assert [(e["id"], e["state"]) for e in lines] == [("c1", "accepted"), ("c1", "done")]
    assert lines[0]["text"] == "put the red block in the right bin"
    assert lines[0]["source"] == "say"
    assert lines[1]["tasks"] == 5
    assert all(isinstance(e["time"], float) for e in lines)
    assert lines[0]["time"] <= lines[1]["time"]
    assert read_journal(path) == lines


def test_each_write_is_on_disk_before_close(path):
    journal = Journal(path)
    journal.write("c1", "accepted", text="go")
    # Flushed on every write: another reader sees it while the journal is open.
    assert [e["id"] for e in read_journal(path)] == ["c1"]
    journal.close()


def test_values_that_are_not_json_are_written_as_text(path):
    journal = Journal(path)
    journal.write("c1", "error", where=Path("/tmp/x"))
    journal.close()
    assert read_journal(path)[0]["where"] == "/tmp/x"


def test_journal_appends_to_an_existing_file(path):
    first = Journal(path)
    first.write("c1", "accepted", text="go")
    first.write("c1", "done")
    first.close()
    second = Journal(path)
    second.write("c2", "rejected", reason="busy")
    second.close()
    assert [(e["id"], e["state"]) for e in _lines(path)] == [
        ("c1", "accepted"),
        ("c1", "done"),
        ("c2", "rejected"),
    ]


def test_parent_directories_and_user_home_are_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    journal = Journal("~/.ros/robot_planner/journal.jsonl")
    journal.write("c1", "accepted", text="go")
    journal.close()
    expected = tmp_path / ".ros" / "robot_planner" / "journal.jsonl"
    assert journal.path == expected
    assert [e["id"] for e in read_journal(expected)] == ["c1"]


def test_read_journal_of_a_missing_file_is_empty(tmp_path):
    assert read_journal(tmp_path / "nope.jsonl") == []


def test_read_journal_skips_a_torn_last_line(path):
    path.write_text(
        '{"id":"c1","state":"accepted","time":1.0,"text":"go"}\n'
        '{"id":"c1","state":"done","time":2.0}\n'
        '{"id":"c2","state":"acc',
        encoding="utf-8",
    )
    assert read_journal(path) == [
        {"id": "c1", "state": "accepted", "time": 1.0, "text": "go"},
        {"id": "c1", "state": "done", "time": 2.0},
    ]


def test_read_journal_skips_lines_that_are_not_entries(path):
    path.write_text(
        "\n".join(
            [
                "[1, 2]",
                '{"state":"done"}',
                '{"id":"c1"}',
                "",
                "garbage",
                '{"id":"c1","state":"accepted","time":1.0}',
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    assert read_journal(path) == [{"id": "c1", "state": "accepted", "time": 1.0}]


def test_unfinished_lists_accepted_commands_without_outcome_in_order():
    entries = [
        {"id": "b", "state": "accepted"},
        {"id": "a", "state": "accepted"},
        {"id": "c", "state": "accepted"},
        {"id": "a", "state": "done"},
        {"id": "x", "state": "rejected"},
        {"id": "c", "state": "task_started"},
    ]
    assert unfinished(entries) == ["b", "c"]


@pytest.mark.parametrize("outcome", ["done", "failed", "cancelled", "error", "interrupted"])
def test_every_outcome_finishes_a_command(outcome):
    assert unfinished([{"id": "a", "state": "accepted"}, {"id": "a", "state": outcome}]) == []


def test_reopening_marks_unfinished_commands_interrupted(path, caplog):
    journal = Journal(path)
    assert journal.interrupted == []
    for command_id in ("c3", "c1", "c2", "c4"):
        journal.write(command_id, "accepted", text=f"command {command_id}")
    journal.write("c1", "done")
    journal.write("c4", "failed", reason="dropped")
    journal.write("c5", "rejected", reason="busy")
    journal.close()
    with caplog.at_level(logging.WARNING, logger="robot_planner.service.journal"):
        reopened = Journal(path)
    reopened.close()
    assert reopened.interrupted == ["c3", "c2"]
    lines = _lines(path)
    marks = [e for e in lines if e["state"] == "interrupted"]
    assert [e["id"] for e in marks] == ["c3", "c2"]
    assert all(e["reason"] for e in marks)
    assert lines[-2:] == marks, "the marks are appended after the old entries"
    assert "2 command(s) were interrupted" in caplog.text
    # A third start finds nothing left to interrupt.
    third = Journal(path)
    third.close()
    assert third.interrupted == []
    assert len(_lines(path)) == len(lines)


def test_reopening_after_a_crash_mid_line_interrupts_and_keeps_appending(path):
    path.write_text(
        '{"id":"c1","state":"accepted","time":1.0,"text":"go"}\n{"id":"c1","sta',
        encoding="utf-8",
    )
    journal = Journal(path)
    journal.write("c2", "accepted", text="next")
    journal.close()
    assert journal.interrupted == ["c1"]
    # The torn line stays unreadable, but the lines written after it must be whole: the
    # interrupted mark and the new command.
    assert [(e["id"], e["state"]) for e in read_journal(path)] == [
        ("c1", "accepted"),
        ("c1", "interrupted"),
        ("c2", "accepted"),
    ]
    reopened = Journal(path)
    reopened.close()
    assert reopened.interrupted == ["c2"], "c1 was already marked; only c2 is open"


def test_first_write_after_a_torn_last_line_is_not_lost(path):
    # A crash mid-line with nothing left open: the next accepted command must be readable.
    path.write_text(
        '{"id":"c1","state":"accepted","time":1.0,"text":"go"}\n'
        '{"id":"c1","state":"done","time":2.0}\n'
        '{"id":"c1","state":"do',
        encoding="utf-8",
    )
    journal = Journal(path)
    assert journal.interrupted == []
    journal.write("c2", "accepted", text="next")
    journal.close()
    assert [(e["id"], e["state"]) for e in read_journal(path)][-1] == ("c2", "accepted")


def test_a_journal_that_cannot_be_created_is_one_line_error(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    with pytest.raises(JournalError) as info:
        Journal(blocker / "sub" / "journal.jsonl")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"cannot open journal {blocker / 'sub' / 'journal.jsonl'}: ")
    assert "Traceback" not in message


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_a_journal_in_a_read_only_directory_is_one_line_error(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(JournalError) as info:
            Journal(locked / "journal.jsonl")
        assert "\n" not in str(info.value)
        assert "Permission denied" in str(info.value)
    finally:
        locked.chmod(0o700)


def test_a_journal_path_that_is_a_directory_is_an_error(tmp_path):
    with pytest.raises(JournalError, match=r"^cannot open journal "):
        Journal(tmp_path)


def test_writing_after_close_logs_instead_of_raising(path, caplog):
    journal = Journal(path)
    journal.close()
    journal.close()  # closing twice is harmless
    with caplog.at_level(logging.ERROR, logger="robot_planner.service.journal"):
        journal.write("c1", "done")
    assert "cannot write journal" in caplog.text
    assert read_journal(path) == []


def test_concurrent_writes_produce_whole_lines(path):
    journal = Journal(path)
    threads, per_thread = 8, 200
    payload = "x" * 3000  # longer than a typical write buffer chunk
    barrier = threading.Barrier(threads)

    def writer(n: int) -> None:
        barrier.wait()
        for i in range(per_thread):
            journal.write(f"t{n}-{i}", "accepted", text=payload, n=n, i=i)

    workers = [threading.Thread(target=writer, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    journal.close()
    lines = _lines(path)  # strict: any interleaved or torn line fails to parse
    assert len(lines) == threads * per_thread
    assert {e["id"] for e in lines} == {
        f"t{n}-{i}" for n in range(threads) for i in range(per_thread)
    }
    assert all(e["text"] == payload for e in lines)
    for n in range(threads):  # each thread's own writes stay in its order
        assert [e["i"] for e in lines if e["n"] == n] == list(range(per_thread))
