"""Cleanup: the safe state first, then what was acquired, newest first; every action runs and failures are
kept, not raised."""

from __future__ import annotations

from sequencer.run.cleanup import Cleanup


def test_safe_state_first_then_newest_acquired_first() -> None:
    done: list[str] = []
    cleanup = Cleanup()
    cleanup.release("disconnect", lambda: done.append("disconnect"))
    cleanup.make_safe("light off", lambda: done.append("light off"))
    cleanup.make_safe("abort exposure", lambda: done.append("abort exposure"))
    cleanup.release("journal", lambda: done.append("journal"))
    cleanup.release("writer", lambda: done.append("writer"))
    assert cleanup.run() == []
    assert done == ["abort exposure", "light off", "writer", "journal", "disconnect"]


def test_a_failing_action_does_not_stop_the_others_and_is_reported_once() -> None:
    done: list[str] = []

    def dead_panel() -> None:
        raise OSError("no reply from the panel")

    cleanup = Cleanup()
    cleanup.release("disconnect", lambda: done.append("disconnect"))
    cleanup.make_safe("light off", dead_panel)
    cleanup.make_safe("abort exposure", lambda: done.append("abort"))
    assert cleanup.run() == ["light off: no reply from the panel"]
    assert done == ["abort", "disconnect"]
    assert cleanup.run() == ["light off: no reply from the panel"]  # a second run does nothing again
    assert done == ["abort", "disconnect"]
