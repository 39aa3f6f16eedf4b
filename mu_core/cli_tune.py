"""The command line's tuning parts: `tune` (an Optuna study of one method against the bank-level verdict, trials
as Ray tasks: mu_core.search) and `presets` (regenerate mu_core/presets.json from the trial records by the one
rule of mu_core.tuning)."""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Callable

from mu_core import bank as B
from mu_core import cli_bank, cli_checks, search, tuning
from mu_core.data import SOURCES
from mu_core.errors import MUError
from mu_core.settings import PRECISION_CHOICES, ray_address
from mu_core.training import ProgressFn


def pairs(texts: list[str], option: str, value_needed: bool) -> tuple[tuple[str, str], ...]:
    """`name=value` texts as pairs (`name` alone allowed when no value is needed)."""
    out = []
    for text in texts:
        key, sep, value = text.partition("=")
        if not key.strip() or (value_needed and not sep):
            raise MUError(f"{option} takes {'name=value' if value_needed else 'name or name=range'}, got {text!r}.")
        out.append((key.strip(), value.strip()))
    return tuple(out)


def study_from(args: argparse.Namespace) -> search.Study:
    seeds = cli_checks.parse_seeds(args.seeds)
    study = search.Study(args.method, args.dataset, args.scenario or "person", tuple(seeds), args.references,
                         pairs(args.space, "--space", False), pairs(args.fix, "--fix", True), args.epochs,
                         args.image_size, args.device, args.precision)
    study.check()
    return study


def summary_line(record: dict) -> str:
    seeds = " ".join(f"{s['seed']}:{'forgotten' if s['forgotten'] else 'not' if s['forgotten'] is False else '?'}"
                     for s in record["per_seed"])
    return (f"trial {record['trial']}: {seeds} | checks passed {record['checks_passed']:.2f} | compute ratio "
            f"{record['compute_ratio']:.4f} | {record['seconds']:.0f} s | {record['params']}")


def cmd_tune(args: argparse.Namespace, progress: Callable[[], ProgressFn]) -> int:
    study = study_from(args)
    root = Path(args.out)
    print(f"study {study.path(root)}: seeds {list(study.seeds)}, banks of {study.references}, {args.trials} trials, "
          f"{args.workers} at a time; space {list(study.distributions())}")
    started = time.perf_counter()
    new = search.run_study(study, args.trials, root, args.workers, args.ray_address or ray_address(),
                           args.in_process, args.sampler_seed, progress(), lambda r: print(summary_line(r)))
    passing = [r for r in new if tuning.forgets_everywhere(r)]
    print(f"{len(new)} trials written to {study.path(root)} in {time.perf_counter() - started:.0f} s (baselines and "
          f"banks included); {len(passing)} forgotten on every tuning seed. Regenerate the presets with "
          "`python -m mu_core presets`.")
    return 0


def cmd_presets(args: argparse.Namespace) -> int:
    document = tuning.write_presets(Path(args.trials))
    for method, entries in document["presets"].items():
        for data, entry in entries.items():
            print(f"{method:16} {data:12} {entry['values']}  <- {entry['source'][:80]}")
    print(f"wrote {tuning.PRESETS_FILE}")
    return 0


def add_commands(sub: argparse._SubParsersAction, progress: Callable[[], ProgressFn]) -> None:
    p = sub.add_parser("tune", help="Optuna study of one method against the bank-level verdict on tuning seeds "
                                    "(never the reported ones), trials as Ray tasks; appends trial records")
    p.add_argument("--method", required=True, help="a method name (see `methods`)")
    p.add_argument("--dataset", default="orl", choices=list(SOURCES), help="a built-in dataset (default: orl)")
    p.add_argument("--scenario", default=None, help="forget scenario (orl: person [default] or photos)")
    p.add_argument("--seeds", default=",".join(map(str, search.DEFAULT_SEEDS)),
                   help="tuning seeds, never 0-2 (default: %(default)s)")
    p.add_argument("--references", type=int, default=search.DEFAULT_REFERENCES, metavar="N",
                   help=f"Retrained models in each seed's bank and unlearning runs per trial and seed "
                        f"({B.MIN_MODELS}-{B.MAX_MODELS}; default %(default)s, the smallest with a membership "
                        "noise floor)")
    p.add_argument("--trials", type=cli_checks.whole_number(1, 10_000), default=8, help="default %(default)s")
    p.add_argument("--workers", type=cli_checks.whole_number(1, 4096), default=os.cpu_count() or 1,
                   help="trials run at a time (default: this machine's cores; on a cluster, its CPUs)")
    p.add_argument("--space", action="append", default=[], metavar="NAME[=LOW:HIGH[:log]|=A,B,C]",
                   help="search this hyperparameter (its declared range unless given); repeat; default: every "
                        "hyperparameter not fixed")
    p.add_argument("--fix", action="append", default=[], metavar="NAME=VALUE",
                   help="hold a hyperparameter at a value (the others start from the declared defaults, never "
                        "the data's preset)")
    p.add_argument("--sampler-seed", type=int, default=0, help="seed of Optuna's TPE sampler (default 0)")
    p.add_argument("--epochs", type=cli_checks.EPOCHS, default=None, help="override the recipe's training epochs")
    p.add_argument("--image-size", type=cli_checks.IMAGE_SIZE, default=None, help="override the recipe's image size")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when present)")
    p.add_argument("--precision", default=None, choices=PRECISION_CHOICES,
                   help="training precision of the baselines, banks and runs (default: $MU_PRECISION, else fp32)")
    p.add_argument("--out", default=str(tuning.TRIALS_ROOT), help="folder of the study files (default: "
                                                                  "docs/tuning/trials)")
    cli_bank.add_ray_address(p, "the trials and banks")
    p.add_argument("--in-process", action="store_true", help="run the trials here, one at a time, without Ray")
    p.set_defaults(func=lambda args: cmd_tune(args, progress))
    p = sub.add_parser("presets", help="regenerate mu_core/presets.json from the trial records (mu_core.tuning.pick)")
    p.add_argument("--trials", default=str(tuning.TRIALS_ROOT), help="folder of the study files")
    p.set_defaults(func=cmd_presets)
