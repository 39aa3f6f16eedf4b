"""Bad Teacher (competent/incompetent teachers): the model distils a randomly initialised network on the forget set
and the Original on a subset of the retain set. `bad_teacher_sim` reuses everything here but the retain subset."""
from __future__ import annotations

import itertools
from dataclasses import replace

import torch
import torch.nn as nn

from mu_core.methods.base import RETAIN_SHARE, TRAIN_FROM, HParam, Method, UnlearnContext
from mu_core.methods.common import kl_to_target, soft_outputs, task_step
from mu_core.models import build_model, split_at
from mu_core.training import Passes, batch_indices, make_optimizer, n_batches, optimizer

SHARED_HPARAMS = (
    HParam("epochs", "int", 1, "Passes over the forget set and the retain subset (original: 1).", min=1, max=500,
           step=1),
    HParam("lr", "float", 1e-4, "Adam learning rate (original: 1e-4).", min=1e-6, max=0.1, log=True),
    HParam("temperature", "float", 1.0, "Temperature of the teachers' and the model's softmax (original: 1).",
           min=0.5, max=20.0, step=0.5),
    HParam("batch_size", "int", 256, "Images per step (original: 256).", min=8, max=512, step=8),
)

HPARAMS = SHARED_HPARAMS + (
    replace(RETAIN_SHARE, default=0.3, help="Share of the retain set the Original is distilled on (original: 0.3, "
            "drawn at random; here the same share of every class, at least one image each, from the experiment's "
            "seed)."),
    TRAIN_FROM,
)


def incompetent_teacher(ctx: UnlearnContext, train_epochs: int = 0) -> nn.Module:
    """A randomly initialised network of the Original's architecture (seeded from ctx.generator, the global RNG
    untouched), optionally trained for `train_epochs` on the retain set with the data's training recipe (constant
    learning rate); frozen, in eval mode. Within `frozen_below` only its blocks from that block up: it reads the
    frozen blocks' outputs, as the model does."""
    seed = int(torch.randint(0, 2 ** 31 - 1, (1,), generator=ctx.generator))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        teacher = build_model(ctx.num_classes).to(ctx.device)
    if ctx.trained_from:
        teacher = split_at(teacher, ctx.trained_from)[1]
    ctx.train(teacher_training(ctx, train_epochs), task_step(ctx, "bad_teacher", teacher),
              make_optimizer(teacher.parameters(), ctx.exp.recipe), stage="training the bad teacher")
    return teacher.eval().requires_grad_(False)


def teacher_training(ctx: UnlearnContext, epochs: int) -> Passes:
    """The bad teacher's training: `epochs` passes over the retain set in the recipe's batches."""
    return ctx.passes("retain", ctx.exp.recipe.batch_size, epochs)


def epoch_batches(n_forget: int, n_retain: int, batch_size: int, generator: torch.Generator,
                  alternate: bool) -> list[torch.Tensor]:
    """Positions into [forget, retain subset]: shuffled batches mixing both, or (alternate) forget-only and
    retain-only batches taking turns."""
    if not alternate:
        return batch_indices(n_forget + n_retain, batch_size, generator)
    forget = batch_indices(n_forget, batch_size, generator)
    retain = [b + n_forget for b in batch_indices(n_retain, batch_size, generator)] if n_retain else []
    return [b for pair in itertools.zip_longest(forget, retain) for b in pair if b is not None]


def steps_per_epoch(n_forget: int, n_retain: int, batch_size: int, alternate: bool) -> int:
    """The batches of `epoch_batches`."""
    if not alternate:
        return n_batches(n_forget + n_retain, batch_size)
    return n_batches(n_forget, batch_size) + (n_batches(n_retain, batch_size) if n_retain else 0)


def teacher_targets(ctx: UnlearnContext, bad: nn.Module, x: torch.Tensor, from_bad: torch.Tensor,
                    temperature: float) -> torch.Tensor:
    """The bad teacher's soft outputs for forget images, the Original's for retain images (each teacher runs only
    on its own images; in eval mode that gives the same outputs as running both on the whole batch)."""
    target = torch.empty(len(x), ctx.num_classes, device=ctx.device)
    with torch.no_grad():
        for teacher, rows in ((bad, from_bad), (ctx.original, ~from_bad)):
            if rows.any():
                target[rows] = soft_outputs(teacher(x[rows]), ctx.kind, temperature)
    return target


def distil_teachers(ctx: UnlearnContext, hp: dict, retain_idx: torch.Tensor, retain_weight: torch.Tensor,
                    alternate: bool = False, bad_teacher_epochs: int = 0) -> None:
    """Calls ctx.begin, then trains the model towards the incompetent teacher on the forget set and the Original on
    retain images `retain_idx` (each weighted by `retain_weight`). The loss is the KL of the original code
    (F.kl_div's default mean over the batch and the outputs)."""
    x_f, _ = ctx.data("forget")
    x_r, _ = ctx.data("retain")
    n_f, n_r, bs = len(x_f), len(retain_idx), hp["batch_size"]
    images = torch.cat([x_f, x_r[retain_idx.to(ctx.device)]])
    from_bad = torch.arange(len(images), device=ctx.device) < n_f
    weight = torch.cat([torch.ones(n_f, device=ctx.device), retain_weight.to(ctx.device).float()])

    def one_pass():
        for idx in epoch_batches(n_f, n_r, bs, ctx.generator, alternate):
            idx = idx.to(ctx.device)
            yield ctx.prepare(images[idx]), idx

    distillation = Passes(one_pass, steps_per_epoch(n_f, n_r, bs, alternate), hp["epochs"])
    ctx.begin(teacher_training(ctx, bad_teacher_epochs), distillation)
    bad = incompetent_teacher(ctx, bad_teacher_epochs)
    opt = optimizer(ctx.model.parameters(), "adam", hp["lr"])

    def loss(batch):
        x, idx = batch
        target = teacher_targets(ctx, bad, x, from_bad[idx], hp["temperature"])
        logits = ctx.model(x)
        kl = kl_to_target(logits, target, ctx.kind, hp["temperature"])
        value = (kl * weight[idx]).mean() / logits.shape[1]
        return value, {"kl": value.detach()}

    ctx.train(distillation, loss, opt, stage="distilling the teachers")


def run(ctx: UnlearnContext, hp: dict) -> None:
    n_r = len(ctx.data("retain")[0])
    distil_teachers(ctx, hp, torch.arange(n_r), torch.ones(n_r))


METHOD = Method(
    name="bad_teacher", title="Bad Teacher",
    description="Distil a randomly initialised (incompetent) teacher on the forget set and the Original "
                "(competent teacher) on a random part of the retain set.",
    reference="Chundawat, Tarun, Mandal & Kankanhalli, \"Can Bad Teaching Induce Forgetting? Unlearning in Deep "
              "Networks Using an Incompetent Teacher\" (AAAI 2023), official code vikram2000b/bad-teaching-"
              "unlearning (UnlearnerLoss, 30% of the retain set, Adam 1e-4, 1 epoch).",
    hparams=HPARAMS, run=run)
