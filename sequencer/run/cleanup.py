"""Undoing what a run acquired, however it ends: each action registered the moment its resource is acquired.

Two kinds, as the field notes rank them: the safe state (exposure aborted, panel light off) comes first, then
everything else is released newest first (frames written, manifest final, journal closed, devices
disconnected). Every action runs whatever the others do; a failure is kept as a problem, never raised, so
one dead device cannot stop the light from being switched off or the manifest from being finished.
"""

from __future__ import annotations

from collections.abc import Callable

Action = Callable[[], object]


class Cleanup:
    """Registered undo actions and the problems met running them."""

    def __init__(self) -> None:
        self._safe: list[tuple[str, Action]] = []
        self._release: list[tuple[str, Action]] = []
        self.problems: list[str] = []
        self.done = False

    def make_safe(self, what: str, action: Action) -> None:
        """Run `action` before anything is released; the newest registered runs first."""
        self._safe.append((what, action))

    def release(self, what: str, action: Action) -> None:
        """Run `action` once the equipment is safe; the newest registered runs first."""
        self._release.append((what, action))

    def attempt(self, what: str, action: Action) -> bool:
        """Run one action now; a failure becomes a problem ("what: message"). Returns whether it worked."""
        try:
            action()
        except Exception as exc:
            self.problems.append(f"{what}: {exc}")
            return False
        return True

    def run(self) -> list[str]:
        """Run every action once, safe state first; returns the problems."""
        if not self.done:
            self.done = True
            for what, action in [*reversed(self._safe), *reversed(self._release)]:
                self.attempt(what, action)
        return self.problems
