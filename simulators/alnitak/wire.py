"""What travels between the emulator and its clients, and how the fault modes corrupt it.

Commands are framed the liberal way a fixed-length firmware reader frames them; replies get the
configured terminator; a `FaultPlan` picks which commands are swallowed, garbled, delayed or cut off.
"""

from __future__ import annotations

import enum
import os
import random
import socket
from dataclasses import dataclass

REPLY_ENDINGS: dict[str, bytes] = {"lf": b"\n", "crlf": b"\r\n", "cr": b"\r"}


class Fault(enum.Enum):
    NONE = "none"
    SILENT = "silent"
    GARBAGE = "garbage"
    SLOW = "slow"
    DISCONNECT = "disconnect"


@dataclass(frozen=True)
class FaultPlan:
    """Which commands misbehave: the first `after` are served normally, then `count` (None: all) are
    faulted. DISCONNECT closes the port instead of serving command `after` + 1."""

    mode: Fault = Fault.NONE
    after: int = 0
    count: int | None = None
    delay: float = 1.0
    """SLOW: wall-clock seconds before each reply."""

    def applies(self, index: int) -> bool:
        """Whether the `index`-th command (1-based, counted from when the plan was set) is faulted."""
        if self.mode is Fault.NONE or index <= self.after:
            return False
        return self.count is None or index <= self.after + self.count


class Channel:
    """One client connection: the pty master or an accepted TCP socket."""

    def __init__(self, kind: str, fd: int, sock: socket.socket | None = None) -> None:
        self.kind = kind
        self.fd = fd
        self.sock = sock
        self.buffer = bytearray()
        self.closed = False

    def read(self) -> bytes | None:
        """Available bytes; b"" means the other end is gone, None that nothing was there after all."""
        try:
            if self.sock is not None:
                return self.sock.recv(4096)
            return os.read(self.fd, 4096)
        except (BlockingIOError, InterruptedError):
            return None
        except OSError:
            return b""

    def write(self, data: bytes) -> None:
        if self.closed:
            return
        try:
            if self.sock is not None:
                self.sock.send(data)
            else:
                os.write(self.fd, data)
        except OSError:
            pass  # nobody listening, or the client went away: a real UART just drops the bytes


def take_commands(buffer: bytearray) -> list[str]:
    """Take every complete command out of `buffer`: `>` + letter + 3 characters, however terminated.

    Bytes before a `>` (terminators, noise) are dropped; a command cut short by a CR or LF is dropped
    up to that terminator, as the firmware's fixed-length reader would.
    """
    found: list[str] = []
    while True:
        start = buffer.find(b">")
        if start < 0:
            del buffer[:]
            return found
        del buffer[:start]
        if len(buffer) < 5:
            return found
        frame = bytes(buffer[:5])
        cut = next((i for i, b in enumerate(frame) if b in b"\r\n"), None)
        if cut is not None:
            del buffer[: cut + 1]
            continue
        del buffer[:5]
        found.append(frame.decode("latin-1"))


def garbage(rng: random.Random, command: str, product: int, eol: str) -> bytes:
    """Line noise or a wrong reply, never a valid answer to `command`."""
    pid = f"{product:02d}"
    kind = rng.randrange(3)
    if kind == 0:
        return bytes(rng.choice(b"\x00\x7f\xfe*>#?!%0123456789ABCDEFGHIJ") for _ in range(9)) + b"\n"
    if kind == 1:
        other = rng.choice([c for c in "POCLDBJSV" if c != command[1]])
        return f"*{other}{pid}000".encode("ascii") + REPLY_ENDINGS[eol]
    return f"*{command[1]}{pid[0]}".encode("ascii") + REPLY_ENDINGS[eol]  # cut short
