"""Speed figures on this machine (a benchmark command, not a test): `python -m mu_core.bench`.

Prints the seconds to train the Original, the seconds to evaluate one model on every split, and the evaluation
throughput as a ratio to a bare forward pass of the same model over the same tensors in the same process."""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from mu_core.baselines import get_baseline
from mu_core.data.transforms import to_float
from mu_core.evaluation import EVAL_BATCH, SPLITS, evaluate
from mu_core.experiment import build_experiment


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


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m mu_core.bench", description=__doc__)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--image-size", type=int, default=None)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--retrain", action="store_true", help="train the Original even when it is cached")
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
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
