"""Files written atomically: a crash mid-write leaves the previous file (or none), never half of one."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path
from typing import Any, BinaryIO, Callable

import numpy as np


def write_atomic(path: str | Path, write: Callable[[BinaryIO], Any]) -> Path:
    """Call ``write(f)`` on a temporary file beside ``path``, then rename it over ``path``.

    The folder is created if needed. The temporary file is removed if anything fails, an
    interrupt included; the rename is atomic on one filesystem, hence "beside".
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide results from the rest of a group
        try:
            os.replace(tmp, path)
        except OSError as e:  # name the file the user asked for, not the temporary one
            if e.errno is None or e.strerror is None:
                raise
            raise OSError(e.errno, e.strerror, str(path)) from e
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text_atomic(path: str | Path, text: str) -> Path:
    """``text`` as UTF-8, verbatim (CSV rows end in \\r\\n by design)."""
    return write_atomic(path, lambda f: f.write(text.encode("utf-8")))


def save_npy_atomic(path: str | Path, array: np.ndarray) -> Path:
    """``np.save`` to exactly ``path`` (no ``.npy`` appended)."""
    return write_atomic(path, lambda f: np.save(f, array))


def savez_atomic(path: str | Path, **arrays: Any) -> Path:
    """``np.savez_compressed`` to exactly ``path`` (no ``.npz`` appended)."""
    return write_atomic(path, lambda f: np.savez_compressed(f, **arrays))


def describe_error(e: BaseException) -> str:
    """An error as one line for a command's ``error:`` message; an OSError says what and where
    (not "[Errno 17] ..."), and a file standing where a folder is needed is said as such."""
    if isinstance(e, OSError) and e.strerror and e.filename:
        message = f"{e.strerror}: {e.filename}"
        if e.errno in (errno.EEXIST, errno.ENOTDIR):
            message += " (a file stands where the output needs a folder)"
        return message
    return str(e)
