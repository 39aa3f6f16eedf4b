"""NegGrad: gradient ascent on the forget set (minimise -loss), with no retain term."""
from __future__ import annotations

import itertools

from mu_core.methods.base import TRAIN_FROM, HParam, Method, UnlearnContext
from mu_core.task import task_loss
from mu_core.training import Passes, optimizer

HPARAMS = (
    HParam("loop", "choice", "retain", "What an epoch walks through. retain, as the benchmark's MUFAC and binary "
           "MUCAC notebooks: one forget ascent step per retain batch, the forget batches cycled (about 5.5 passes "
           "over the forget set per epoch on MUFAC), the retain images themselves unused. forget: one pass over the "
           "forget set (the multi-label MUCAC notebook; the engine's earlier behaviour).",
           choices=("retain", "forget"), source="ndb796/MachineUnlearning 01_MUFAC NegGrad notebook (loop over "
           "retain batches with a re-created forget iterator)", earlier="forget"),
    HParam("epochs", "int", 2, "Epochs (benchmark: 2), each as `loop` says.", min=1, max=50, step=1),
    HParam("lr", "float", 0.001, "Learning rate (the benchmark uses SGD 0.001).", min=1e-5, max=0.5, log=True),
    HParam("momentum", "float", 0.0, "SGD momentum (0 in the benchmark).", min=0.0, max=0.99, step=0.01),
    HParam("batch_size", "int", 64, "Forget images per step, and retain images per counted batch with loop retain "
           "(benchmark: 64).", min=8, max=256, step=8),
    TRAIN_FROM,
)


def run(ctx: UnlearnContext, hp: dict) -> None:
    bs = hp["batch_size"]
    per_epoch = ctx.passes(hp["loop"], bs).per_epoch
    forget = ctx.cycle("forget", bs)
    ascent = Passes(lambda: itertools.islice(forget, per_epoch), per_epoch, hp["epochs"])
    ctx.begin(ascent)
    opt = optimizer(ctx.model.parameters(), "sgd", hp["lr"], hp["momentum"])

    def loss(batch):
        x, y = batch
        value = task_loss(ctx.model(x), y, ctx.kind)
        return -value, {"forget": value.detach()}

    ctx.train(ascent, loss, opt)


METHOD = Method(
    name="neggrad", title="NegGrad",
    description="Gradient ascent on the forget set: maximise its loss (cross-entropy, or BCE for multi-label) with "
                "no retain term; quick but prone to wrecking the model.",
    reference="Choi & Na, MUFAC/MUCAC benchmark (arXiv:2311.02240), NegGrad notebooks (-CE on D_f, SGD 0.001, "
              "2 epochs, one forget step per retain batch; forget and retain batches of different sizes are not "
              "skipped here); gradient ascent as in Golatkar et al. (CVPR 2020) and Thudi et al.",
    hparams=HPARAMS, run=run)
