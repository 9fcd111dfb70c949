"""A person at a real pseudo-terminal: reads flatseq's prompts from the pty's master side, does what each asks
(or not: a script says), and presses Enter. The run sees a real terminal on the other side (`Terminal` on the
slave), as it would with a user at the keyboard; nothing is mocked."""

from __future__ import annotations

import os
import pty
import re
import select
import threading
from collections.abc import Callable
from types import TracebackType

from sequencer.run.terminal import Terminal

PROMPT = re.compile(r">>> (?:\[(?P<where>[^\]]*)\] )?(?P<text>[^\n]*?, then press Enter): ")
Action = Callable[[str], bool]
"""Given a prompt's text, does what the person does, and says whether to press Enter."""


class PtyUser:
    """A pseudo-terminal with a person reading it on a thread; `terminal` is what the run asks at."""

    def __init__(self, act: Action, timeout: float = 30.0) -> None:
        self.master, self.slave = pty.openpty()
        self.output = os.fdopen(os.dup(self.slave), "w", encoding="utf-8")
        self.terminal = Terminal(self.slave, self.output)
        self.act = act
        self.timeout = timeout
        self.prompts: list[tuple[str, str]] = []
        """(where, text) of every prompt seen, in order."""
        self.seen = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name="pty user", daemon=True)

    def __enter__(self) -> PtyUser:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join(self.timeout)
        self.output.close()
        os.close(self.slave)
        os.close(self.master)

    def _read(self) -> None:
        pending = ""
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if not ready:
                continue
            try:
                chunk = os.read(self.master, 4096).decode("utf-8", "replace")
            except OSError:
                return
            self.seen += chunk
            pending += chunk
            while (match := PROMPT.search(pending)) is not None:
                pending = pending[match.end() :]
                where, text = match.group("where") or "", match.group("text")
                self.prompts.append((where, text))
                if self.act(text):
                    os.write(self.master, b"\r")
