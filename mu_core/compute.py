"""Compute cost in floating-point operations, counted with torch.utils.flop_counter's formulas: independent of
the machine's load, unlike wall time. compute_ratio = FLOPs of an unlearning run / FLOPs of training the Retrained
model."""
from __future__ import annotations

import contextlib
import functools
import math
from typing import Iterator

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

from mu_core.data.transforms import augment, to_float
from mu_core.models import build_model
from mu_core.recipe import Recipe
from mu_core.task import TaskKind, task_loss
from mu_core.training import make_optimizer


class FlopCount(TorchDispatchMode):
    """Counts the FLOPs of every torch operation run while it is active, with torch.utils.flop_counter's formulas
    (`flop_registry`: matmuls, convolutions, attention, forward and backward). It is FlopCounterMode without the
    per-module bookkeeping, which is what makes FlopCounterMode slow on runs of many small steps (measured on 50
    SGD steps of a 512x40 head, one thread: 0.28 s plain, 1.03 s under FlopCounterMode, 0.54 s under this); the
    totals are the same."""

    def __init__(self) -> None:
        super().__init__()
        self.total = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        formula = flop_registry.get(func._overloadpacket)
        if formula is not None:
            self.total += int(formula(*args, **kwargs, out_val=out))
        return out


@contextlib.contextmanager
def count_flops() -> Iterator[FlopCount]:
    """Count the FLOPs of every torch operation run inside the block (read `.total` after it ends)."""
    with FlopCount() as count:
        yield count


@functools.lru_cache(maxsize=32)
def training_flops(recipe: Recipe, n_samples: int, num_outputs: int, kind: TaskKind) -> int:
    """FLOPs of training a baseline with `recipe` on `n_samples` images: one training step on one batch of the
    recipe's size (forward, backward, optimizer) counted, times epochs x ceil(n / batch) steps. The batches of
    `fit` have near-equal sizes, so the per-step count scales with the batch; the count is taken at the mean batch
    size (FLOPs of a step are linear in the batch size)."""
    steps_per_epoch = max(1, math.ceil(n_samples / recipe.batch_size))
    batch = max(1, round(n_samples / steps_per_epoch))
    with torch.random.fork_rng(devices=[]):  # the caller's random state stays as it was
        model = build_model(num_outputs).train()
        optimizer = make_optimizer(model.parameters(), recipe)
        generator = torch.Generator().manual_seed(0)
        x = torch.randint(0, 256, (batch, 3, recipe.image_size, recipe.image_size), dtype=torch.uint8)
        y = (torch.randint(0, 2, (batch, num_outputs)) if kind == "multilabel"
             else torch.randint(0, num_outputs, (batch,)))
        with count_flops() as count:
            loss = task_loss(model(augment(to_float(x), recipe.augment, generator)), y, kind)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return int(count.total * recipe.epochs * steps_per_epoch)


def compute_ratio(unlearning_flops: int | None, retrained_flops: int | None) -> float | None:
    """Unlearning FLOPs over the Retrained model's training FLOPs (None when either is unknown)."""
    if not unlearning_flops or not retrained_flops:
        return None
    return float(unlearning_flops / retrained_flops)
