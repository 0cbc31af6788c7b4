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
