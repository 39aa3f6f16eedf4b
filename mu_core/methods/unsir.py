"""UNSIR: learn error-maximising noise, train on it to impair what the model knows about the forget set, then
repair on the retain set."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from mu_core.methods.base import RETAIN_SHARE, TRAIN_FROM, HParam, Method, UnlearnContext
from mu_core.methods.common import n_batches, optimizer, step, train_on
from mu_core.task import loss_per_sample, task_loss
from mu_core.training import batch_indices

HPARAMS = (
    HParam("variant", "choice", "class_noise",
           "class_noise: the original UNSIR, one noise batch per forgotten class maximising its loss (with an L2 "
           "penalty), then an impair pass over that noise labelled with the class plus the retain set. "
           "batch_noise: the MUFAC benchmark's variant, fresh noise per forget batch maximising the logit distance "
           "to it, labelled with a retain batch's labels and trained on together with that retain batch.",
           choices=("class_noise", "batch_noise")),
    HParam("noise_steps", "int", 5, "Adam steps optimising each noise batch (benchmark: 5; original: 5 epochs "
           "x 8 steps).", min=1, max=100, step=1),
    HParam("noise_lr", "float", 0.1, "Adam learning rate of the noise (original: 0.1; benchmark: 0.01).",
           min=1e-4, max=1.0, log=True),
    HParam("noise_per_class", "int", 8, "class_noise: noise images per forgotten class (original: 256, repeated "
           "20 times).", min=1, max=256, step=1),
    HParam("noise_l2", "float", 0.1, "class_noise: weight of the L2 penalty on the noise (original: 0.1).",
           min=0.0, max=1.0, step=0.01),
    HParam("clamp_noise", "bool", True, "Clamp the optimised noise to the image range [0, 1] (the benchmark does; "
           "the original does not, but its images are normalised, so its randn noise is at their scale, while here "
           "images are in [0, 1] as in the benchmark). With train_from below all, the noise stands for the frozen "
           "blocks' outputs, which the trained blocks read, and is never clamped."),
    HParam("impair_epochs", "int", 1, "Stage 1 (impair) epochs (original: 1; benchmark: 2).", min=1, max=10,
           step=1),
    HParam("optimizer", "choice", "adam", "Optimizer of the model in both stages (original: Adam; benchmark: "
           "SGD without momentum).", choices=("adam", "sgd")),
    HParam("lr", "float", 0.02, "Impair learning rate (original: Adam 0.02; benchmark: SGD 0.001).", min=1e-6,
           max=0.5, log=True),
    HParam("repair", "bool", True, "Run stage 2 (repair): train on the retain set after impairing."),
    HParam("repair_epochs", "int", 1, "Stage 2 (repair) epochs (original and benchmark: 1).", min=1, max=10,
           step=1),
    HParam("repair_lr", "float", 0.01, "Repair learning rate (original: Adam 0.01; benchmark: SGD 0.001).",
           min=1e-6, max=0.5, log=True),
    HParam("batch_size", "int", 64, "Images per model step (original: 256; benchmark: 64).", min=8, max=512,
           step=8),
    RETAIN_SHARE,
    TRAIN_FROM,
)


def optimise_noise(ctx: UnlearnContext, shape: tuple[int, ...], objective, hp: dict) -> torch.Tensor:
    """Noise N ~ randn(shape) after `noise_steps` Adam steps minimising objective(model(N), N), with the model in
    eval mode (its BatchNorm statistics are not touched) and only the noise receiving gradients."""
    noise = torch.randn(shape, generator=ctx.generator).to(ctx.device).requires_grad_(True)
    opt = torch.optim.Adam([noise], lr=hp["noise_lr"])
    ctx.model.eval()
    for _ in range(hp["noise_steps"]):
        loss = objective(ctx.model(noise), noise)
        noise.grad, = torch.autograd.grad(loss, [noise])
        opt.step()
        ctx.tracker.step(stage="noise", noise=loss.detach())
    ctx.model.train()
    noise = noise.detach()
    return noise.clamp_(0.0, 1.0) if hp["clamp_noise"] and not ctx.trained_from else noise


def forget_classes(y: torch.Tensor) -> torch.Tensor:
    """The distinct labels of the forget set (label vectors for multi-label)."""
    return torch.unique(y, dim=0)


def class_noise(ctx: UnlearnContext, hp: dict, opt: torch.optim.Optimizer) -> None:
    """Original UNSIR: noise per forgotten class maximising -CE + l2 * mean ||N||^2 (all classes optimised at
    once, which is the same as one by one: eval mode and Adam act per image and per element); then impair epochs
    of the task loss over the noise (labelled with its class) and the retain set, shuffled together."""
    x_r, y_r = ctx.data("retain")
    k = hp["noise_per_class"]
    labels = forget_classes(ctx.data("forget")[1]).repeat_interleave(k, dim=0)

    def objective(logits: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        penalty = hp["noise_l2"] * noise.square().flatten(1).sum(dim=1)
        return (penalty - loss_per_sample(logits, labels, ctx.kind)).sum() / k

    noise = optimise_noise(ctx, (len(labels), *x_r.shape[1:]), objective, hp)
    for _ in range(hp["impair_epochs"]):
        for idx in batch_indices(len(noise) + len(x_r), hp["batch_size"], ctx.generator):
            idx = idx.to(ctx.device)
            is_noise = idx < len(noise)
            retain = idx[~is_noise] - len(noise)
            x = torch.cat([noise[idx[is_noise]], ctx.prepare(x_r[retain])])
            y = torch.cat([labels[idx[is_noise]], y_r[retain]])
            loss = task_loss(ctx.model(x), y, ctx.kind)
            step(opt, loss)
            ctx.tracker.step(stage="impair", impair=loss.detach())


def batch_noise(ctx: UnlearnContext, hp: dict, opt: torch.optim.Optimizer) -> None:
    """The benchmark's variant: for each (retain, forget) batch pair, noise maximising the MSE between its logits
    and the forget batch's logits; one step on CE(noise, retain labels) + CE(retain batch).
    Pairs of different sizes are truncated to the smaller size (the benchmark skips them)."""
    for _ in range(hp["impair_epochs"]):
        pairs = zip(ctx.batches("retain", hp["batch_size"]), ctx.batches("forget", hp["batch_size"]))
        for (x_r, y_r), (x_f, _) in pairs:
            m = min(len(x_r), len(x_f))
            with torch.no_grad():
                target = ctx.model.eval()(x_f[:m])

            def objective(logits: torch.Tensor, _noise: torch.Tensor) -> torch.Tensor:
                return -F.mse_loss(logits, target)

            noise = optimise_noise(ctx, (m, *x_r.shape[1:]), objective, hp)
            noise_loss = task_loss(ctx.model(noise), y_r[:m], ctx.kind)
            retain_loss = task_loss(ctx.model(x_r), y_r, ctx.kind)
            step(opt, noise_loss + retain_loss)
            ctx.tracker.step(stage="impair", impair_noise=noise_loss.detach(), impair_retain=retain_loss.detach())


def run(ctx: UnlearnContext, hp: dict) -> None:
    n_r = ctx.n_batches("retain", hp["batch_size"])
    if hp["variant"] == "class_noise":
        n_noise = len(forget_classes(ctx.data("forget")[1])) * hp["noise_per_class"]
        impair = hp["noise_steps"] + hp["impair_epochs"] * n_batches(n_noise + len(ctx.data("retain")[0]),
                                                                      hp["batch_size"])
    else:
        impair = hp["impair_epochs"] * min(n_r, ctx.n_batches("forget", hp["batch_size"])) * (hp["noise_steps"] + 1)
    ctx.begin(impair + (hp["repair_epochs"] * n_r if hp["repair"] else 0))
    opt = optimizer(ctx.model.parameters(), hp["optimizer"], hp["lr"])
    (class_noise if hp["variant"] == "class_noise" else batch_noise)(ctx, hp, opt)
    if hp["repair"]:
        repair_opt = optimizer(ctx.model.parameters(), hp["optimizer"], hp["repair_lr"])
        train_on(ctx, *ctx.data("retain"), hp["repair_epochs"], hp["batch_size"], repair_opt, stage="repair")


PRESETS = {
    "orl/person": {"noise_per_class": 32, "impair_epochs": 10, "optimizer": "sgd", "lr": 0.2, "repair": False,
                   "train_from": "fc"},
    "orl/photos": {"noise_steps": 1, "noise_per_class": 1, "lr": 0.0001, "repair": False, "retain_share": 0.4,
                   "train_from": "layer4"},
}

METHOD = Method(
    name="unsir", title="UNSIR",
    description="Impair with error-maximising noise for the forget set, then repair on the retain set (stage 2 "
                "optional).",
    reference="Tarun, Chundawat, Mandal & Kankanhalli, \"Fast Yet Effective Machine Unlearning\" (IEEE TNNLS 2023), "
              "official notebook vikram2000b/Fast-Machine-Unlearning; the per-batch variant from Choi & Na, "
              "MUFAC/MUCAC (arXiv:2311.02240) UNSIR notebooks.",
    hparams=HPARAMS, run=run, presets=PRESETS)
