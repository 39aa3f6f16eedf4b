"""Speed figures on this machine (a benchmark command, not a test): `python -m mu_core.bench`.

Prints the seconds to train the Original, the seconds to evaluate one model on every split, and the evaluation
throughput as a ratio to a bare forward pass of the same model over the same tensors in the same process; then the
training throughput (images/s) at each precision the hardware runs natively (fp32, and bf16 where supported), as
the training loop (`fit`: shuffling, augmentation, schedule, progress) and as bare train steps (forward, backward and
optimizer step on the same batches, prepared beforehand), with their ratio. All at the current thread count."""
from __future__ import annotations

import argparse
import dataclasses
import math
import time

import numpy as np
import torch

from mu_core.baselines import get_baseline
from mu_core.data.transforms import augment, to_float
from mu_core.evaluation import EVAL_BATCH, SPLITS, evaluate
from mu_core.experiment import Experiment, build_experiment
from mu_core.models import build_model
from mu_core.recipe import PRECISIONS
from mu_core.task import task_loss
from mu_core.training import (batch_indices, bf16_supported, fit, make_optimizer, seed_everything,
                              training_autocast)


@torch.inference_mode()
def bare_forward(model: torch.nn.Module, x: torch.Tensor, device: torch.device) -> None:
    model.eval()
    for start in range(0, len(x), EVAL_BATCH):
        model(to_float(x[start:start + EVAL_BATCH].to(device)))


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def train_throughput(exp: Experiment, precision: str, epochs: int, repeats: int) -> tuple[float, float]:
    """Images per second of `fit` and of bare train steps over the same batches (best of `repeats` each), for the
    experiment's recipe at `precision` on its training photos."""
    recipe = dataclasses.replace(exp.recipe, precision=precision, epochs=epochs)
    x, y = exp.data("train")
    kind, classes = exp.dataset.kind, exp.dataset.num_classes
    generator = seed_everything(exp.seed)
    batches = [(augment(to_float(x[b]), recipe.augment, generator).to(exp.device), y[b].to(exp.device))
               for _ in range(epochs) for b in batch_indices(len(x), recipe.batch_size, generator)]
    model = build_model(classes).to(exp.device).train()
    optimizer = make_optimizer(model.parameters(), recipe)

    def bare_steps() -> None:
        for inputs, labels in batches:
            with training_autocast(recipe, exp.device):
                loss = task_loss(model(inputs), labels, kind)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

    def loop() -> None:
        fit(build_model(classes), x, y, recipe, kind, generator=seed_everything(exp.seed), device=exp.device)

    images = len(x) * epochs
    bare_steps()  # warm-up (allocations, oneDNN kernels for this shape and precision)
    bare_s = best_of(bare_steps, repeats)
    fit_s = best_of(loop, repeats)
    return images / fit_s, images / bare_s


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m mu_core.bench", description=__doc__)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--image-size", type=int, default=None)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--retrain", action="store_true", help="train the Original even when it is cached")
    p.add_argument("--train-epochs", type=int, default=1, help="epochs per training-throughput measurement")
    p.add_argument("--train-repeats", type=int, default=2, help="training-throughput measurements (best is kept)")
    args = p.parse_args(argv)
    exp = build_experiment(seed=args.seed, epochs=args.epochs, image_size=args.image_size)
    if args.retrain:
        exp.checkpoint_dir = exp.checkpoint_dir / "bench"
    original = get_baseline(exp, "original")
    how = "cached; measured when it was trained" if original.cached else "trained now"
    print(f"device {exp.device}, {torch.get_num_threads()} threads, image size {exp.image_size}")
    print(f"train Original: {original.seconds:.1f} s ({exp.recipe.epochs} epochs, {len(exp.splits.train)} photos; "
          f"{how})")
    model, ds = original.model, exp.dataset
    needed = np.unique(np.concatenate([getattr(exp.splits, s) for s in SPLITS]))
    x = ds.images(exp.image_size)[torch.from_numpy(needed)]
    evaluate(model, ds, exp.splits, exp.device, exp.image_size)  # warm-up
    eval_s = best_of(lambda: evaluate(model, ds, exp.splits, exp.device, exp.image_size), args.repeats)
    bare_s = best_of(lambda: bare_forward(model, x, exp.device), args.repeats)
    print(f"evaluate one model on every split ({', '.join(SPLITS)}; {len(needed)} distinct photos): {eval_s:.3f} s")
    print(f"bare forward pass over the same {len(needed)} tensors: {bare_s:.3f} s")
    print(f"evaluation throughput / bare forward throughput: {bare_s / eval_s:.3f}")
    n_steps = math.ceil(len(exp.splits.train) / exp.recipe.batch_size) * args.train_epochs
    print(f"training throughput, {torch.get_num_threads()} threads, {exp.image_size} px, batches of "
          f"{exp.recipe.batch_size} ({n_steps} steps, best of {args.train_repeats}):")
    for precision in PRECISIONS:
        if precision == "bf16" and not bf16_supported(exp.device):
            print(f"  bf16: not supported natively on {exp.device} here (not measured)")
            continue
        loop_ips, bare_ips = train_throughput(exp, precision, args.train_epochs, args.train_repeats)
        print(f"  {precision}: training loop {loop_ips:.0f} images/s, bare train step {bare_ips:.0f} images/s, "
              f"loop / bare {loop_ips / bare_ips:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
