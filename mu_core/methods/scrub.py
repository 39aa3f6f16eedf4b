"""SCRUB: a student (the model) distils the Original (teacher) on the retain set while being pushed away from it
on the forget set."""
from __future__ import annotations

import torch

from mu_core.methods.base import RETAIN_SHARE, TRAIN_FROM, HParam, Loss, Method, UnlearnContext
from mu_core.methods.common import task_distill_kl
from mu_core.task import task_loss
from mu_core.training import optimizer

HPARAMS = (
    HParam("variant", "choice", "original",
           "original (Kurmanji et al.): in each of the first msteps epochs a max pass over the forget set, then "
           "every epoch a min pass over the retain set. benchmark (MUFAC notebooks): every epoch a min pass then a "
           "max pass, msteps ignored (the benchmark also uses gamma = alpha = 1, SGD 0.001, no momentum).",
           choices=("original", "benchmark")),
    HParam("epochs", "int", 3, "Epochs; each has one min pass over the retain set (original: 3).",
           min=1, max=500, step=1),
    HParam("msteps", "int", 2, "Original variant: the first msteps epochs also make a max pass over the forget "
           "set (original: 2).", min=0, max=20, step=1),
    HParam("lr", "float", 5e-4, "Learning rate (original: 5e-4).", min=1e-6, max=0.1, log=True),
    HParam("lr_decay_epochs", "ints", (3, 5, 9), "Epochs after which the learning rate is multiplied by "
           "lr_decay_rate (original: 3,5,9, so epochs 4-5 run at 0.1 x lr, 6-9 at 0.01 x, later ones at 0.001 x; "
           "with the default 3 epochs it never applies); empty = constant.", min=1, max=500,
           source="meghdadk/SCRUB large_scale_unlearning.ipynb (lr_decay_epochs = [3, 5, 9]) with "
                  "adjust_learning_rate at the start of every epoch"),
    HParam("lr_decay_rate", "float", 0.1, "Factor of each learning-rate decay (original: 0.1; 1 = constant, the "
           "engine's earlier behaviour).", min=0.01, max=1.0, step=0.01,
           source="meghdadk/SCRUB large_scale_unlearning.ipynb (lr_decay_rate = 0.1)", earlier=1.0),
    HParam("optimizer", "choice", "sgd", "Optimizer (original large-scale setting: SGD; small-scale: Adam).",
           choices=("sgd", "adam")),
    HParam("momentum", "float", 0.9, "SGD momentum (original: 0.9; benchmark: 0).", min=0.0, max=0.99, step=0.01),
    HParam("weight_decay", "float", 5e-4, "Weight decay (original: 5e-4).", min=0.0, max=0.1, step=1e-4),
    HParam("temperature", "float", 4.0, "Distillation temperature T of the KL (original and benchmark: 4).",
           min=0.5, max=20.0, step=0.5),
    HParam("gamma", "float", 0.99, "Weight of the task loss in the min step (original: 0.99; benchmark: 1).",
           min=0.0, max=5.0, step=0.01),
    HParam("alpha", "float", 0.001, "Weight of the KL to the teacher in the min step (original: 0.001; "
           "benchmark: 1).", min=0.0, max=5.0, step=0.001),
    HParam("forget_batch", "int", 64, "Forget images per max step (original: 512).", min=8, max=512, step=8),
    HParam("retain_batch", "int", 64, "Retain images per min step (original: 256).", min=8, max=512, step=8),
    RETAIN_SHARE,
    TRAIN_FROM,
)


def max_loss(ctx: UnlearnContext, hp: dict) -> Loss:
    """The max step on a forget batch: ascend the KL between student and teacher."""
    def loss(batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        x, _ = batch
        with torch.no_grad():
            teacher = ctx.original(x)
        kl = task_distill_kl(ctx.model(x), teacher, hp["temperature"], ctx.kind)
        return -kl, {"forget_kl": kl.detach()}
    return loss


def min_loss(ctx: UnlearnContext, hp: dict) -> Loss:
    """The min step on a retain batch: gamma * task loss + alpha * KL to the teacher."""
    def loss(batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        x, y = batch
        with torch.no_grad():
            teacher = ctx.original(x)
        logits = ctx.model(x)
        ce, kl = task_loss(logits, y, ctx.kind), task_distill_kl(logits, teacher, hp["temperature"], ctx.kind)
        return hp["gamma"] * ce + hp["alpha"] * kl, {"retain_loss": ce.detach(), "retain_kl": kl.detach()}
    return loss


def decayed_lr(hp: dict, epoch: int) -> float:
    """The learning rate of 0-based `epoch`: lr x rate^(number of decay epochs before it), as SCRUB's
    adjust_learning_rate does with its 1-based epochs (epoch > each decay epoch)."""
    return hp["lr"] * hp["lr_decay_rate"] ** sum(epoch + 1 > d for d in hp["lr_decay_epochs"])


def run(ctx: UnlearnContext, hp: dict) -> None:
    original = hp["variant"] == "original"
    max_epochs = min(hp["msteps"], hp["epochs"]) if original else hp["epochs"]
    forget, retain = ctx.passes("forget", hp["forget_batch"]), ctx.passes("retain", hp["retain_batch"])
    ctx.begin(forget.times(max_epochs), retain.times(hp["epochs"]))
    opt = optimizer(ctx.model.parameters(), hp["optimizer"], hp["lr"], hp["momentum"], hp["weight_decay"])
    ascend, descend = max_loss(ctx, hp), min_loss(ctx, hp)
    for epoch in range(hp["epochs"]):
        for group in opt.param_groups:
            group["lr"] = decayed_lr(hp, epoch)
        if original and epoch < max_epochs:
            ctx.train(forget, ascend, opt, stage="max step (forget set)")
        ctx.train(retain, descend, opt, stage="min step (retain set)")
        if not original:
            ctx.train(forget, ascend, opt, stage="max step (forget set)")


METHOD = Method(
    name="scrub", title="SCRUB",
    description="Teacher-student distillation: stay close to the Original on the retain set, move away from it on "
                "the forget set.",
    reference="Kurmanji, Triantafillou, Hayes & Triantafillou, \"Towards Unbounded Machine Unlearning\" (NeurIPS "
              "2023), official code meghdadk/SCRUB (train_distill, large-scale settings); the benchmark's min-then-"
              "max variant from Choi & Na, MUFAC/MUCAC (arXiv:2311.02240).",
    hparams=HPARAMS, run=run)
