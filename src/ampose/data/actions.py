"""The 15 Human3.6M actions and the mapping from sequence keys ("Sitting 1") to their index.

Results are reported action-wise, so the grouping must be exact: the key's first word is
matched whole, so "Sitting" never swallows "SittingDown".
"""

from __future__ import annotations

ACTIONS: tuple[str, ...] = (
    "Directions", "Discussion", "Eating", "Greeting", "Phoning", "Photo", "Posing", "Purchases",
    "Sitting", "SittingDown", "Smoking", "Waiting", "WalkDog", "Walking", "WalkTogether",
)

# Names used by the original release and some converters, mapped to the field's names.
ALIASES: dict[str, str] = {"TakingPhoto": "Photo", "WalkingDog": "WalkDog"}

_INDEX = {name: i for i, name in enumerate(ACTIONS)}


def canonical_name(key: str) -> str:
    """Canonical action name of a sequence key such as "WalkingDog 1" -> "WalkDog"."""
    words = key.strip().split()
    first = words[0] if words else ""
    first = ALIASES.get(first, first)
    if first not in _INDEX:
        raise KeyError(f"unknown Human3.6M action {key!r}; expected one of {', '.join(ACTIONS)}")
    return first


def canonical_action(key: str) -> int:
    """Index into ACTIONS of a sequence key (first word, exact match, aliases applied)."""
    return _INDEX[canonical_name(key)]
