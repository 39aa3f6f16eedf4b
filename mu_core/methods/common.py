"""Pieces several methods share: the distillation KL, output targets, summed gradients and diagonal importances,
and random wrong labels."""
from __future__ import annotations

from typing import Callable, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from mu_core.methods.base import Loss, UnlearnContext
from mu_core.task import TaskKind, task_loss
from mu_core.training import Passes, Tracker, run_passes


def distill_kl(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """RepDistiller's DistillKL (used by SCRUB and PIU-FR): KL(softmax(t/T) || softmax(s/T)), summed, * T^2,
    divided by the batch size."""
    log_s = F.log_softmax(student_logits / temperature, dim=1)
    p_t = F.softmax(teacher_logits / temperature, dim=1)
    return F.kl_div(log_s, p_t, reduction="sum") * temperature ** 2 / student_logits.shape[0]


def is_multilabel(kind: TaskKind) -> bool:
    return kind == "multilabel"


def has_batchnorm(model: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


def summed_grads(model: nn.Module, batches: Passes, loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                 tracker: Tracker, stage: str,
                 of: Callable[[torch.Tensor], torch.Tensor] = lambda g: g) -> dict[str, torch.Tensor]:
    """The sum over `batches` of `of`(the gradient of each batch's mean loss), per trainable parameter, through the
    engine's loop (one tracker step per batch). The model's mode (eval or train) is the caller's choice; `.grad`
    fields are left untouched."""
    params = {name: p for name, p in model.named_parameters() if p.requires_grad}
    total: dict[str, torch.Tensor] = {}

    def add(batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, torch.Tensor]:
        x, y = batch
        loss = loss_fn(model(x), y)
        grads = torch.autograd.grad(loss, list(params.values()), allow_unused=True)
        for (name, p), g in zip(params.items(), grads):
            g = of(torch.zeros_like(p) if g is None else g)
            total[name] = total[name] + g if name in total else g
        return {"loss": loss.detach()}

    run_passes(batches, add, tracker, stage)
    return total


def diag_importance(model: nn.Module, batches: Passes | Sequence[tuple[torch.Tensor, torch.Tensor]],
                    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], tracker: Tracker,
                    stage: str) -> dict[str, torch.Tensor]:
    """SSD's diagonal importance, an empirical-Fisher proxy: the mean over mini-batches of the squared gradient of
    the mean batch loss (squared per batch, not per sample), per parameter element. Used by SSD and GISA."""
    if not isinstance(batches, Passes):
        given = batches
        batches = Passes(lambda: given, len(given))
    total = summed_grads(model, batches, loss_fn, tracker, stage, torch.square)
    return {name: t / batches.steps for name, t in total.items()}


def random_wrong_labels(y: torch.Tensor, kind: TaskKind, num_classes: int,
                        generator: torch.Generator) -> torch.Tensor:
    """Random labels that are all wrong: multi-class/binary, a uniformly drawn other class; multi-label, the 0/1
    vector with a random non-empty set of attributes flipped."""
    n = len(y)
    if is_multilabel(kind):
        flips = torch.randint(0, 2, tuple(y.shape), generator=generator).bool()
        none = ~flips.any(dim=1)
        flips[none, torch.randint(0, y.shape[1], (int(none.sum()),), generator=generator)] = True
        return torch.where(flips.to(y.device), 1 - y, y)
    shift = torch.randint(1, num_classes, (n,), generator=generator).to(y.device)
    return (y + shift) % num_classes


def task_step(ctx: UnlearnContext, name: str = "loss", model: nn.Module | None = None) -> Loss:
    """The loss of a step on a batch of (images, labels): the task loss of `model` (default: the context's model
    at the time of the step), reported as `name`."""
    def loss(batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        x, y = batch
        value = task_loss((ctx.model if model is None else model)(x), y, ctx.kind)
        return value, {name: value.detach()}
    return loss


def relabelled_train_set(ctx: UnlearnContext) -> tuple[torch.Tensor, torch.Tensor]:
    """The retain images with their labels plus the forget images with random wrong labels, drawn once per run
    (Amnesiac unlearning / SalUn's random labelling)."""
    x_f, y_f = ctx.data("forget")
    x_r, y_r = ctx.data("retain")
    wrong = random_wrong_labels(y_f, ctx.kind, ctx.num_classes, ctx.generator)
    return torch.cat([x_f, x_r]), torch.cat([wrong, y_r])


def soft_outputs(logits: torch.Tensor, kind: TaskKind, temperature: float = 1.0) -> torch.Tensor:
    """Softened output distribution: softmax(z/T) over classes, or per-attribute sigmoid(z/T) for multi-label."""
    z = logits / temperature
    return torch.sigmoid(z) if is_multilabel(kind) else F.softmax(z, dim=1)


def kl_to_target(student_logits: torch.Tensor, target: torch.Tensor, kind: TaskKind,
                 temperature: float = 1.0) -> torch.Tensor:
    """Per-sample KL(target || student at temperature T). `target` holds probabilities as from `soft_outputs`:
    a distribution over classes, or for multi-label one Bernoulli per attribute, whose KLs are summed."""
    z = student_logits / temperature
    if is_multilabel(kind):
        return (F.kl_div(F.logsigmoid(z), target, reduction="none")
                + F.kl_div(F.logsigmoid(-z), 1 - target, reduction="none")).sum(dim=1)
    return F.kl_div(F.log_softmax(z, dim=1), target, reduction="none").sum(dim=1)


def task_distill_kl(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float,
                    kind: TaskKind) -> torch.Tensor:
    """`distill_kl` for any task kind: for multi-label it compares per-attribute sigmoid outputs (summed
    Bernoulli KLs, * T^2, divided by the batch size) instead of a softmax over independent attributes."""
    if not is_multilabel(kind):
        return distill_kl(student_logits, teacher_logits, temperature)
    target = soft_outputs(teacher_logits, kind, temperature)
    return kl_to_target(student_logits, target, kind, temperature).sum() * temperature ** 2 / len(student_logits)


def uniform_target(logits: torch.Tensor, kind: TaskKind) -> torch.Tensor:
    """The know-nothing output: 1/C per class, or 0.5 per attribute."""
    return torch.full_like(logits, 0.5 if is_multilabel(kind) else 1.0 / logits.shape[1])
