"""Every complete `ampose-train` / `ampose-eval` command printed in the docs still composes.

The experiment READMEs hold the commands that made the results of record, and the configs'
comments the commands users copy; a renamed key or config group must not leave them behind. Lines
that continue an earlier one (`ampose-train ... KEY=VALUE`) or hold shell variables are skipped.
README.md's one-line training commands are also checked in test_configs.py.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from omegaconf import OmegaConf

ROOT = Path(__file__).resolve().parents[1]
FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "experiments").rglob("*.md")),
         *sorted((ROOT / "conf").rglob("*.yaml"))]
COMMAND = re.compile(r"(?<![\w-])ampose-(train|eval) ")
OPTIONAL_PLUGINS = ("hydra/launcher", "hydra.launcher", "hydra/sweeper", "hydra.sweeper")  # ampose[launchers]


def _first_value(override: str) -> str:
    """A multirun's sweep "k=a,b" (or "k=[a],[b]") -> its first job, "k=a"."""
    key, _, value = override.partition("=")
    depth = 0
    for i, ch in enumerate(value):
        depth += (ch == "[") - (ch == "]")
        if ch == "," and depth == 0:
            return f"{key}={value[:i]}"
    return override


def _commands() -> list[tuple[str, str, list[str]]]:
    """(where, train|eval, overrides) of every complete command in FILES."""
    out, seen = [], set()
    for path in FILES:
        lines = path.read_text().splitlines()
        for i, line in enumerate(lines):
            for match in COMMAND.finditer(line):
                text = line[match.end():]
                if line[:match.start()].count("`") % 2:  # inline code: up to its closing backtick
                    text = text.split("`")[0]
                j = i
                while text.rstrip().endswith("\\") and j + 1 < len(lines):
                    j += 1
                    text = text.rstrip()[:-1] + " " + lines[j].lstrip("# ")
                text = re.split(r"\s+#", text)[0]
                try:
                    words = shlex.split(text)
                except ValueError:
                    continue
                if not words or any(w == "..." or "$" in w or "<" in w or w == "&" for w in words):
                    continue  # a continuation of the command before, or a shell template
                words = [w[1:-1] if re.fullmatch(r"\[[\w./+-]+=[^\]]*\]", w) else w for w in words]  # [seed=2]
                if not all("=" in w or w == "-m" for w in words):
                    continue  # prose that names the command
                overrides = [_first_value(re.sub(r"\[_\w+\]", "", w)) for w in words
                             if w != "-m" and not w.startswith(OPTIONAL_PLUGINS)]
                if (match.group(1), tuple(overrides)) not in seen:  # the same command again: composed once
                    seen.add((match.group(1), tuple(overrides)))
                    out.append((f"{path.relative_to(ROOT)}:{i + 1}", match.group(1), overrides))
    return out


COMMANDS = _commands()


def test_the_docs_hold_commands():
    assert sum(kind == "train" for _, kind, _ in COMMANDS) > 50 and sum(kind == "eval" for _, kind, _ in COMMANDS) > 20


@pytest.mark.parametrize("where, kind, overrides", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_doc_command_composes(where, kind, overrides, tmp_path):
    from ampose.eval import data_field_overrides
    from ampose.train import compose_config, composition_error

    if kind == "eval":
        overrides = data_field_overrides(overrides)
    try:
        cfg = compose_config(kind, overrides, output_dir=tmp_path)
    except Exception:  # noqa: BLE001 - Hydra's message, in one line
        pytest.fail(f"{where}: {composition_error(kind, overrides)} ({' '.join(overrides)})")
    data = cfg.get("data")
    if kind == "train":  # a required value left out stops the run at its start (e.g. data.root)
        assert not OmegaConf.is_missing(cfg.data, "root"), (where, "data.root is required")
    elif data is not None and data.get("dataset") == "mpi_3dhp" and data.get("test_file"):
        # a relative test_file is read in data.root; without a root, in the synthetic cache
        assert Path(data.test_file).is_absolute() or data.get("root"), (where, "data.root is needed")
