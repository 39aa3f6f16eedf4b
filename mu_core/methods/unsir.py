"""UNSIR: learn error-maximising noise, train on it to impair what the model knows about the forget set, then
repair on the retain set."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from mu_core.errors import MUError
from mu_core.methods.base import RETAIN_SHARE, TRAIN_FROM, HParam, Method, UnlearnContext
from mu_core.methods.common import has_batchnorm, task_step
from mu_core.task import loss_per_sample, task_loss
from mu_core.training import Passes, batch_indices, n_batches, optimizer

HPARAMS = (
    HParam("variant", "choice", "class_noise",
           "class_noise: the original UNSIR, one noise batch per forgotten class maximising its loss (with an L2 "
           "penalty), then an impair pass over that noise labelled with the class plus the retain set. "
           "batch_noise: the MUFAC benchmark's variant, fresh noise per forget batch maximising the logit distance "
           "to it, labelled with a retain batch's labels and trained on together with that retain batch.",
           choices=("class_noise", "batch_noise")),
    HParam("noise_steps", "int", 40, "Adam steps optimising each noise batch (original: 5 epochs x 8 steps = 40; "
           "benchmark: 5).", min=1, max=100, step=1,
           source="vikram2000b/Fast-Machine-Unlearning notebook (noise: 5 epochs x 8 steps)"),
    HParam("noise_lr", "float", 0.1, "Adam learning rate of the noise (original: 0.1; benchmark: 0.01).",
           min=1e-4, max=1.0, log=True),
    HParam("noise_per_class", "int", 256, "class_noise: noise images per forgotten class (original: 256).",
           min=1, max=256, step=1, source="vikram2000b/Fast-Machine-Unlearning notebook (noise batch 256)"),
    HParam("noise_repeats", "int", 20, "class_noise: times each class's noise appears in the impair set (original: "
           "20 noise batches per class).", min=1, max=50, step=1,
           source="vikram2000b/Fast-Machine-Unlearning notebook (20 noise batches per class)", earlier=1),
    HParam("retain_per_class", "int", 1000, "class_noise: retain images per class, drawn at random, in the impair "
           "and repair stages (original: 1000); 0 = the whole retain set.", min=0, max=5000, step=50,
           source="vikram2000b/Fast-Machine-Unlearning notebook (1000 retain samples per class)", earlier=0),
    HParam("noise_mode", "choice", "train", "class_noise: the model's mode while the noise is optimised. train, as "
           "the original: BatchNorm normalises each class's noise batch with its own statistics and its running "
           "statistics move toward the noise's; eval: the noise does not touch the model (the engine's earlier "
           "behaviour).", choices=("train", "eval"),
           source="vikram2000b/Fast-Machine-Unlearning notebook (model in train mode while the noise is learnt)",
           earlier="eval"),
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


def optimise_noise(ctx: UnlearnContext, noise: torch.Tensor, objective, hp: dict,
                   train_mode: bool = False, stage: str = "noise") -> torch.Tensor:
    """`noise` after `noise_steps` Adam steps minimising objective(model(N), N), only the noise receiving
    gradients; the model is in eval mode (its BatchNorm statistics untouched) unless `train_mode`."""
    noise = noise.requires_grad_(True)
    opt = torch.optim.Adam([noise], lr=hp["noise_lr"])

    def noise_step(_batch: int) -> tuple[None, dict[str, torch.Tensor]]:
        # the gradient with respect to an identity view of the noise (the same numbers), so that the model's
        # weights get none: FLOP counting (mu_core.compute) cannot take a gradient with respect to a leaf tensor
        view = noise.view_as(noise)
        loss = objective(ctx.model(view), view)
        noise.grad, = torch.autograd.grad(loss, [view])
        opt.step()
        return None, {"noise": loss.detach()}

    ctx.model.train(train_mode)
    ctx.train(Passes(lambda: range(hp["noise_steps"]), hp["noise_steps"]), noise_step, stage=stage)
    ctx.model.train()
    noise = noise.detach()
    return noise.clamp_(0.0, 1.0) if hp["clamp_noise"] and not ctx.trained_from else noise


def random_noise(ctx: UnlearnContext, n: int, like: torch.Tensor) -> torch.Tensor:
    return torch.randn((n, *like.shape[1:]), generator=ctx.generator).to(ctx.device)


def forget_classes(y: torch.Tensor) -> torch.Tensor:
    """The distinct labels of the forget set (label vectors for multi-label)."""
    return torch.unique(y, dim=0)


def same_rows(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """[i, j] = label a[i] equals label b[j] (label vectors for multi-label)."""
    return (a.view(len(a), -1)[:, None] == b.view(len(b), -1)[None]).all(dim=2)


def class_noise_warning(y_f: torch.Tensor, y_r: torch.Tensor) -> str | None:
    """UNSIR unlearns whole classes; say so when the forget set covers every class or shares classes with the
    retain set (forget sets that are not whole classes)."""
    forgotten, retained = forget_classes(y_f), forget_classes(y_r)
    same = same_rows(forgotten, retained)
    if bool(same.any(dim=0).all()):
        return ("UNSIR unlearns whole classes, but every class is a forgotten class here (the forget set is not "
                "whole classes): every class gets noise, so the impair stage damages the whole model, not only the "
                "forget images (the batch_noise variant is the MUFAC benchmark's answer to this).")
    shared = int(same.any(dim=1).sum())
    if shared:
        return (f"UNSIR unlearns whole classes: {shared} of the {len(forgotten)} classes of the forget set also "
                "have retain images, and the noise for those classes damages them too.")
    return None


def retain_subset(ctx: UnlearnContext, per_class: int) -> tuple[torch.Tensor, torch.Tensor]:
    """At most `per_class` retain images of each class (label vector for multi-label), drawn at random; all of
    them for 0."""
    x_r, y_r = ctx.data("retain")
    if per_class == 0:
        return x_r, y_r
    groups = torch.unique(y_r, dim=0, return_inverse=True)[1].cpu()
    order = torch.randperm(len(y_r), generator=ctx.generator)
    keep = torch.cat([order[groups[order] == g][:per_class] for g in range(int(groups.max()) + 1)]).sort().values
    return x_r[keep.to(x_r.device)], y_r[keep.to(y_r.device)]


def error_maximising(labels: torch.Tensor, l2: float, per_class: int, kind: str):
    """The noise objective of the original: sum over images of l2 * ||N||^2 - loss, divided by the images per
    class (the mean over one class's batch)."""
    def objective(logits: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        penalty = l2 * noise.square().flatten(1).sum(dim=1)
        return (penalty - loss_per_sample(logits, labels, kind)).sum() / per_class
    return objective


def class_noise(ctx: UnlearnContext, hp: dict, opt: torch.optim.Optimizer,
                retain: tuple[torch.Tensor, torch.Tensor]) -> None:
    """Original UNSIR: noise per forgotten class minimising l2 * ||N||^2 - CE, averaged over the class's images.
    In train mode each class's batch is optimised on its own, as the original does (BatchNorm couples a batch's
    images); in eval mode all classes at once, which is the same (eval mode and Adam act per image and per
    element). Then impair epochs of the task loss over the noise (labelled with its class, each image
    `noise_repeats` times) and the retain images, shuffled together."""
    x_r, y_r = retain
    k = hp["noise_per_class"]
    classes = forget_classes(ctx.data("forget")[1])
    labels = classes.repeat_interleave(k, dim=0)
    noise = random_noise(ctx, len(labels), x_r)
    stage = "noise (warning: the forget set is not whole classes)" if ctx.notes else "noise"  # shown as progress
    groups = [slice(c * k, (c + 1) * k) for c in range(len(classes))] if hp["noise_mode"] == "train" else [
        slice(0, len(labels))]
    for group in groups:
        objective = error_maximising(labels[group], hp["noise_l2"], k, ctx.kind)
        noise[group] = optimise_noise(ctx, noise[group].clone(), objective, hp, hp["noise_mode"] == "train", stage)
    n_noise = len(noise) * hp["noise_repeats"]

    def one_pass():
        for idx in batch_indices(n_noise + len(x_r), hp["batch_size"], ctx.generator):
            idx = idx.to(ctx.device)
            is_noise = idx < n_noise
            at, retain_idx = idx[is_noise] % len(noise), idx[~is_noise] - n_noise
            retained = ctx.prepare(x_r[retain_idx]) if len(retain_idx) else noise[:0]  # a batch of noise only
            yield torch.cat([noise[at], retained]), torch.cat([labels[at], y_r[retain_idx]])

    impair = Passes(one_pass, n_batches(n_noise + len(x_r), hp["batch_size"]), hp["impair_epochs"])
    ctx.train(impair, task_step(ctx, "impair"), opt, stage="impair")


def batch_noise(ctx: UnlearnContext, hp: dict, opt: torch.optim.Optimizer) -> None:
    """The benchmark's variant: for each (retain, forget) batch pair, noise maximising the MSE between its logits
    and the forget batch's logits; one step on CE(noise, retain labels) + CE(retain batch).
    Pairs of different sizes are truncated to the smaller size (the benchmark skips them)."""
    pairs = batch_noise_pairs(ctx, hp)

    def impair(batch):
        (x_r, y_r), (x_f, _) = batch
        m = min(len(x_r), len(x_f))
        with torch.no_grad():
            target = ctx.model.eval()(x_f[:m])

        def objective(logits: torch.Tensor, _noise: torch.Tensor) -> torch.Tensor:
            return -F.mse_loss(logits, target)

        noise = optimise_noise(ctx, random_noise(ctx, m, x_r), objective, hp)
        noise_loss = task_loss(ctx.model(noise), y_r[:m], ctx.kind)
        retain_loss = task_loss(ctx.model(x_r), y_r, ctx.kind)
        return noise_loss + retain_loss, {"impair_noise": noise_loss.detach(), "impair_retain": retain_loss.detach()}

    ctx.train(pairs, impair, opt, stage="impair")


def batch_noise_pairs(ctx: UnlearnContext, hp: dict) -> Passes:
    """The batch_noise variant's impair epochs: retain batches paired with forget batches, as many as the smaller
    of the two sets gives."""
    retain, forget = ctx.passes("retain", hp["batch_size"]), ctx.passes("forget", hp["batch_size"])
    return Passes(lambda: zip(retain.batches(), forget.batches()), min(retain.per_epoch, forget.per_epoch),
                  hp["impair_epochs"])


def class_noise_setup(ctx: UnlearnContext, hp: dict) -> tuple[tuple[torch.Tensor, torch.Tensor], int]:
    """Check the settings, warn when the forget set is not whole classes, and return the retain images the
    class_noise variant uses and the steps of its noise and impair stages."""
    if hp["noise_mode"] == "train" and hp["noise_per_class"] < 2 and has_batchnorm(ctx.model):
        raise MUError("noise_mode train normalises each class's noise batch with its own BatchNorm statistics, "
                      "which needs at least 2 noise images per class: raise noise_per_class or use noise_mode eval.")
    warning = class_noise_warning(ctx.data("forget")[1], ctx.data("retain")[1])
    if warning:
        ctx.warn(warning)
    retain = retain_subset(ctx, hp["retain_per_class"])
    n_classes = len(forget_classes(ctx.data("forget")[1]))
    noise_steps = hp["noise_steps"] * (n_classes if hp["noise_mode"] == "train" else 1)
    n_impair = n_classes * hp["noise_per_class"] * hp["noise_repeats"] + len(retain[0])
    return retain, noise_steps + hp["impair_epochs"] * n_batches(n_impair, hp["batch_size"])


def run(ctx: UnlearnContext, hp: dict) -> None:
    bs = hp["batch_size"]
    if hp["variant"] == "class_noise":
        retain, impair = class_noise_setup(ctx, hp)
    else:
        retain = ctx.data("retain")
        impair = batch_noise_pairs(ctx, hp).steps * (hp["noise_steps"] + 1)
    repair = ctx.passes(retain, bs, hp["repair_epochs"] if hp["repair"] else 0)
    ctx.begin(impair, repair)
    opt = optimizer(ctx.model.parameters(), hp["optimizer"], hp["lr"])
    if hp["variant"] == "class_noise":
        class_noise(ctx, hp, opt, retain)
    else:
        batch_noise(ctx, hp, opt)
    if hp["repair"]:
        repair_opt = optimizer(ctx.model.parameters(), hp["optimizer"], hp["repair_lr"])
        ctx.train(repair, task_step(ctx), repair_opt, stage="repair")


METHOD = Method(
    name="unsir", title="UNSIR",
    description="Impair with error-maximising noise for the forget set, then repair on the retain set (stage 2 "
                "optional). The class_noise defaults are the original's (256 noise images per forgotten class, "
                "repeated 20 times, 40 noise steps in train mode, 1000 retain images per class): for the built-in "
                "faces' 8 default people, one impair pass covers 40,960 noise images, many times a retraining's "
                "work; fewer noise images per class and repeats make a quick run. "
                "A warning is given when the forget set is not whole classes.",
    reference="Tarun, Chundawat, Mandal & Kankanhalli, \"Fast Yet Effective Machine Unlearning\" (IEEE TNNLS 2023), "
              "official notebook vikram2000b/Fast-Machine-Unlearning; the per-batch variant from Choi & Na, "
              "MUFAC/MUCAC (arXiv:2311.02240) UNSIR notebooks.",
    hparams=HPARAMS, run=run)
