"""Fine-tuning: keep training the Original on the retain set only, hoping it drifts away from the forget set."""
from __future__ import annotations

from mu_core.methods.base import RETAIN_SHARE, HParam, Method, UnlearnContext
from mu_core.methods.common import task_step
from mu_core.training import optimizer

HPARAMS = (
    HParam("epochs", "int", 2, "Passes over the retain set.", min=1, max=20, step=1),
    HParam("lr", "float", 0.001, "Learning rate (the benchmark uses SGD 0.001).", min=1e-5, max=0.5, log=True),
    HParam("momentum", "float", 0.0, "SGD momentum (0 in the benchmark).", min=0.0, max=0.99, step=0.01),
    HParam("weight_decay", "float", 0.0, "SGD weight decay (0 in the benchmark).", min=0.0, max=0.01, step=0.0001),
    HParam("batch_size", "int", 64, "Retain images per step.", min=8, max=256, step=8),
    HParam("augment", "bool", True, "Augment the retain images with the training recipe's augmentation, as the "
           "benchmark does."),
    RETAIN_SHARE,
)


def run(ctx: UnlearnContext, hp: dict) -> None:
    retain = ctx.passes("retain", hp["batch_size"], hp["epochs"], hp["augment"])
    ctx.begin(retain)
    opt = optimizer(ctx.model.parameters(), "sgd", hp["lr"], hp["momentum"], hp["weight_decay"])
    ctx.train(retain, task_step(ctx, "retain"), opt)


METHOD = Method(
    name="finetune", title="Fine-tuning",
    description="Continue training on the retain set only (catastrophic forgetting of the forget set).",
    reference="Choi & Na, MUFAC/MUCAC benchmark (arXiv:2311.02240), Fine-tuning baseline.",
    hparams=HPARAMS, run=run)
