"""The error hierarchy: every error a user can cause or must see is a `FlatseqError` with one clear message.

The CLI prints `str(error)` and exits non-zero; it never shows a traceback for these.
"""

from __future__ import annotations


def quoted(value: object, limit: int = 40) -> str:
    """A value as a message quotes it: its repr, cut short and its length given when long, so a 5000-digit
    number or a megabyte of text from a file is never printed whole."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: max(limit - 20, 8)]}... ({len(text)} characters)"


class FlatseqError(Exception):
    """Root of flatseq's own errors."""


class ConfigError(FlatseqError):
    """Bad input: a sequence file, an equipment URL, a command-line option."""


class UnknownScheme(ConfigError):
    """An equipment URL whose scheme no driver handles."""


class DeviceError(FlatseqError):
    """A device refused, failed or answered something unexpected.

    Carries the device's name, what was sent and what came back, so the message says all three.
    """

    def __init__(
        self,
        device: str,
        message: str,
        *,
        sent: str | None = None,
        answered: str | None = None,
        code: int | None = None,
    ) -> None:
        self.device = device
        self.message = message
        self.sent = sent
        self.answered = answered
        self.code = code
        super().__init__(self._render())

    def _render(self) -> str:
        text = f"{self.device}: {self.message}"
        if self.code is not None:
            text += f" (error 0x{self.code:X})"
        if self.sent is not None:
            text += f"; sent {self.sent!r}"
            if self.answered is None:
                text += ", nothing came back"
        if self.answered is not None:
            text += f"; answered {self.answered!r}"
        return text


class DeviceTimeout(DeviceError):
    """A device did not answer, or an operation did not finish, within its time limit."""


class DeviceDisconnected(DeviceError):
    """The device went away (cable pulled, server down, emulator closed its end)."""


class NotConnected(DeviceError):
    """A call needs a connected device and this one is not connected."""


class InvalidValue(DeviceError):
    """The device rejected a value as out of range or not applicable."""


class NotSupported(DeviceError):
    """The device does not have this capability (e.g. a cover on a Flat-Man)."""


class InvalidOperation(DeviceError):
    """The operation is not allowed in the device's current state (e.g. light with a Flip-Flat open)."""
