"""ASCOM Alpaca errors as flatseq errors: the reserved error numbers and HTTP-level refusals.

Alpaca API Reference, section 2.8: ASCOM errors come back as HTTP 200 with ErrorNumber 0x400-0xFFF;
0x400-0x4FF are reserved meanings, 0x500-0xFFF are the driver's own. The number travels in
`DeviceError.code`, the device's message in `answered`.
"""

from __future__ import annotations

from collections.abc import Mapping

from drivers.errors import DeviceError, InvalidOperation, InvalidValue, NotConnected, NotSupported

ASCOM_ERROR_NAMES: Mapping[int, str] = {
    0x400: "NotImplemented",
    0x401: "InvalidValue",
    0x402: "ValueNotSet",
    0x407: "NotConnected",
    0x408: "InvalidWhileParked",
    0x409: "InvalidWhileSlaved",
    0x40B: "InvalidOperation",
    0x40C: "ActionNotImplemented",
    0x40E: "OperationCancelled",
    0x4FF: "UnspecifiedError",
}

_ASCOM_ERROR_TYPES: Mapping[int, type[DeviceError]] = {
    0x400: NotSupported,
    0x401: InvalidValue,
    0x407: NotConnected,
    0x40B: InvalidOperation,
    0x40C: NotSupported,
}


def ascom_error(device: str, number: int, message: str, *, sent: str) -> DeviceError:
    """The DeviceError subclass for an ASCOM error number, carrying the number and the device's words."""
    kind = _ASCOM_ERROR_TYPES.get(number, DeviceError)
    name = ASCOM_ERROR_NAMES.get(number, "driver error" if number >= 0x500 else "ASCOM error")
    return kind(device, name, sent=sent, answered=message or "(no message)", code=number)


class HttpStatusError(DeviceError):
    """The server refused a request at the HTTP level: 400 (no such device, member or parameter), 500."""

    def __init__(self, device: str, message: str, *, status: int, sent: str, answered: str) -> None:
        self.status = status
        super().__init__(device, message, sent=sent, answered=answered)
