"""Cleanup: the safe state first, then what was acquired, newest first; every action runs and failures are
kept, not raised."""

from __future__ import annotations

import threading

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


def test_a_device_action_that_never_returns_is_given_up_on_a_daemon_thread_and_the_rest_still_run() -> None:
    """A frozen server must not hold the run hostage, nor keep the finished process from exiting."""
    done: list[str] = []
    hung = threading.Event()
    seen: list[tuple[str, bool]] = []

    def frozen_panel() -> None:
        seen.append((threading.current_thread().name, threading.current_thread().daemon))
        hung.wait(30)

    cleanup = Cleanup(limit=0.2)
    cleanup.release("disconnect", lambda: done.append("disconnect"), bounded=True)
    cleanup.release("journal", lambda: done.append("journal"))
    cleanup.make_safe("light off", frozen_panel)
    try:
        assert cleanup.run() == ["light off: no answer within 0.2 s; given up"]
    finally:
        hung.set()
    assert seen == [("flatseq-cleanup: light off", True)]
    assert done == ["journal", "disconnect"]


def test_a_released_device_action_is_bounded_too_when_asked() -> None:
    hung = threading.Event()
    cleanup = Cleanup(limit=0.1)
    cleanup.release("disconnect camera", lambda: hung.wait(30), bounded=True)
    try:
        assert cleanup.run() == ["disconnect camera: no answer within 0.1 s; given up"]
    finally:
        hung.set()


def test_a_second_ctrl_c_ends_one_action_not_the_cleanup() -> None:
    done: list[str] = []

    def interrupted() -> None:
        raise KeyboardInterrupt

    cleanup = Cleanup()
    cleanup.release("disconnect", lambda: done.append("disconnect"))
    cleanup.make_safe("light off", interrupted)
    cleanup.make_safe("abort exposure", interrupted, bounded=False)
    assert cleanup.run() == ["abort exposure: interrupted", "light off: interrupted"]
    assert done == ["disconnect"]


def test_local_work_is_never_cut_short_however_long_it_takes() -> None:
    """Frames still being written, the manifest: unbounded unless asked, whatever the device limit."""
    done: list[str] = []

    def slow(what: str) -> None:
        threading.Event().wait(0.3)
        done.append(what)

    cleanup = Cleanup(limit=0.05)
    cleanup.release("frames", lambda: slow("frames"))
    cleanup.attempt("manifest", lambda: slow("manifest"))
    assert cleanup.run() == []
    assert done == ["manifest", "frames"]
