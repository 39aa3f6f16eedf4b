"""The command line's reference-bank parts: the `references` command and the `--references N` option of `unlearn`,
`evaluate` and `benchmark` (build or reuse a bank of N Retrained models, run the method N times, print the
bank-level verdict)."""
from __future__ import annotations

import argparse
import math

from mu_core import bank as B
from mu_core.errors import MUError
from mu_core.experiment import Experiment
from mu_core.pipeline import Scored
from mu_core.results import format_verdict
from mu_core.run_spec import RunSpec
from mu_core.settings import ray_address
from mu_core.training import ProgressFn

def add_ray_address(p: argparse.ArgumentParser, work: str = "the bank's trainings") -> None:
    """--ray-address, the one way every command names a Ray cluster for `work`."""
    p.add_argument("--ray-address", default=None, metavar="ADDRESS",
                   help=f"an existing Ray cluster (HOST:PORT, ray://HOST:PORT or auto) for {work} (default: "
                        "$MU_RAY_ADDRESS, else a local Ray instance with one task per core)")


def add_options(p: argparse.ArgumentParser) -> None:
    """--references N and --ray-address, for unlearn, evaluate and benchmark."""
    p.add_argument("--references", type=int, default=None, metavar="N",
                   help=f"judge with a reference bank of N Retrained models ({B.MIN_MODELS}-{B.MAX_MODELS}; built "
                        "once and cached) and the method run N times: adds the per-photo membership check")
    add_ray_address(p)


def add_references_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--n", type=int, default=16, help=f"how many Retrained models ({B.MIN_MODELS}-{B.MAX_MODELS}; "
                                                     "default 16)")
    add_ray_address(p)


def address(args: argparse.Namespace) -> str | None:
    return args.ray_address or ray_address()


def check(args: argparse.Namespace, n: int | None) -> None:
    """The bank's options, checked before any training: N within bounds, a given Ray address reachable."""
    if n is None:
        return
    B.check_n(n)
    if address(args):
        B.check_reachable(address(args))


def format_bank(bank: B.ReferenceBank) -> str:
    """The bank's size, how it was built and the spread of its models' metrics."""
    lines = [f"reference bank: {bank.n_models} Retrained models, {bank.trained} trained now, "
             f"{bank.n_models - bank.trained} from the cache; {bank.seconds:.1f} s ({bank.workers})",
             f"  {'metric':18} {'mean':>8} {'std':>8} {'min':>8} {'max':>8}  models"]
    for key, s in bank.spread().items():
        cells = " ".join("     n/a" if math.isnan(s[k]) else f"{s[k]:8.4f}" for k in ("mean", "std", "min", "max"))
        lines.append(f"  {key:18} {cells}  {s['n']}")
    return "\n".join(lines)


def bank_json(bank: B.ReferenceBank) -> dict:
    return {"n_models": bank.n_models, "seeds": bank.seeds, "trained": bank.trained, "seconds": bank.seconds,
            "workers": bank.workers, "spread": bank.spread(), "models": bank.metrics}


def references_of(exp: Experiment, args: argparse.Namespace, n: int, progress: ProgressFn) -> B.ReferenceBank:
    """Build or load the experiment's bank of `n` models and print it."""
    bank = B.build_bank(exp, n, address(args), progress)
    print(format_bank(bank))
    return bank


def judge(exp: Experiment, args: argparse.Namespace, baselines: dict[str, Scored], scored: Scored,
          spec: RunSpec | None, bank: B.ReferenceBank, progress: ProgressFn) -> None:
    """Replace `scored`'s verdict with the bank-level one (the method of `spec`, which gave `scored`, run len(bank)
    times; the Original, with no `spec`, does nothing and is its own N runs), add the bank metrics to its metrics,
    and print the verdict."""
    name = scored.result.method
    if spec is None:
        runs = [scored.evaluation] * bank.n_models
    else:
        runs = B.unlearning_runs(exp, spec, bank.n_models, baselines, address(args), progress)
    verdict, metrics = B.judged_with_bank(exp, baselines, scored, bank, runs)
    scored.result = scored.result.with_verdict(verdict).with_metrics(metrics)
    print(format_verdict(verdict, f"{name}, seed {scored.result.seed}"))


def refuse_stored_run(args: argparse.Namespace) -> None:
    """A stored run keeps per-sample losses, not the logits and features the bank checks need."""
    if args.references is not None and args.model not in ("original", "retrained"):
        raise MUError("--references judges a model computed now: use it with --model original, or rerun the method "
                      "with `unlearn --references N` (a stored run keeps no logits or features).")
