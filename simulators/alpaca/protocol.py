"""The Alpaca protocol rules the simulator's server enforces, apart from HTTP plumbing and devices.

Alpaca API Reference, sections 2.1-2.8: GET parameters come in the query string with names in any
case; PUT parameters come in the form body cased exactly as the API defines them (a wrongly cased
name is simply absent, so a required one gives 400 and a ClientTransactionID is echoed as 0).
Malformed requests (unknown device or member, wrong HTTP method, missing or unparseable parameter,
bad ClientID/ClientTransactionID) get HTTP 400 with a text body; ASCOM errors get HTTP 200 with
ErrorNumber and ErrorMessage. Numbers are parsed as ASCII decimal text of bounded length, so no value a
client sends (a 5000-digit ClientID) makes Python's int() raise where a 400 is due.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from drivers.base import Frame
from drivers.errors import DeviceError, InvalidOperation, InvalidValue, NotConnected, NotSupported, quoted

NOT_IMPLEMENTED = 0x400
INVALID_VALUE = 0x401
VALUE_NOT_SET = 0x402
NOT_CONNECTED = 0x407
INVALID_OPERATION = 0x40B
ACTION_NOT_IMPLEMENTED = 0x40C
DRIVER_ERROR = 0x500

UINT32_MAX = 0xFFFFFFFF
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
_DIGITS = re.compile(r"[0-9]+")
_INTEGER = re.compile(r"[-+]?[0-9]+")
_NUMBER = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
"""ASCII only: Python's int() and float() also take '²', '١٢' and '1_000', which no Alpaca client sends."""


class AlpacaError(Exception):
    """An ASCOM error: answered with HTTP 200 and this ErrorNumber / ErrorMessage."""

    def __init__(self, number: int, message: str) -> None:
        super().__init__(message)
        self.number = number
        self.message = message


def not_implemented(what: str) -> AlpacaError:
    return AlpacaError(NOT_IMPLEMENTED, f"{what} is not implemented by this device")


def from_device_error(exc: DeviceError) -> AlpacaError:
    """A simulated device's refusal, in ASCOM terms."""
    if isinstance(exc, InvalidValue):
        number = INVALID_VALUE
    elif isinstance(exc, NotSupported):
        number = NOT_IMPLEMENTED
    elif isinstance(exc, NotConnected):
        number = NOT_CONNECTED
    elif isinstance(exc, InvalidOperation):
        number = INVALID_OPERATION
    else:
        number = DRIVER_ERROR
    return AlpacaError(number, str(exc))


class BadRequest(Exception):
    """A malformed request: answered with HTTP 400 and this text."""


# ---- parameter types --------------------------------------------------------------------------


def parse_bool(name: str, text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    raise BadRequest(f"parameter {name}={text!r} is not a boolean (true or false)")


def parse_int(name: str, text: str) -> int:
    stripped = text.strip()
    if not _INTEGER.fullmatch(stripped):
        raise BadRequest(f"parameter {name}={quoted(text)} is not an integer")
    value = int(stripped) if len(stripped) <= 12 else INT32_MAX + 1
    if not INT32_MIN <= value <= INT32_MAX:
        raise BadRequest(f"parameter {name}={quoted(text)} is outside the 32-bit integer range")
    return value


def parse_float(name: str, text: str) -> float:
    stripped = text.strip()
    if not _NUMBER.fullmatch(stripped):
        raise BadRequest(f"parameter {name}={quoted(text)} is not a number (use '.' as decimal point)")
    value = float(stripped)
    if not math.isfinite(value):
        raise BadRequest(f"parameter {name}={quoted(text)} is not a finite number")
    return value


def parse_str(name: str, text: str) -> str:
    return text


def parse_uint32(name: str, text: str) -> int:
    stripped = text.strip()
    if not _DIGITS.fullmatch(stripped) or len(stripped) > 10 or int(stripped) > UINT32_MAX:
        raise BadRequest(f"{name}={quoted(text)} is not an unsigned 32-bit integer")
    return int(stripped)


@dataclass(frozen=True)
class Param:
    """A member's parameter: exact name (as the API defines it) and parser."""

    name: str
    parse: Callable[[str, str], Any]


def Int(name: str) -> Param:  # noqa: N802 - reads as a type in member tables
    return Param(name, parse_int)


def Float(name: str) -> Param:  # noqa: N802
    return Param(name, parse_float)


def Bool(name: str) -> Param:  # noqa: N802
    return Param(name, parse_bool)


def Str(name: str) -> Param:  # noqa: N802
    return Param(name, parse_str)


@dataclass(frozen=True)
class Member:
    """One device member for one HTTP method: its parameters and what it does."""

    handler: Callable[..., Any]
    params: tuple[Param, ...] = ()
    needs_connection: bool = True


Members = dict[tuple[str, str], Member]
"""(HTTP method, lower-case member name) -> Member."""


@dataclass(frozen=True)
class ImageValue:
    """A member value that is an image: sent as ImageBytes or JSON as the client accepts."""

    frame: Frame


@dataclass
class Request:
    """A parsed Alpaca device request."""

    method: str
    device_type: str
    device_number: int
    member: str
    raw: Mapping[str, str]
    client_id: int = 0
    client_transaction_id: int = 0
    accept_imagebytes: bool = False
    values: dict[str, Any] = field(default_factory=dict)


def lookup(raw: Mapping[str, str], name: str, *, exact_case: bool) -> str | None:
    """A parameter's text: any casing for GET (query), exact casing for PUT (form body)."""
    if exact_case:
        return raw.get(name)
    wanted = name.lower()
    for key, value in raw.items():
        if key.lower() == wanted:
            return value
    return None


def client_ids(raw: Mapping[str, str], *, exact_case: bool) -> tuple[int, int]:
    """ClientID and ClientTransactionID: 0 when absent, 400 when present but not a uint32."""
    ids = []
    for name in ("ClientID", "ClientTransactionID"):
        text = lookup(raw, name, exact_case=exact_case)
        ids.append(0 if text is None else parse_uint32(name, text))
    return ids[0], ids[1]


def bind(member: Member, raw: Mapping[str, str], *, exact_case: bool) -> dict[str, Any]:
    """The member's parameters parsed from the request; 400 when one is missing or malformed."""
    values: dict[str, Any] = {}
    for param in member.params:
        text = lookup(raw, param.name, exact_case=exact_case)
        if text is None:
            raise BadRequest(f"missing parameter {param.name}")
        values[param.name] = param.parse(param.name, text)
    return values


def envelope(
    value: Any, *, client_transaction_id: int, server_transaction_id: int, error: AlpacaError | None = None
) -> dict[str, Any]:
    """The JSON body every 200 answer carries (Value omitted for methods that return nothing)."""
    body: dict[str, Any] = {}
    if error is None and value is not None:
        body["Value"] = _jsonable(value)
    body["ClientTransactionID"] = client_transaction_id
    body["ServerTransactionID"] = server_transaction_id
    body["ErrorNumber"] = 0 if error is None else error.number
    body["ErrorMessage"] = "" if error is None else error.message
    return body


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    return value


class AlpacaDevice(Protocol):
    """A device the server presents: its identity and member table."""

    device_type: str
    """Lower-case path element: camera, covercalibrator, filterwheel."""
    device_number: int
    display_type: str
    """ConfiguredDevices DeviceType: Camera, CoverCalibrator, FilterWheel."""

    @property
    def name(self) -> str: ...

    def members(self) -> Members: ...

    def is_connected(self) -> bool: ...
