"""Retrained for the same compute: the baseline every method must beat. Train a new network from scratch on the
retain set with the data's recipe, stopped after `budget` times the steps of a full retraining, with the recipe's
learning-rate schedule compressed into those steps (the one-cycle warm-up and annealing run in full, only faster),
so that the baseline is as strong as the recipe makes it for that compute. A method is worth its name only where it
forgets at a compute ratio at which this baseline does not."""
from __future__ import annotations

from mu_core.methods.base import HParam, Method, UnlearnContext
from mu_core.models import build_model
from mu_core.recipe import Recipe
from mu_core.training import fit, n_batches
from mu_core.yardstick import BASELINE

HPARAMS = (
    HParam("budget", "float", 0.1, "Compute as a share of a full retraining: the run trains budget x the recipe's "
           "steps from scratch on the retain set, with the recipe's whole learning-rate schedule compressed into "
           "them (the strongest use of that compute the recipe knows). Its compute ratio is close to this value.",
           min=0.01, max=1.0, log=True, source="this project: the baseline of the compute-vs-forgetting curve"),
)


def budget_steps(n_retain: int, recipe: Recipe, budget: float) -> int:
    """Optimizer steps of a run with `budget`: that share of the recipe's epochs x batches per epoch, at least 1."""
    full = recipe.epochs * n_batches(n_retain, recipe.batch_size)
    return max(1, round(budget * full))


def run(ctx: UnlearnContext, hp: dict) -> None:
    x, y = ctx.data("retain")
    steps = budget_steps(len(x), ctx.exp.recipe, hp["budget"])
    ctx.begin(steps, stage="retraining from scratch")
    ctx.model.load_state_dict(build_model(ctx.num_classes).state_dict())
    fit(ctx.model, x, y, ctx.exp.recipe, ctx.kind, generator=ctx.generator, device=ctx.device, steps=steps,
        tracker=ctx.tracker, stage="Retraining for the budget")


METHOD = Method(
    name=BASELINE, title="Retrained for the same compute",
    description="The baseline: train from scratch on the retain set with the recipe, stopped at a compute budget "
                "(a share of a full retraining) with the learning-rate schedule compressed into it.",
    reference="This project's baseline for the compute-vs-forgetting curve: retraining from scratch (the gold "
              "standard) cut to the compute a method spends.",
    hparams=HPARAMS, run=run)
