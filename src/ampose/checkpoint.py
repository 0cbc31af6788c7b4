"""Load a trained ampose checkpoint with one call, without the training config.

```python
from ampose.checkpoint import load_model
net = load_model("outputs/.../checkpoints/best.ckpt")   # nn.Module in eval mode, on CPU
pose3d = net(pose2d)                                     # (B, J, 2) -> (B, J, 3), metres
```

What is trusted: the file is read with ``torch.load(weights_only=True)`` (tensors and plain
containers only, no code), and the network is rebuilt from the stored config dict only when each
``_target_`` in it names a network class (an ``nn.Module`` subclass) defined under ``ampose.`` or
``torch.nn.``; a function, a module or anything reached through another module's attributes
(``torch.os.system``) is refused. ``weights_only=False`` lifts the first restriction for files
you trust (e.g. a checkpoint carrying custom objects).
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ampose.lit_module import LiftingModule, instantiate

TRUSTED_TARGETS: tuple[str, ...] = ("ampose.", "torch.nn.")  # network classes only (see _locate_trusted)


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used: corrupt, foreign, or for a different model."""


def _not_a_torch_file(path: Path) -> str | None:
    """Why the file cannot be a ``torch.save`` file (a zip archive, or a pickle in the legacy
    format), from its first bytes; None if it may be one."""
    with path.open("rb") as f:
        head = f.read(64)
    if head.startswith(b"PK\x03\x04") or head[:1] == b"\x80":
        return None
    if not head:
        return "the file is empty (truncated or corrupt)"
    if head.startswith(b"version https://git-lfs"):
        return "it is a Git LFS pointer, not the file itself (run `git lfs pull`)"
    if head.lstrip()[:1] == b"<":
        return "it is an HTML or XML page (a download that returned a web page?)"
    return f"it starts with {head[:16]!r}, neither a zip archive nor a pickle"


def _bad_member(path: Path) -> str | None:
    """The first member of a zip checkpoint whose bytes fail their stored CRC-32, else None.

    torch.load does not check the CRCs, so a file damaged in a copy (its size intact) loads
    with wrong weights and lifts wrong poses without an error. A CRC of 0 is skipped: files
    saved with ``torch.serialization.set_crc32_options(False)`` store no checksums."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        return None  # torch.load says what is wrong with the archive itself
    with zf:
        for info in zf.infolist():
            if info.CRC == 0:
                continue
            try:
                with zf.open(info) as f:  # zipfile compares the CRC at the end of the member
                    while f.read(1 << 24):
                        pass
            except (zipfile.BadZipFile, EOFError):
                return info.filename
    return None


def read_checkpoint(path: str | Path, map_location: Any = "cpu", weights_only: bool = True,
                    mmap: bool = False) -> dict[str, Any]:
    """The raw checkpoint dict, with one-line errors for missing, corrupt and foreign files.
    ``mmap=True`` maps the tensors instead of reading them (for a look at the metadata only)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    not_torch = _not_a_torch_file(path)
    if not_torch:
        raise CheckpointError(f"{path} is not a PyTorch checkpoint: {not_torch}")
    # mmap: a look at the metadata, which must not read every tensor (torch.load fails on a bad pickle)
    bad = None if mmap else _bad_member(path)  # None for a non-zip file too: torch.load says what it is
    if bad:
        raise CheckpointError(f"{path} is corrupt: {bad} fails its checksum (a damaged copy? copy it again)")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=weights_only, mmap=mmap)
    except pickle.UnpicklingError as e:
        if "weights only" in str(e).lower() or "weights_only" in str(e):
            first = str(e).strip().splitlines()[0]
            raise CheckpointError(
                f"{path} holds objects that weights_only loading refuses ({first}); "
                "pass weights_only=False only if you trust the file") from e
        raise CheckpointError(f"{path} is not a readable checkpoint (corrupt?): {e}") from e
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError, KeyError, IndexError) as e:
        raise CheckpointError(f"{path} is not a readable checkpoint (truncated or corrupt): "
                              f"{str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__}") from e
    if not isinstance(ckpt, dict) or "ampose" not in ckpt or "state_dict" not in ckpt:
        keys = sorted(ckpt)[:8] if isinstance(ckpt, dict) else type(ckpt).__name__
        raise CheckpointError(f"{path} is not an ampose checkpoint (no 'ampose' entry; found {keys})")
    return ckpt


def load_lit_module(path: str | Path, map_location: Any = "cpu", weights_only: bool = True) -> LiftingModule:
    """Rebuild the ``LiftingModule`` of a checkpoint (network, options, weights), in eval mode."""
    ckpt = read_checkpoint(path, map_location, weights_only)
    hp = dict(ckpt.get("hyper_parameters") or {})
    net_cfg = hp.pop("net", None)
    if not net_cfg:
        raise CheckpointError(f"{path} was saved with a network passed as a module, not a config; "
                              "rebuild it with LiftingModule.load_from_checkpoint(path, net=...)")
    try:
        net = instantiate(net_cfg, allowed=TRUSTED_TARGETS)
    except (ValueError, ImportError, TypeError) as e:
        raise CheckpointError(f"{path}: cannot rebuild the network from its stored config: {e}") from e
    hp["compile"] = False  # inference copy: compile is the caller's choice
    lit = LiftingModule(net=net, **{k: v for k, v in hp.items() if k != "block"})
    lit.hparams["net"] = net_cfg  # keep the config so that this module can be saved again
    try:
        lit.load_state_dict(ckpt["state_dict"], strict=True)
    except RuntimeError as e:
        raise CheckpointError(f"{path}: weights do not match the stored model configuration: "
                              f"{str(e).splitlines()[0]}") from e
    lit.data_config = ckpt["ampose"].get("data")
    return lit.to(map_location if isinstance(map_location, (str, torch.device)) else "cpu").eval()


def load_ensemble(paths: list[str | Path], map_location: Any = "cpu", weights_only: bool = True,
                  raw: bool = False) -> LiftingModule:
    """One ``LiftingModule`` whose network is the mean of several checkpoints' (``MeanOf``).

    Each member is its checkpoint's evaluation network (its weight average when it kept one;
    ``raw`` takes the trained weights instead). The options (flip, root-relative, ...) and the
    stored data config are the first checkpoint's; the joint counts must agree.
    """
    from ampose.models.ensemble import MeanOf

    if not paths:
        raise CheckpointError("an ensemble needs at least one checkpoint")
    lits = [load_lit_module(p, map_location, weights_only) for p in paths]
    try:
        ensemble = MeanOf(lit.net if raw else lit.eval_net for lit in lits)
    except ValueError as e:
        raise CheckpointError(f"{', '.join(map(str, paths))}: {e}") from None
    lit = lits[0]
    lit.net, lit.net_ema = ensemble, None
    return lit.eval()


def load_model(path: str | Path, map_location: Any = "cpu", weights_only: bool = True) -> nn.Module:
    """The trained network of a checkpoint as a plain ``nn.Module`` in eval mode (its weight
    average when the run kept one, ``model.ema_decay``)."""
    return load_lit_module(path, map_location, weights_only).eval_net.eval()


def config_diff(stored: dict[str, Any], here: dict[str, Any], prefix: str = "") -> str:
    """The settings a checkpoint and this run both name but set differently, as
    "key: A in the checkpoint, B here; ..." ('' when they agree or the checkpoint names none).
    Nested settings are named by their dotted key (``scheduler.T_max``), not shown whole."""
    parts = []
    for k in sorted(here):
        if k not in stored or stored[k] == here[k]:
            continue
        if isinstance(stored[k], dict) and isinstance(here[k], dict):
            parts.append(config_diff(stored[k], here[k], f"{prefix}{k}."))
        else:
            parts.append(f"{prefix}{k}: {stored[k]!r} in the checkpoint, {here[k]!r} here")
    return "; ".join(p for p in parts if p)


# Data settings that say where the files are or how fast they are read, not which samples are
# trained on: a resumed run may change them (data moved, another machine).
DATA_KEYS_FREE_ON_RESUME = frozenset({"root", "num_workers", "eval_batch_size", "pin_memory", "gpu_resident"})


# The module's settings that shape training: a resume restores the optimizer's and the
# scheduler's state over them (a changed lr or a cosine T_max that followed a longer
# trainer.max_epochs would be silently ignored), so they must match.
TRAINING_KEYS = ("optimizer", "scheduler", "warmup_steps", "grad_clip_norm", "loss", "input_noise", "ema_decay")


# Network options added after checkpoints were saved without them, with the value such a checkpoint was
# trained with (the class default) where the config's default differs: a resume across the change would
# otherwise pass the check (a key the checkpoint lacks is not compared) and switch the option mid-run.
NET_KEYS_ADDED: dict[str, Any] = {"bf16_residual": False}


def check_resumable(path: str | Path, net_cfg: dict[str, Any], ema: bool | None = None,
                    data_cfg: dict[str, Any] | None = None, train_cfg: dict[str, Any] | None = None,
                    seed: int | None = None) -> int:
    """Before ``trainer.fit(ckpt_path=path)``: a one-line CheckpointError when the checkpoint's
    network config differs from this run's, or when one keeps a weight average and the other
    does not (``ema``; None: not checked). Lightning would fail deep in ``load_state_dict``.
    With ``data_cfg`` and ``train_cfg`` (a resume), also when the data or the training settings
    (TRAINING_KEYS) differ: a held-out subject left out of the resumed command would silently go
    into training, and a new lr would be overwritten by the restored optimizer; a network option
    the checkpoint predates (NET_KEYS_ADDED) is compared as the value it was trained with; with ``seed``,
    when the checkpoint is another seed's (a sweep re-run in part with ``ckpt_path=last``, whose
    job folders are numbered by position). Returns the checkpoint's global step (where the
    resumed run's log continues)."""
    ckpt = read_checkpoint(path, mmap=True)  # Lightning reads the tensors again for the resume
    stored_hp, meta = ckpt.get("hyper_parameters") or {}, ckpt.get("ampose") or {}
    stored_net = dict(stored_hp.get("net") or {})
    if train_cfg is not None and stored_net:  # a resume: the stream's dtype shapes the training
        stored_net = {**{k: v for k, v in NET_KEYS_ADDED.items() if k in net_cfg}, **stored_net}
    diff = config_diff(stored_net, net_cfg)
    if diff:
        raise CheckpointError(f"{path} was trained with a different model configuration ({diff})")
    stored_data = meta.get("data")
    if data_cfg is not None and isinstance(stored_data, dict):
        diff = config_diff({k: v for k, v in stored_data.items() if k not in DATA_KEYS_FREE_ON_RESUME},
                           {k: v for k, v in data_cfg.items() if k not in DATA_KEYS_FREE_ON_RESUME})
        if diff:
            raise CheckpointError(f"{path} was trained on other data ({diff}); resume with the run's own data "
                                  "options (its .hydra/overrides.yaml)")
    had_ema = any(k.startswith("net_ema.") for k in ckpt["state_dict"])
    if ema is not None and had_ema != ema:
        raise CheckpointError(f"{path} was trained {'with' if had_ema else 'without'} a weight average "
                              f"(model.ema_decay); set model.ema_decay {'as it was' if had_ema else 'to null'} to load it")
    if train_cfg is not None:
        diff = config_diff({k: stored_hp[k] for k in TRAINING_KEYS if k in stored_hp},
                           {k: v for k, v in train_cfg.items() if k in TRAINING_KEYS})
        if diff:
            raise CheckpointError(f"{path} was trained with other training settings ({diff}); a resume restores "
                                  "the optimizer and schedule, so resume with the run's own options (its "
                                  ".hydra/overrides.yaml), or start a new run from its weights with init_ckpt=")
    stored_seed = meta.get("seed")
    if seed is not None and stored_seed is not None and int(stored_seed) != int(seed):
        raise CheckpointError(f"{path} is the checkpoint of seed {stored_seed}, not of seed {seed}: a multirun's job "
                              "folders are numbered by position, so re-run a sweep in part in a folder of its own")
    return int(ckpt.get("global_step", 0))


def init_weights(lit: LiftingModule, path: str | Path) -> int:
    """Start ``lit`` from another run's trained network (fine-tuning, e.g. a GT-2D model on a
    detector's keypoints): its weight average when it kept one, else its weights, go into
    ``lit.net`` and, when ``lit`` keeps an average, into that too. Optimizer, schedule and epoch
    start fresh. A one-line CheckpointError when the networks differ (width, depth, joints, ...).
    Returns the number of tensors loaded."""
    ckpt = read_checkpoint(path)
    # Regularisation may change when fine-tuning: it has no weights of its own.
    here = {k: v for k, v in dict(lit.hparams.get("net") or {}).items() if k not in ("dropout", "drop_path")}
    diff = config_diff((ckpt.get("hyper_parameters") or {}).get("net") or {}, here)
    if diff:
        raise CheckpointError(f"{path} holds a different network ({diff}): "
                              "init_ckpt needs the same model configuration")
    state = ckpt["state_dict"]
    prefix = "net_ema." if any(k.startswith("net_ema.") for k in state) else "net."
    weights = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    try:
        lit.net.load_state_dict(weights, strict=True)
        if lit.net_ema is not None:
            lit.net_ema.load_state_dict(weights, strict=True)
    except RuntimeError as e:
        raise CheckpointError(f"{path}: its weights do not fit this network: {str(e).splitlines()[0]}") from e
    return len(weights)
