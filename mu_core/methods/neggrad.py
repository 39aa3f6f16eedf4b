"""NegGrad: gradient ascent on the forget set (minimise -loss), with no retain term."""
from __future__ import annotations

from mu_core.methods.base import TRAIN_FROM, HParam, Method, UnlearnContext
from mu_core.methods.common import optimizer, step
from mu_core.task import task_loss

HPARAMS = (
    HParam("epochs", "int", 2, "Passes over the forget set (the benchmark's MUFAC loop makes one forget step per "
           "retain batch instead, about 5.5 passes per epoch).", min=1, max=50, step=1),
    HParam("lr", "float", 0.001, "Learning rate (the benchmark uses SGD 0.001).", min=1e-5, max=0.5, log=True),
    HParam("momentum", "float", 0.0, "SGD momentum (0 in the benchmark).", min=0.0, max=0.99, step=0.01),
    HParam("batch_size", "int", 64, "Forget images per step.", min=8, max=256, step=8),
    TRAIN_FROM,
)


def run(ctx: UnlearnContext, hp: dict) -> None:
    ctx.begin(hp["epochs"] * ctx.n_batches("forget", hp["batch_size"]))
    opt = optimizer(ctx.model.parameters(), "sgd", hp["lr"], hp["momentum"])
    for _ in range(hp["epochs"]):
        for x, y in ctx.batches("forget", hp["batch_size"]):
            loss = task_loss(ctx.model(x), y, ctx.kind)
            step(opt, -loss)
            ctx.tracker.step(forget=loss.detach())


PRESETS = {
    "orl/person": {"epochs": 10, "lr": 0.01, "momentum": 0.9, "train_from": "fc"},
    "orl/photos": {"epochs": 1, "lr": 0.0001},
}

METHOD = Method(
    name="neggrad", title="NegGrad",
    description="Gradient ascent on the forget set: maximise its loss (cross-entropy, or BCE for multi-label) with "
                "no retain term; quick but prone to wrecking the model.",
    reference="Choi & Na, MUFAC/MUCAC benchmark (arXiv:2311.02240), NegGrad notebooks (-CE on D_f, SGD 0.001, "
              "2 epochs); gradient ascent as in Golatkar et al. (CVPR 2020) and Thudi et al.",
    hparams=HPARAMS, run=run, presets=PRESETS)
