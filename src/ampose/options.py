"""Command-line option values read strictly: a typo is an error, never a silent default."""

from __future__ import annotations

from typing import Any

_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


def as_bool(value: Any, name: str) -> bool:
    """``true``/``false`` (also yes/no, on/off, 1/0, any case) or a bool; anything else is a
    ``ValueError`` that names the option (Hydra passes ``flip_test=no`` on as the string "no")."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{name} must be true or false, got {value!r}")


def check_number(value: Any, name: str, kind: type, minimum: float | None = None, nullable: bool = False) -> None:
    """A config number checked before any work: ``kind`` (int or float; an int is a float too,
    a bool is neither), at least ``minimum``, null only if ``nullable``. A ValueError names it."""
    if value is None and nullable:
        return
    ok = (not isinstance(value, bool) and isinstance(value, (int, float) if kind is float else int)
          and value == value)  # noqa: PLR0124 (NaN is not a number a config wants)
    if not ok or (minimum is not None and value < minimum):
        what = "a whole number" if kind is int else "a number"
        bound = f" >= {minimum:g}" if minimum is not None else ""
        raise ValueError(f"{name} must be {what}{bound}{' or null' if nullable else ''}, got {value!r}")
