"""Selective Synaptic Dampening: no training; shrink the weights far more important to the forget set than to the
training data, in proportion to how much more important they are."""
from __future__ import annotations

from dataclasses import replace

import torch

from mu_core.methods.base import RETAIN_SHARE, TRAIN_FROM, HParam, Method, UnlearnContext
from mu_core.methods.common import diag_importance
from mu_core.task import task_loss
from mu_core.training import Passes

HPARAMS = (
    HParam("dampening", "float", 1.0, "lambda: a selected weight is multiplied by min(lambda * I_D / I_f, 1) "
           "(1 in the paper; 0.1 in the GISA study and the paper's note on faces).", min=0.01, max=10.0, log=True),
    HParam("selection", "float", 10.0, "alpha: a weight is selected when I_f > alpha * I_D (10 in the paper; 50 in "
           "its note on faces).", min=1.0, max=200.0, log=True),
    HParam("importance_set", "choice", "train", "Data for I_D: the full training set as published, or the retain "
           "set as the GISA study did (with retain_share below 1: the forget set plus that share of the retain "
           "set, or that share).", choices=("train", "retain")),
    HParam("importance_order", "choice", "concat", "Order of the importance passes. concat: the retain set then "
           "the forget set, unshuffled, and the forget set unshuffled, as published (so the forget images fill the "
           "last batches on their own, and with a forget share of the training data at or above 1/alpha almost no "
           "weight is selected). shuffled: both passes shuffled (the engine's earlier behaviour).",
           choices=("concat", "shuffled"),
           source="if-loops/selective-synaptic-dampening forget_*_main.py: full_train_dl = "
                  "DataLoader(ConcatDataset((retain, forget))) and forget_train_dl, both without shuffle",
           earlier="shuffled"),
    HParam("batch_size", "int", 64, "Images per batch of the importance passes (the importance is a mean of "
           "squared batch gradients, so it depends on this; 128 in the paper).", min=8, max=256, step=8),
    RETAIN_SHARE,
    replace(TRAIN_FROM, help="The lowest block SSD dampens: all = the whole network, as published; layer1 to fc "
            "leave everything below that block as it is, and the importances are taken of the blocks from it up."),
)


@torch.no_grad()
def dampen(model: torch.nn.Module, reference: dict[str, torch.Tensor], forget: dict[str, torch.Tensor],
           dampening: float, selection: float) -> float:
    """Multiply every parameter element with I_f > selection * I_D by min(dampening * I_D / I_f, 1); returns the
    share of elements selected. Weights never grow."""
    selected = total = 0
    for name, p in model.named_parameters():
        i_d, i_f = reference[name], forget[name]
        chosen = i_f > selection * i_d
        factor = (dampening * i_d / i_f.clamp_min(torch.finfo(i_f.dtype).tiny)).clamp(max=1.0)
        p.mul_(torch.where(chosen, factor, torch.ones_like(factor)))
        selected += int(chosen.sum())
        total += p.numel()
    return selected / total


def importance_data(ctx: UnlearnContext, split: str, order: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The images and labels of an importance pass over `split`; in the published (concat) order the training set
    is the retain set followed by the forget set."""
    if split == "train" and order == "concat":
        return tuple(torch.cat(pair) for pair in zip(ctx.data("retain"), ctx.data("forget")))
    return ctx.data(split)


def importance_pass(ctx: UnlearnContext, split: str, batch_size: int, order: str) -> Passes:
    """Un-augmented batches of an importance pass, in the order `importance_order` chooses."""
    return ctx.passes(importance_data(ctx, split, order), batch_size, train_augment=False,
                      shuffle=order == "shuffled")


def run(ctx: UnlearnContext, hp: dict) -> None:
    bs, source, order = hp["batch_size"], hp["importance_set"], hp["importance_order"]
    passes = {split: importance_pass(ctx, split, bs, order) for split in (source, "forget")}
    ctx.begin(*passes.values(), 1)
    ctx.model.eval()
    loss = lambda z, y: task_loss(z, y, ctx.kind)  # noqa: E731

    def importance(split: str) -> dict[str, torch.Tensor]:
        return diag_importance(ctx.model, passes[split], loss, ctx.tracker, f"importance on {split}")

    reference, forget = importance(source), importance("forget")
    share = dampen(ctx.model, reference, forget, hp["dampening"], hp["selection"])
    ctx.tracker.step("dampening", selected_share=share)


METHOD = Method(
    name="ssd", title="SSD",
    description="Selective Synaptic Dampening, training-free: compute diagonal (Fisher-like) importances on the "
                "training data (I_D) and the forget set (I_f) in eval mode without augmentation, then shrink each "
                "weight with I_f > alpha * I_D by the factor min(lambda * I_D / I_f, 1). The passes run in the "
                "published order (retain then forget, unshuffled) unless importance_order says shuffled.",
    reference="Foster et al., 'Fast Machine Unlearning Without Retraining Through Selective Synaptic Dampening' "
              "(AAAI 2024), if-loops/selective-synaptic-dampening src/ssd.py (lambda 1, alpha 10, exponent 1, "
              "lower bound 1); the retain-set variant is the GISA study's (YuliiaSuprun/MachineUnlearning).",
    hparams=HPARAMS, run=run)
