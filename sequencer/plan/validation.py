"""pydantic's validation errors as a sequence file's users need them: file:line:column: field: message."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from sequencer.plan.loader import Located, SequenceFileError, dotted
from sequencer.plan.schema import STEP_KINDS, FlatSetModel, SequenceModel

_M = TypeVar("_M", bound=BaseModel)


def validate(located: Located, model: type[_M], data: Any, base: tuple[str | int, ...]) -> _M:
    """pydantic validation with the first error turned into file:line:column: field: message."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _first_error(located, exc, base) from None


def _first_error(located: Located, exc: ValidationError, base: tuple[str | int, ...]) -> SequenceFileError:
    err = exc.errors(include_url=False)[0]
    loc = (*base, *err["loc"])
    known = _known_prefix(located, loc)
    kind = err["type"]
    message = str(err["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if kind == "extra_forbidden":
        key = loc[len(known)] if len(loc) > len(known) else loc[-1]
        line, col = located.where((*known, key)) if (*known, key) in located.marks else located.where(known)
        allowed = _allowed_keys(model_at(exc), loc)
        hint = f" (expected one of: {', '.join(allowed)})" if allowed else ""
        return SequenceFileError(located.file, line, col, f"{dotted(loc)}: unknown key{hint}")
    if kind == "missing":
        line, col = located.where(known)
        return SequenceFileError(located.file, line, col, f"{dotted(loc)}: missing required key")
    line, col = located.where(known, value=True)
    value = err.get("input")
    shown = f" (got {value!r})" if kind.endswith(("_type", "_parsing")) and not isinstance(value, dict | list) else ""
    return SequenceFileError(located.file, line, col, f"{dotted(known) if known else dotted(loc)}: {message}{shown}")


def model_at(exc: ValidationError) -> str:
    return exc.title


def _allowed_keys(title: str, loc: Sequence[str | int]) -> list[str]:
    """Keys the model at `loc` accepts, for "unknown key" hints."""
    candidates: list[type[BaseModel]] = [SequenceModel, FlatSetModel, *STEP_KINDS.values()]
    model: Any = {m.__name__: m for m in candidates}.get(title)
    if model is None:
        return []
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        fld = model.model_fields.get(part) if hasattr(model, "model_fields") else None
        if fld is None:
            return []
        ann = fld.annotation
        inner = [a for a in getattr(ann, "__args__", (ann,)) if isinstance(a, type) and issubclass(a, BaseModel)]
        if not inner:
            # list[FlatSetModel] | None
            for a in getattr(ann, "__args__", ()):
                inner += [b for b in getattr(a, "__args__", ()) if isinstance(b, type) and issubclass(b, BaseModel)]
        if not inner:
            return []
        model = inner[0]
    return list(model.model_fields)


def _known_prefix(located: Located, loc: Sequence[str | int]) -> tuple[str | int, ...]:
    key = tuple(loc)
    while key and key not in located.marks:
        key = key[:-1]
    return key
