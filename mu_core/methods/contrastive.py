"""Contrastive fine-tuning (Kaggle NeurIPS-2023 Machine Unlearning, 2nd place): flatten the outputs on the
forget set, then alternate pushing forget outputs away from retain outputs with fine-tuning on the retain set."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from mu_core.methods.base import RETAIN_SHARE, TRAIN_FROM, HParam, Method, UnlearnContext
from mu_core.methods.common import kl_to_target, task_step, uniform_target
from mu_core.training import Passes, optimizer

MOMENTUM = 0.9  # every optimizer of the solution

HPARAMS = (
    HParam("epochs", "int", 8, "Stage 2 epochs, each a forget round then a retain round (solution: 8).", min=1,
           max=20, step=1),
    HParam("uniform_lr", "float", 0.005, "Stage 1 learning rate: one pass over the forget set pulling its outputs "
           "to the uniform distribution (solution: SGD 0.005, momentum 0.9).", min=1e-6, max=0.5, log=True),
    HParam("forget_lr", "float", 3e-4, "Forget-round learning rate, cosine-annealed to 1e-6 over all forget "
           "steps (solution: 3e-4).", min=1e-6, max=0.5, log=True),
    HParam("retain_lr", "float", 0.001, "Retain-round learning rate at 64 images per batch, scaled with the batch "
           "size when scale_retain_lr is on (solution: 0.001, i.e. 0.004 at its batch of 256).", min=1e-6, max=0.5,
           log=True, source="Kaggle NeurIPS-2023 2nd place solution (retain lr 0.001 x batch / 64)"),
    HParam("scale_retain_lr", "bool", True, "Multiply retain_lr by batch_size / 64, as the solution does; off = "
           "retain_lr as it is (the engine's earlier behaviour, with retain_lr 0.004).",
           source="Kaggle NeurIPS-2023 2nd place solution (retain lr 0.001 x batch / 64)",
           earlier=False),
    HParam("retain_weight_decay", "float", 0.01, "Retain-round weight decay (solution: 0.01).", min=0.0, max=0.1,
           step=1e-3),
    HParam("temperature", "float", 1.15, "Temperature t dividing the forget-retain logit similarities "
           "(solution: 1.15).", min=0.05, max=10.0, step=0.05),
    HParam("batch_size", "int", 256, "Images per step in every stage (solution: 256).", min=8, max=512, step=8),
    RETAIN_SHARE,
    TRAIN_FROM,
)


def contrastive_loss(forget_logits: torch.Tensor, retain_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """-mean(log_softmax(z_f z_r^T / t)): each forget output is pushed away from every retain output equally."""
    return -F.log_softmax(forget_logits @ retain_logits.T / temperature, dim=1).mean()


def retain_lr(hp: dict) -> float:
    """The retain round's learning rate: retain_lr x batch_size / 64 when scale_retain_lr is on."""
    return hp["retain_lr"] * (hp["batch_size"] / 64 if hp["scale_retain_lr"] else 1.0)


def run(ctx: UnlearnContext, hp: dict) -> None:
    bs = hp["batch_size"]
    forget, retain = ctx.passes("forget", bs), ctx.passes("retain", bs)
    rounds = Passes(lambda: zip(forget.batches(), retain.batches()), min(forget.per_epoch, retain.per_epoch))
    ctx.begin(forget, rounds.times(hp["epochs"]), retain.times(hp["epochs"]))
    params = list(ctx.model.parameters())

    def uniform(batch):
        x, _ = batch
        logits = ctx.model(x)
        loss = kl_to_target(logits, uniform_target(logits, ctx.kind), ctx.kind).mean()
        return loss, {"uniform_kl": loss.detach()}

    def push_away(batch):
        (x_f, _), (x_rf, _) = batch
        with torch.no_grad():
            retain_logits = ctx.model(x_rf)
        loss = contrastive_loss(ctx.model(x_f), retain_logits, hp["temperature"])
        return loss, {"contrastive": loss.detach()}

    ctx.train(forget, uniform, optimizer(params, "sgd", hp["uniform_lr"], MOMENTUM),
              stage="stage 1: uniform outputs on the forget set")
    forget_opt = optimizer(params, "sgd", hp["forget_lr"], MOMENTUM)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(forget_opt, T_max=rounds.steps * hp["epochs"],
                                                          eta_min=1e-6)
    retain_opt = optimizer(params, "sgd", retain_lr(hp), MOMENTUM, hp["retain_weight_decay"])
    for _ in range(hp["epochs"]):
        ctx.train(rounds, push_away, forget_opt, stage="forget round", after_step=schedule.step)
        ctx.train(retain, task_step(ctx), retain_opt, stage="retain round")


METHOD = Method(
    name="contrastive", title="Contrastive fine-tuning",
    description="Pull forget outputs to uniform, then alternate pushing them away from retain outputs "
                "(contrastive) with fine-tuning on the retain set.",
    reference="Kaggle NeurIPS-2023 Machine Unlearning challenge, 2nd place solution (public write-up and "
              "re-implementation); described in YuliiaSuprun/MachineUnlearning, Final Report section 6.1.2.",
    hparams=HPARAMS, run=run)
