"""Advanced NegGrad: descend the retain loss while ascending a weighted forget loss, CE_r - w * CE_f."""
from __future__ import annotations

from mu_core.methods.base import RETAIN_SHARE, TRAIN_FROM, HParam, Method, UnlearnContext
from mu_core.task import task_loss
from mu_core.training import optimizer

HPARAMS = (
    HParam("epochs", "int", 2, "Passes over the retain set; each step pairs a retain batch with the next forget "
           "batch (the forget set is cycled).", min=1, max=500, step=1),
    HParam("lr", "float", 0.001, "Learning rate (the benchmark uses SGD 0.001).", min=1e-5, max=0.5, log=True),
    HParam("momentum", "float", 0.0, "SGD momentum (0 in the benchmark).", min=0.0, max=0.99, step=0.01),
    HParam("forget_weight", "float", 1.0, "w in CE_r - w * CE_f: 1 in the benchmark, 0.1 in the GISA study.",
           min=0.0, max=5.0, step=0.05),
    HParam("batch_size", "int", 64, "Retain images per step.", min=8, max=256, step=8),
    HParam("forget_batch_size", "int", 64, "Forget images per step (the sources use the retain batch size; smaller "
           "is cheaper).", min=4, max=256, step=4),
    RETAIN_SHARE,
    TRAIN_FROM,
)


def run(ctx: UnlearnContext, hp: dict) -> None:
    pairs = ctx.paired(ctx.passes("retain", hp["batch_size"], hp["epochs"]), "forget", hp["forget_batch_size"])
    ctx.begin(pairs)
    opt = optimizer(ctx.model.parameters(), "sgd", hp["lr"], hp["momentum"])

    def loss(batch):
        (x_r, y_r), (x_f, y_f) = batch
        retain_loss = task_loss(ctx.model(x_r), y_r, ctx.kind)
        forget_loss = task_loss(ctx.model(x_f), y_f, ctx.kind)
        return (retain_loss - hp["forget_weight"] * forget_loss,
                {"retain": retain_loss.detach(), "forget": forget_loss.detach()})

    ctx.train(pairs, loss, opt)


METHOD = Method(
    name="adv_neggrad", title="Advanced NegGrad",
    description="Minimise the retain loss minus a weighted forget loss (CE_r - w * CE_f) over retain batches paired "
                "with cycled forget batches; all pairs are used, even when the two batch sizes differ (the "
                "benchmark's code skips those).",
    reference="Choi & Na, MUFAC/MUCAC benchmark (arXiv:2311.02240), 'NegGrad with classification loss' (w=1, SGD "
              "0.001, 2 epochs); the GISA study (YuliiaSuprun/MachineUnlearning) uses w=0.1.",
    hparams=HPARAMS, run=run)
