"""Random labels (Amnesiac unlearning): train on the retain set together with the forget set relabelled with
random wrong labels."""
from __future__ import annotations

from mu_core.methods.base import RETAIN_SHARE, TRAIN_FROM, HParam, Method, UnlearnContext
from mu_core.methods.common import relabelled_train_set, task_step
from mu_core.training import optimizer

HPARAMS = (
    HParam("epochs", "int", 1, "Passes over retain + relabelled forget (3 in the SSD repository's Amnesiac "
           "baseline).", min=1, max=500, step=1),
    HParam("lr", "float", 1e-4, "Learning rate (Adam 1e-4 in the SSD repository's Amnesiac baseline).", min=1e-6,
           max=0.5, log=True),
    HParam("optimizer", "choice", "adam", "Optimizer (Adam in the SSD repository's Amnesiac baseline).",
           choices=("adam", "sgd")),
    HParam("momentum", "float", 0.9, "SGD momentum (ignored by Adam).", min=0.0, max=0.99, step=0.01),
    HParam("batch_size", "int", 64, "Images per step, drawn from retain and relabelled forget together.", min=8,
           max=256, step=8),
    RETAIN_SHARE,
    TRAIN_FROM,
)


def run(ctx: UnlearnContext, hp: dict) -> None:
    relabelled = ctx.passes(relabelled_train_set(ctx), hp["batch_size"], hp["epochs"])
    ctx.begin(relabelled)
    opt = optimizer(ctx.model.parameters(), hp["optimizer"], hp["lr"], hp["momentum"])
    ctx.train(relabelled, task_step(ctx), opt, stage="unlearning")


METHOD = Method(
    name="random_labels", title="Random Labels",
    description="Relabel every forget image once with a random wrong label (multi-label: random attributes "
                "flipped) and train on it mixed with the retain set, so the model unlearns the true labels while "
                "the retain data keeps it accurate.",
    reference="Graves et al., 'Amnesiac Machine Learning' (AAAI 2021); the 'amnesiac' baseline of the SSD "
              "repository (if-loops/selective-synaptic-dampening, random wrong labels mixed with D_r, Adam 1e-4, "
              "3 epochs, batch 128).",
    hparams=HPARAMS, run=run)
