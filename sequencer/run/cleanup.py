"""Undoing what a run acquired, however it ends: each action registered the moment its resource is acquired.

Two kinds, as the field notes rank them: the safe state (exposure aborted, panel light off) comes first, then
everything else is released newest first (frames written, manifest final, journal closed, devices
disconnected). Every action runs whatever the others do; a failure is kept as a problem, never raised, so
one dead device cannot stop the light from being switched off or the manifest from being finished.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

Action = Callable[[], object]

DEVICE_ACTION_SECONDS = 20.0
"""The longest a device action of the cleanup may take (a frozen server, a hung driver) before the cleanup
moves on without it: a run stopped by Ctrl-C must end, and say what it could not do."""


@dataclass(frozen=True)
class _Entry:
    what: str
    action: Action
    bounded: bool


class Cleanup:
    """Registered undo actions and the problems met running them.

    Device actions (`bounded=True`) each get at most `limit` seconds of real time, on a helper thread, so a
    device that never answers cannot hold the run hostage; local work (files, the manifest) always finishes.
    A KeyboardInterrupt (a second Ctrl-C) during one action ends that action, not the cleanup.
    """

    def __init__(self, limit: float = DEVICE_ACTION_SECONDS) -> None:
        self._safe: list[_Entry] = []
        self._release: list[_Entry] = []
        self.limit = limit
        self.problems: list[str] = []
        self.done = False

    def make_safe(self, what: str, action: Action, *, bounded: bool = True) -> None:
        """Run `action` before anything is released; the newest registered runs first."""
        self._safe.append(_Entry(what, action, bounded))

    def release(self, what: str, action: Action, *, bounded: bool = False) -> None:
        """Run `action` once the equipment is safe; the newest registered runs first."""
        self._release.append(_Entry(what, action, bounded))

    def attempt(self, what: str, action: Action, *, bounded: bool = False) -> None:
        """Run one action now; a failure becomes a problem ("what: message")."""
        try:
            if bounded:
                self._within_limit(what, action)
            else:
                action()
        except KeyboardInterrupt:
            self.problems.append(f"{what}: interrupted")
        except Exception as exc:
            self.problems.append(f"{what}: {exc}")

    def run(self) -> list[str]:
        """Run every action once, safe state first; returns the problems."""
        if not self.done:
            self.done = True
            for entry in [*reversed(self._safe), *reversed(self._release)]:
                self.attempt(entry.what, entry.action, bounded=entry.bounded)
        return self.problems

    def _within_limit(self, what: str, action: Action) -> None:
        """`action` on a daemon thread, waited for at most `limit` seconds; its exception re-raised here."""
        done = threading.Event()
        failure: list[BaseException] = []

        def target() -> None:
            try:
                action()
            except BaseException as exc:  # carried to the caller's thread
                failure.append(exc)
            finally:
                done.set()

        threading.Thread(target=target, name=f"flatseq-cleanup: {what}", daemon=True).start()
        if not done.wait(self.limit):
            raise TimeoutError(f"no answer within {self.limit:g} s; given up")
        if failure:
            raise failure[0]
