"""The one training loop (Original, Retrained and fine-tune style methods), with progress, ETA, cancel and a
divergence check shared by every loop in the engine (`Tracker`)."""
from __future__ import annotations

import contextlib
import itertools
import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Protocol, TypeVar

import torch
import torch.nn as nn

from mu_core.data.transforms import augment, to_float
from mu_core.errors import Cancelled, Diverged, MUError
from mu_core.recipe import PRECISIONS, Recipe
from mu_core.task import TaskKind, task_loss


def default_device() -> torch.device:
    """CUDA when present, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def cpu_has_bf16() -> bool:
    """True when the CPU computes bf16 natively (AVX512-BF16 or AMX); elsewhere bf16 is emulated and slower."""
    checks = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    if any(check is not None for check in checks):
        return any(check() for check in checks if check is not None)
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return any(flag in flags.split() for flag in ("avx512_bf16", "amx_bf16"))


def bf16_supported(device: torch.device) -> bool:
    """Whether training in bf16 pays off on `device`: CUDA with bf16 support, or a CPU with native bf16."""
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    return device.type == "cpu" and cpu_has_bf16()


def resolve_precision(text: str | None, device: torch.device) -> str | None:
    """"auto" becomes "bf16" where the hardware supports it, else "fp32"; "fp32", "bf16" and None pass through
    (None: the dataset recipe's own precision)."""
    if text is None:
        return None
    value = text.strip().lower()
    if value == "auto":
        return "bf16" if bf16_supported(device) else "fp32"
    if value not in PRECISIONS:
        raise MUError(f"The precision must be fp32, bf16 or auto, got {text[:40]!r}.")
    return value


def training_autocast(recipe: Recipe, device: torch.device) -> contextlib.AbstractContextManager:
    """The recipe's precision for a training forward pass: bf16 autocast, or nothing at fp32. Evaluation never
    runs under it (mu_core.evaluation stays fp32, so metrics are exact)."""
    if recipe.precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def seed_everything(seed: int) -> torch.Generator:
    """Seed torch's global RNG (model initialisation) and return a CPU generator for shuffles and augmentation.
    cuDNN is held to deterministic algorithms, so a seed gives the same weights on a GPU too (not across devices)."""
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


class CancelFlag(Protocol):
    def is_set(self) -> bool: ...


@dataclass
class Progress:
    stage: str
    step: int
    total: int
    losses: dict[str, float] = field(default_factory=dict)
    elapsed_s: float = 0.0
    eta_s: float | None = None

    @property
    def fraction(self) -> float:
        return min(1.0, self.step / self.total) if self.total else 0.0

    def text(self) -> str:
        losses = ", ".join(f"{k} {v:.4f}" for k, v in self.losses.items())
        eta = f", ETA {self.eta_s:.0f} s" if self.eta_s is not None else ""
        return f"{self.stage}: step {self.step}/{self.total}" + (f" ({losses})" if losses else "") + eta


ProgressFn = Callable[[Progress], None]


class Tracker:
    """Counts steps of a job, reports progress with an ETA, stops on cancel, and stops with `Diverged` as soon as a
    reported loss is NaN or infinite."""

    def __init__(self, total: int, progress: ProgressFn | None = None, cancel: CancelFlag | None = None,
                 stage: str = "training"):
        self.total, self.progress, self.cancel, self.stage = max(1, int(total)), progress, cancel, stage
        self.step_count, self.started = 0, time.perf_counter()

    def check_cancel(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled("Cancelled by the user; nothing was stored.")

    def advance(self) -> None:
        """Count a step without reporting it (work done before the job's total is known), then check for cancel."""
        self.step_count += 1
        self.check_cancel()

    def step(self, stage: str | None = None, **losses: float | torch.Tensor) -> None:
        values = {k: float(v) for k, v in losses.items()}
        bad = [k for k, v in values.items() if not math.isfinite(v)]
        if bad:
            raise Diverged(f"The {', '.join(bad)} loss became {values[bad[0]]} at step {self.step_count + 1}: the "
                           "run diverged (try a smaller learning rate). Nothing was stored.")
        self.step_count += 1
        if stage:
            self.stage = stage
        elapsed = time.perf_counter() - self.started
        eta = elapsed / self.step_count * max(0, self.total - self.step_count)
        if self.progress is not None:
            self.progress(Progress(self.stage, self.step_count, self.total, values, elapsed, eta))
        self.check_cancel()


def batch_indices(n: int, batch_size: int, generator: torch.Generator, shuffle: bool = True) -> list[torch.Tensor]:
    """Split 0..n-1 into ceil(n / batch_size) batches of near-equal size: no tiny last batch to wreck BatchNorm
    statistics, and no sample dropped."""
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    return list(torch.tensor_split(order, max(1, math.ceil(n / batch_size))))


def optimizer(params: Iterable[nn.Parameter], name: str, lr: float, momentum: float = 0.0,
              weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """The engine's one optimizer factory: "sgd" (with `momentum`) or "adam", over the parameters that require
    gradients."""
    params = [p for p in params if p.requires_grad]
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer {name!r}")


def make_optimizer(params: Iterable[nn.Parameter], recipe: Recipe) -> torch.optim.Optimizer:
    """The recipe's optimizer (`optimizer` with its settings)."""
    return optimizer(params, recipe.optimizer, recipe.lr, recipe.momentum, recipe.weight_decay)


def n_batches(n: int, batch_size: int) -> int:
    """Batches per pass over `n` samples, as `batch_indices` splits them."""
    return max(1, math.ceil(n / batch_size))


@dataclass(frozen=True)
class Passes:
    """What a loop walks through: `epochs` passes of `per_epoch` batches each, cut to `limit` steps when given (the
    last pass then stops early). `batches()` gives one pass's batches and is called as the pass starts, so its
    shuffle and augmentation draw from the generator in the order the loop consumes them; a pass must give exactly
    `per_epoch` batches (the loop checks)."""

    batches: Callable[[], Iterable[Any]]
    per_epoch: int
    epochs: int = 1
    limit: int | None = None

    @property
    def steps(self) -> int:
        full = self.epochs * self.per_epoch
        return full if self.limit is None else min(full, self.limit)

    def times(self, epochs: int) -> "Passes":
        """The same pass, `epochs` times."""
        return replace(self, epochs=epochs)


Batch = TypeVar("Batch")
StepFn = Callable[[Batch], dict[str, "float | torch.Tensor"]]


def run_passes(passes: Passes, step: StepFn, tracker: Tracker, stage: str | None = None,
               before_epoch: Callable[[int], None] | None = None,
               after_epoch: Callable[[int], None] | None = None) -> None:
    """The engine's one loop: `step(batch)` for every batch of `passes`, each followed by a tracker step with the
    losses it returns (progress, cancel, and `Diverged` on a non-finite loss). `before_epoch(e)` and
    `after_epoch(e)` run around pass e (0-based)."""
    left = passes.steps
    for epoch in range(passes.epochs):
        if left <= 0:
            break
        if before_epoch is not None:
            before_epoch(epoch)
        expected = min(passes.per_epoch, left)
        batches = passes.batches()
        if expected < passes.per_epoch:
            batches = itertools.islice(batches, expected)
        done = 0
        for batch in batches:
            tracker.step(stage, **step(batch))
            done += 1
        if done != expected:
            raise RuntimeError(f"a pass gave {done} batches where {expected} were announced")
        left -= done
        if after_epoch is not None:
            after_epoch(epoch)


def optimizer_step(opt: torch.optim.Optimizer, loss: torch.Tensor, clip: float | None = None,
                   grad_mask: dict[nn.Parameter, torch.Tensor] | None = None) -> None:
    """One step descending `loss`: gradients masked by `grad_mask` (parameter -> 0/1 tensor; only masked weights
    move, with no weight decay) and clipped to norm `clip` over the optimizer's parameters."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    for param, mask in (grad_mask or {}).items():
        if param.grad is not None:
            param.grad.mul_(mask)
    if clip:
        nn.utils.clip_grad_norm_([p for group in opt.param_groups for p in group["params"]], clip)
    opt.step()


def make_scheduler(optimizer: torch.optim.Optimizer, recipe: Recipe, steps_per_epoch: int,
                   total: int | None = None):
    """A per-step scheduler for the recipe's schedule over `total` steps (default: the recipe's epochs); a shorter
    total compresses the whole schedule into it (step milestones move in proportion)."""
    full = recipe.epochs * steps_per_epoch
    total = total or full
    if recipe.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=recipe.lr, total_steps=total)
    if recipe.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total)
    if recipe.schedule == "step":
        return torch.optim.lr_scheduler.MultiStepLR(
            optimizer, [round(m * steps_per_epoch * total / full) for m in recipe.milestones], gamma=recipe.gamma)
    if recipe.schedule == "constant":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _step: 1.0)
    raise ValueError(f"unknown schedule {recipe.schedule!r}")


def fit(model: nn.Module, x: torch.Tensor, y: torch.Tensor, recipe: Recipe, kind: TaskKind, *,
        generator: torch.Generator, device: torch.device, progress: ProgressFn | None = None,
        cancel: CancelFlag | None = None, stage: str = "training", steps: int | None = None,
        tracker: Tracker | None = None) -> float:
    """Train `model` in place on uint8 images `x` with labels `y` following `recipe` (forward passes under bf16
    autocast when its precision is bf16; weights and optimizer state stay fp32); returns seconds taken. `steps`
    stops after that many optimizer steps, with the recipe's schedule compressed into them (default: every step of
    the recipe's epochs). Steps are counted on `tracker` when given (its total already includes them), else on a
    new one reporting to `progress`."""
    started = time.perf_counter()
    n = len(x)
    steps_per_epoch = n_batches(n, recipe.batch_size)
    total = recipe.epochs * steps_per_epoch if steps is None else max(1, int(steps))
    epochs = math.ceil(total / steps_per_epoch)
    tracker = tracker or Tracker(total, progress, cancel, stage)
    model.to(device).train()
    x_dev, y_dev = x.to(device), y.to(device)
    opt = make_optimizer(model.parameters(), recipe)
    scheduler = make_scheduler(opt, recipe, steps_per_epoch, total)

    def one_pass() -> Iterable[tuple[torch.Tensor, torch.Tensor]]:
        for batch in batch_indices(n, recipe.batch_size, generator):
            batch = batch.to(device)
            yield augment(to_float(x_dev[batch]), recipe.augment, generator), y_dev[batch]

    def step(batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, torch.Tensor]:
        inputs, labels = batch
        with training_autocast(recipe, device):
            loss = task_loss(model(inputs), labels, kind)
        optimizer_step(opt, loss)
        scheduler.step()
        return {"loss": loss.detach()}

    def label_epoch(epoch: int) -> None:
        tracker.stage = f"{stage}, epoch {epoch + 1}/{epochs}"

    run_passes(Passes(one_pass, steps_per_epoch, epochs, limit=total), step, tracker, before_epoch=label_epoch)
    model.eval()
    return time.perf_counter() - started
