"""LiftingModule: the training system around any lifting network (loss, metrics, optimizer, schedule).

The network stays a plain ``nn.Module``; it is either passed in, or built from a config dict
(``{"_target_": "ampose.models.AMPose", ...}``). Only the config dict is stored in the
hyper-parameters, so a checkpoint alone rebuilds the network (see ``ampose.checkpoint``).
Nothing here needs Hydra: configs are plain dicts, built by :func:`instantiate`.
"""

from __future__ import annotations

import copy
import functools
import importlib
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics import MinMetric

from ampose.data.actions import ACTIONS
from ampose.data.skeleton import skeleton_for
from ampose.metrics import SCENES, PoseMetrics

Config = Mapping[str, Any]

DEFAULT_OPTIMIZER: dict[str, Any] = {"_target_": "torch.optim.Adam", "_partial_": True, "lr": 2.5e-5}
DEFAULT_SCHEDULER: dict[str, Any] = {
    "_target_": "torch.optim.lr_scheduler.ExponentialLR", "_partial_": True, "gamma": 0.98,
}


def to_plain(cfg: Any) -> Any:
    """An OmegaConf node (or anything) as plain dicts/lists, resolved; other values unchanged."""
    try:
        from omegaconf import DictConfig, ListConfig, OmegaConf
    except ImportError:  # the GPU machine may lack omegaconf
        return cfg
    if isinstance(cfg, (DictConfig, ListConfig)):
        return OmegaConf.to_container(cfg, resolve=True)
    return cfg


def _locate_trusted(path: str, allowed: tuple[str, ...]) -> type:
    """``path`` as a network class (an ``nn.Module`` subclass) defined under ``allowed``: the one
    object a stored config may name. No attribute walking: ``torch.os.system`` or
    ``ampose.models.torch.load`` would reach code that is not a network."""
    refuse = f"refusing to build {path!r}: only network classes (nn.Module) defined under {allowed} are trusted"
    module, _, name = path.rpartition(".")
    if not module or not path.startswith(allowed):
        raise ValueError(refuse)
    try:
        obj = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as e:
        raise ValueError(f"{refuse} ({type(e).__name__}: {e})") from e
    if not (isinstance(obj, type) and issubclass(obj, nn.Module) and obj.__module__.startswith(allowed)):
        raise ValueError(refuse)
    return obj


def _locate(path: str, allowed: tuple[str, ...] | None) -> Callable[..., Any]:
    if allowed is not None:
        return _locate_trusted(path, allowed)
    module, _, name = path.rpartition(".")
    try:
        obj: Any = importlib.import_module(module)
        return getattr(obj, name)
    except (ImportError, AttributeError, ValueError):
        pass
    # nested attribute (e.g. a class attribute): import the longest importable prefix
    parts = path.split(".")
    for i in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for part in parts[i:]:
            obj = getattr(obj, part)
        return obj
    raise ImportError(f"cannot import {path!r}")


def instantiate(cfg: Any, *args: Any, allowed: tuple[str, ...] | None = None, **kwargs: Any) -> Any:
    """A small, Hydra-compatible ``instantiate`` for plain dicts (``_target_``, ``_partial_``,
    ``_args_``), recursive. ``allowed`` restricts targets to trusted module prefixes."""
    cfg = to_plain(cfg)
    if isinstance(cfg, list):
        return [instantiate(c, allowed=allowed) for c in cfg]
    if not isinstance(cfg, Mapping):
        return cfg
    if "_target_" not in cfg:
        return {k: instantiate(v, allowed=allowed) for k, v in cfg.items()}
    target = _locate(cfg["_target_"], allowed)
    params = {k: instantiate(v, allowed=allowed) for k, v in cfg.items() if not k.startswith("_")}
    params.update(kwargs)
    pos = [*(instantiate(a, allowed=allowed) for a in cfg.get("_args_", [])), *args]
    if cfg.get("_partial_", False):
        return functools.partial(target, *pos, **params)
    return target(*pos, **params)


def mpjpe_loss(pred: Tensor, target: Tensor) -> Tensor:
    """Mean per-joint Euclidean distance (metres): the metric itself, linear in large errors
    where MSE is quadratic. At a zero error its gradient is taken as zero, never NaN."""
    return torch.linalg.vector_norm(pred - target, dim=-1).mean()


LOSSES: dict[str, Callable[[Tensor, Tensor], Tensor]] = {"mse": F.mse_loss, "mpjpe": mpjpe_loss}


def _by_name(stats: Mapping[str, Tensor], names: Sequence[str]) -> dict[str, dict[str, float]]:
    """``{stat: (N,) tensor}`` -> ``{name: {stat: value}}``, one entry per bone or joint."""
    lists = {k: v.tolist() for k, v in stats.items()}
    return {n: {k: lists[k][i] for k in lists} for i, n in enumerate(names)}


class LiftingModule(pl.LightningModule):
    """2D -> 3D lifting: MSE (or the mean joint distance) on 3D joints in metres, Protocol 1/2
    metrics in mm, Adam + decay.

    Args:
        net: the network, as an ``nn.Module`` or a config dict with ``_target_`` (stored in the
            checkpoint so that ``ampose.checkpoint.load_model`` rebuilds it alone).
        optimizer: a ``_partial_: true`` optimizer config (or a callable ``params -> Optimizer``).
            Default: Adam, lr 2.5e-5 (the paper).
        scheduler: a ``_partial_: true`` scheduler config (or callable ``optimizer -> scheduler``),
            stepped per epoch; None for a constant rate. Default: ExponentialLR, gamma 0.98.
        block: optional block-factory config put into the net config's ``block`` argument (the
            Hydra group ``model/block`` selects it).
        warmup_steps: linear learning-rate warm-up over this many optimizer steps (0: none).
        flip_test: test-time flip augmentation in validation and test.
        compile: ``torch.compile`` the network when training on CUDA (ignored elsewhere).
        fused: fused optimizer kernel: None = when on CUDA and the optimizer supports it.
        procrustes: compute P-MPJPE during validation (it is always computed in test).
        root_relative: subtract the predicted root joint before the metrics.
        grad_clip_norm: clip the gradient norm to this value before each step (None: off).
            Done here rather than by Lightning's ``gradient_clip_val``, which refuses fused
            optimizers; under bf16 there is no loss scaling to undo first.
        test_fp32: test in full precision (eager, autocast off) whatever the training
            precision, so reported numbers do not depend on it: bf16 rounds the 2D input to
            ~0.3 px and moves predictions by ~5 mm per joint. Validation keeps the training
            precision (it runs every epoch).
        ema_decay: keep an exponential moving average of the weights (``net_ema``), updated
            after every optimizer step with this decay (warmed up as min(decay, (1+t)/(10+t))).
            The average is what validation, test, checkpoints' ``load_model`` and prediction
            use; validation also logs the raw weights' ``val/mpjpe_raw``. None: off.
        loss: the training loss on 3D joints in metres: ``"mse"`` (the paper's) or ``"mpjpe"``
            (mean per-joint distance).
    """

    def __init__(
        self,
        net: nn.Module | Config,
        optimizer: Config | Callable[..., torch.optim.Optimizer] | None = DEFAULT_OPTIMIZER,
        scheduler: Config | Callable[..., Any] | None = DEFAULT_SCHEDULER,
        block: Config | None = None,
        warmup_steps: int = 0,
        flip_test: bool = False,
        compile: bool = False,  # noqa: A002 (the config key users expect)
        fused: bool | None = None,
        procrustes: bool = True,
        root_relative: bool = True,
        grad_clip_norm: float | None = None,
        test_fp32: bool = True,
        ema_decay: float | None = None,
        loss: str = "mse",
        input_noise: float = 0.0,
    ) -> None:
        super().__init__()
        optimizer = dict(DEFAULT_OPTIMIZER) if optimizer is None else to_plain(optimizer)
        scheduler = to_plain(scheduler)
        if isinstance(scheduler, Mapping):
            scheduler = dict(scheduler)
        if isinstance(optimizer, Mapping):
            optimizer = dict(optimizer)
        if isinstance(net, nn.Module):
            if block is not None:
                raise ValueError("`block` applies to a net built from a config, not to a given module")
            net_cfg = None
            self.net = net
        else:
            net_cfg = dict(to_plain(net))
            if block is not None:
                net_cfg["block"] = to_plain(block)
            self.net = instantiate(net_cfg)
        self.save_hyperparameters({
            "net": net_cfg,
            "optimizer": optimizer if isinstance(optimizer, Mapping) else None,
            "scheduler": scheduler if isinstance(scheduler, Mapping) or scheduler is None else None,
            "warmup_steps": warmup_steps, "flip_test": flip_test, "compile": compile, "fused": fused,
            "procrustes": procrustes, "root_relative": root_relative, "grad_clip_norm": grad_clip_norm,
            "test_fp32": test_fp32, "ema_decay": ema_decay, "loss": loss, "input_noise": input_noise,
        })
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {sorted(LOSSES)}, got {loss!r}")
        self.loss_fn = LOSSES[loss]
        if grad_clip_norm is not None and grad_clip_norm <= 0:
            raise ValueError(f"grad_clip_norm must be positive or null, got {grad_clip_norm}")
        if not input_noise >= 0.0:  # also refuses NaN
            raise ValueError(f"input_noise must be >= 0 (normalised screen units), got {input_noise}")
        if ema_decay is not None and not 0.0 < ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in (0, 1) or null, got {ema_decay}")
        # The average is a frozen twin of the network; it is a submodule so that it moves with
        # the module, is saved and resumed with the checkpoint, and is never optimised.
        self.net_ema = copy.deepcopy(self.net).requires_grad_(False) if ema_decay else None
        self._step_lists: dict[str, list[Tensor]] | None = None  # _step_tensors(), once per fit
        self._optimizer, self._scheduler = optimizer, scheduler

        self.num_joints = int(self.net.num_joints)
        perm = skeleton_for(self.num_joints).flip_permutation if self.num_joints in (16, 17) else None
        self.register_buffer("flip_perm", torch.tensor(perm or [], dtype=torch.long), persistent=False)
        # Bone lengths and N-MPJPE are reported after the test only: validation, every epoch, skips them.
        self.val_metrics = PoseMetrics(self.num_joints, procrustes=procrustes, diagnostics=False)
        self.val_metrics_raw = PoseMetrics(self.num_joints, procrustes=False, diagnostics=False) if ema_decay else None
        self.test_metrics = PoseMetrics(self.num_joints, procrustes=True)
        self.val_mpjpe_best = MinMetric()
        self.test_results: dict[str, Any] = {}
        # One entry per validation epoch (kept in checkpoints, so a resumed run's curve is whole):
        # what ampose-summary --curves averages over folds to choose a training length.
        self.val_curve: list[dict[str, float]] = []
        self.data_config: dict[str, Any] | None = None  # set by ampose-train, saved in checkpoints
        self.run_seed: int | None = None  # the same (a resume must continue the same seed's run)

    # ------------------------------------------------------------------ forward
    def forward(self, pose2d: Tensor) -> Tensor:
        """Raw network output ``(B, J, 2) -> (B, J, 3)``."""
        return self.net(pose2d)

    @property
    def eval_net(self) -> nn.Module:
        """The network evaluation uses: the weight average when one is kept, else ``net``."""
        return self.net_ema if self.net_ema is not None else self.net

    def predict_3d(self, pose2d: Tensor, flip: bool | None = None, eager: bool = False, raw: bool = False) -> Tensor:
        """Evaluation prediction: optional flip augmentation, then root-relative. ``(B, J, 3)``.

        ``eager`` bypasses a compiled network (``Module.compile`` routes only ``__call__``).
        ``raw`` uses the trained weights even when a weight average is kept.
        """
        flip = self.hparams.flip_test if flip is None else flip
        net = self.net if raw else self.eval_net
        net = net.forward if eager else net
        pred = net(pose2d)
        if flip:
            if self.flip_perm.numel() == 0:
                raise ValueError(f"flip augmentation needs a known skeleton; {self.num_joints} joints")
            mirrored = pose2d[:, self.flip_perm] * pose2d.new_tensor([-1.0, 1.0])
            back = net(mirrored)[:, self.flip_perm] * pred.new_tensor([-1.0, 1.0, 1.0])
            pred = 0.5 * (pred + back)
        if self.hparams.root_relative:
            pred = pred - pred[:, :1]
        return pred

    def setup(self, stage: str) -> None:
        """Compile the network for CUDA training if asked (silently skipped elsewhere)."""
        if self.hparams.compile and stage == "fit" and self._on_cuda():
            self.net.compile()  # in place: the state-dict keys stay those of the plain net

    def _on_cuda(self) -> bool:
        trainer = self._trainer
        device = trainer.strategy.root_device if trainer is not None else self.device
        return device.type == "cuda"

    # ----------------------------------------------------------------- training
    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        """The loss between predicted and true 3D joints (metres). No host sync here.

        ``input_noise``: Gaussian noise of that standard deviation is added to every training 2D
        coordinate (normalised screen units: 1 px of a 1000-px-wide Human3.6M camera is 0.002),
        so a model trained on exact 2D learns to expect a detector's jitter. It comes from the
        global RNG (seeded by ``seed``), so a resumed run draws other noise than an unbroken one.
        """
        pose2d = batch["pose2d"]
        if self.hparams.get("input_noise"):
            pose2d = pose2d + self.hparams.input_noise * torch.randn_like(pose2d)
        pred = self.net(pose2d)
        loss = self.loss_fn(pred, batch["pose3d"])
        self.log("train/loss", loss, on_step=True, on_epoch=True, prog_bar=True,
                 batch_size=batch["pose2d"].shape[0])
        return loss

    def on_train_start(self) -> None:
        """Forget the sanity-check validation before the first real one; a resumed run starts
        from the best of the validation curve its checkpoint brought back."""
        self.val_mpjpe_best.reset()
        if self.val_curve:
            self.val_mpjpe_best.update(torch.tensor(min(e["mpjpe"] for e in self.val_curve), device=self.device))
        self._step_lists = None  # listed again on the first step, on this fit's device

    def _step_tensors(self) -> dict[str, list[Tensor]]:
        """The tensors every step touches (trained parameters; the average's and the live
        parameters and buffers), listed once per fit: walking the module tree every step costs
        ~2 ms of Python, more than a small network's whole GPU step."""
        if self._step_lists is None:
            ema = self.net_ema
            self._step_lists = {
                "trained": self._trained_parameters(),
                "ema_params": list(ema.parameters()) if ema is not None else [],
                "params": list(self.net.parameters()) if ema is not None else [],
                "ema_buffers": list(ema.buffers()) if ema is not None else [],
                "buffers": list(self.net.buffers()) if ema is not None else [],
            }
        return self._step_lists

    # --------------------------------------------------------------- evaluation
    def _eval_step(self, stage: str, batch: dict[str, Tensor]) -> None:
        metrics: PoseMetrics = getattr(self, f"{stage}_metrics")
        target = batch["pose3d"]
        # Evaluation runs eager: a few large no-grad batches would each cost the compiled net a
        # recompile (grad mode and batch shape are guarded), more than compiling saves on them.
        if stage == "test" and self.hparams.get("test_fp32", True):
            with torch.autocast(device_type=target.device.type, enabled=False):
                pred = self.predict_3d(batch["pose2d"].float(), eager=True).float()
        else:
            pred = self.predict_3d(batch["pose2d"], eager=True)
        n = target.shape[0]
        metrics.update(pred, target, batch["action"], batch["scene"])
        if stage == "val" and self.val_metrics_raw is not None:  # the raw weights, for comparison
            raw = self.predict_3d(batch["pose2d"], eager=True, raw=True)
            self.val_metrics_raw.update(raw, target, batch["action"], batch["scene"])
            self.log("val/mpjpe_raw", self.val_metrics_raw.mpjpe, batch_size=n)
        self.log(f"{stage}/loss", metrics.loss, batch_size=n)  # a metric: exact under DDP too
        self.log(f"{stage}/mpjpe", metrics.mpjpe, prog_bar=True, batch_size=n)
        self.log(f"{stage}/mpjpe_action", metrics.mpjpe_action, batch_size=n)
        if metrics.procrustes:
            self.log(f"{stage}/p_mpjpe", metrics.p_mpjpe, prog_bar=stage == "test", batch_size=n)
            self.log(f"{stage}/p_mpjpe_action", metrics.p_mpjpe_action, batch_size=n)

    def _log_3dhp(self, stage: str, metrics: PoseMetrics) -> dict[str, float]:
        """Log PCK/AUC (overall and by scene) when the data had 3DHP scenes; one sync per epoch."""
        if not metrics.pck.has_scenes():
            metrics.pck.reset()
            return {}
        out = {k: float(v) for k, v in metrics.pck.compute().items()}
        for k, v in out.items():
            if v == v:  # not NaN: absent scenes are not logged
                self.log(f"{stage}/{k}", v)
        metrics.pck.reset()
        return out

    def on_validation_epoch_start(self) -> None:
        self.val_metrics.reset()
        if self.val_metrics_raw is not None:
            self.val_metrics_raw.reset()

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._eval_step("val", batch)

    def on_validation_epoch_end(self) -> None:
        """Track the best frame-wise MPJPE so far (``val/mpjpe_best``) and 3DHP PCK/AUC."""
        mpjpe = self.val_metrics.mpjpe.compute()
        self.val_mpjpe_best(mpjpe)
        self.log("val/mpjpe_best", self.val_mpjpe_best.compute(), prog_bar=True)
        if not self.trainer.sanity_checking:  # one host sync an epoch
            self._record_val_epoch({"epoch": int(self.current_epoch), "mpjpe": float(mpjpe),
                                    "mpjpe_action": float(self.val_metrics.mpjpe_action.compute())})
        self._log_3dhp("val", self.val_metrics)

    def _record_val_epoch(self, entry: dict[str, float]) -> None:
        # A run resumed from a checkpoint taken before its epoch ended repeats that epoch: keep the latest.
        self.val_curve = [e for e in self.val_curve if e["epoch"] != entry["epoch"]] + [entry]

    def on_test_epoch_start(self) -> None:
        self.test_metrics.reset()
        self.test_results = {}

    def test_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._eval_step("test", batch)

    def on_test_epoch_end(self) -> None:
        """Keep the full results (per action, per scene) in ``self.test_results`` for the tables."""
        m = self.test_metrics
        res: dict[str, Any] = {
            "mpjpe": float(m.mpjpe.compute()), "p_mpjpe": float(m.p_mpjpe.compute()),
            "mpjpe_action": float(m.mpjpe_action.compute()),
            "p_mpjpe_action": float(m.p_mpjpe_action.compute()),
            "per_action": {
                "mpjpe": dict(zip(ACTIONS, m.mpjpe_action.per_action().tolist(), strict=True)),
                "p_mpjpe": dict(zip(ACTIONS, m.p_mpjpe_action.per_action().tolist(), strict=True)),
            },
        }
        res["pck"] = self._log_3dhp("test", m)
        res["scenes"] = list(SCENES)
        res["n_mpjpe"], res["n_mpjpe_action"] = float(m.n_mpjpe.compute()), float(m.n_mpjpe_action.compute())
        # mean bone lengths, true and predicted (mm), by the joint each bone ends at
        skeleton = skeleton_for(self.num_joints)
        names = [n for n, p in zip(skeleton.names, skeleton.parents, strict=True) if p >= 0]
        res["bones"] = _by_name(m.bones.compute(), names)
        res["joints"] = _by_name(m.joints.compute(), skeleton.names)  # mean error per joint (mm)
        self.test_results = res

    # ---------------------------------------------------------------- optimizers
    def configure_optimizers(self) -> Any:
        """Optimizer (fused on CUDA when supported) and a per-epoch scheduler."""
        extra: dict[str, Any] = {}
        opt_factory = self._optimizer
        if isinstance(opt_factory, Mapping):
            opt_factory = instantiate(opt_factory)
        fused = self.hparams.fused
        if fused is None:
            fused = self._on_cuda()
        target = opt_factory.func if isinstance(opt_factory, functools.partial) else opt_factory
        if fused and "fused" in inspect.signature(target).parameters:
            extra["fused"] = True
        optimizer = opt_factory(params=self._trained_parameters(), **extra)
        if self._scheduler is None:
            return optimizer
        sched_factory = self._scheduler
        if isinstance(sched_factory, Mapping):
            sched_factory = instantiate(sched_factory)
        scheduler = sched_factory(optimizer=optimizer)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"}}

    def optimizer_step(self, epoch: int, batch_idx: int, optimizer: Any,
                       optimizer_closure: Callable[[], Any] | None = None) -> None:
        """Linear warm-up over ``warmup_steps`` steps, applied around the step so that the
        scheduler's own learning rate stays untouched."""
        warmup = self.hparams.warmup_steps
        if warmup and self.global_step < warmup:
            factor = (self.global_step + 1) / warmup
            saved = [g["lr"] for g in optimizer.param_groups]
            for g in optimizer.param_groups:
                g["lr"] = g["lr"] * factor
            optimizer.step(closure=optimizer_closure)
            for g, lr in zip(optimizer.param_groups, saved, strict=True):
                g["lr"] = lr
        else:
            optimizer.step(closure=optimizer_closure)
        self._update_ema()

    @torch.no_grad()
    def _update_ema(self) -> None:
        """ema <- ema + (1 - d) (w - ema) over all weights at once, on the device (no host sync).
        The decay is warmed up (min(d, (1+t)/(10+t))) so the average forgets the initial weights.
        Buffers are copied, not averaged: the MLP's BatchNorm statistics belong to the live weights."""
        if self.net_ema is None:
            return
        t = self.global_step  # steps done before this one
        d = min(self.hparams.ema_decay, (1 + t) / (10 + t))
        lists = self._step_tensors()
        torch._foreach_lerp_(lists["ema_params"], lists["params"], 1.0 - d)
        for b_ema, b in zip(lists["ema_buffers"], lists["buffers"], strict=True):
            b_ema.copy_(b)

    def on_before_optimizer_step(self, optimizer: Any) -> None:
        """Clip the gradient norm (no host sync: the norm stays a device tensor)."""
        if self.hparams.get("grad_clip_norm"):
            torch.nn.utils.clip_grad_norm_(self._step_tensors()["trained"], self.hparams.grad_clip_norm, foreach=True)

    def _trained_parameters(self) -> list[nn.Parameter]:
        """Every parameter but the weight average's."""
        return [p for name, p in self.named_parameters() if not name.startswith("net_ema.")]

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Mark the checkpoint as ampose's (``ampose.checkpoint`` checks this); keep the data
        config of the run (``ampose-eval`` tests on it unless told otherwise)."""
        from ampose import __version__

        checkpoint["ampose"] = {"version": __version__, "num_joints": self.num_joints,
                                "net_class": type(self.net).__name__,
                                "data": getattr(self, "data_config", None),
                                "seed": getattr(self, "run_seed", None),
                                "val_curve": list(self.val_curve)}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Resume the validation curve (checkpoints before session 8 have none)."""
        self.val_curve = list((checkpoint.get("ampose") or {}).get("val_curve") or [])
