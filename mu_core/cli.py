"""`python -m mu_core <command>`: train, evaluate (and the commands added by the methods registry)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Callable

from mu_core.data import SOURCES, DataOptions
from mu_core.errors import MUError
from mu_core.experiment import Experiment, build_experiment
from mu_core.models import atomic_write
from mu_core.pipeline import score_baselines
from mu_core.report import format_table
from mu_core.training import Progress

Command = Callable[[argparse.Namespace], int]


def add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", default="orl", choices=list(SOURCES),
                   help="data source (default: orl, the built-in faces; see docs/datasets.md)")
    p.add_argument("--data-dir", default=None, help="folder (or CSV) of a bring-your-own dataset")
    p.add_argument("--scenario", default=None, help="forget scenario (orl: person [default] or photos)")
    p.add_argument("--forget", default=None, help="forget set: people:ID,... | photos:ID,... | first:N | random:N "
                                                  "(N or P%%; default: the scenario's)")
    p.add_argument("--subset", type=float, default=None, metavar="SHARE",
                   help="keep this share (0-1] of the identities, for quick runs (bring-your-own data)")
    p.add_argument("--drop-duplicates", action="store_true",
                   help="drop images duplicating (exactly or nearly) an image of an earlier split")
    p.add_argument("--attribute", default=None, metavar="NAME[,NAME...]",
                   help="mucac: the CelebA attribute(s) to predict; one = the binary task (default: Male,Smiling,Young)")
    p.add_argument("--original", default=None, metavar="PATH.pth",
                   help="use a published checkpoint (state dict, loaded with weights_only) as the Original model")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=None, help="override the recipe's training epochs")
    p.add_argument("--image-size", type=int, default=None, help="override the recipe's image size")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when present)")
    p.add_argument("--json", default=None, metavar="PATH", help="write the machine-readable result here")


def experiment_from(args: argparse.Namespace) -> Experiment:
    attributes = tuple(a.strip() for a in (args.attribute or "").split(",") if a.strip())
    options = DataOptions(subset=args.subset, drop_duplicates=args.drop_duplicates, attributes=attributes)
    return build_experiment(args.dataset, args.scenario, args.forget, args.seed, args.epochs, args.image_size,
                            args.data_dir, args.device, data_options=options, original=args.original)


class ConsoleProgress:
    """Progress on stderr, one updating line per stage."""

    def __init__(self) -> None:
        self.last = ""

    def __call__(self, p: Progress) -> None:
        line = p.text()
        sys.stderr.write("\r" + line[:150].ljust(len(self.last[:150])))
        sys.stderr.flush()
        self.last = line
        if p.step >= p.total:
            sys.stderr.write("\n")
            self.last = ""


def write_json(path: str | None, payload: dict) -> None:
    if path:
        atomic_write(Path(path), lambda p: p.write_text(json.dumps(payload, indent=2, default=float)))
        print(f"wrote {path}")


def describe(exp: Experiment) -> str:
    s = exp.splits.sizes()
    lines = [f"{exp.dataset.title} | scenario {exp.splits.scenario} | forget {exp.splits.forget_spec} | "
             f"seed {exp.seed} | train {s['train']} (forget {s['forget']}, retain {s['retain']}), "
             f"test {s['test']}, MIA non-members {s['unseen']} | device {exp.device}"]
    if exp.original is not None:
        lines.append(f"Original: imported from {exp.original.path} (sha256 {exp.original.sha256[:12]}...)")
    return "\n".join(lines + [f"data note: {note}" for note in exp.dataset.notes])


def cmd_train(args: argparse.Namespace) -> int:
    exp = experiment_from(args)
    print(describe(exp))
    notes: list[str] = []
    scored = score_baselines(exp, ConsoleProgress(), notes=notes)
    for note in notes:
        print("note:", note)
    results = {name: s.result for name, s in scored.items()}
    print(format_table(list(results.values())))
    write_json(args.json, results)
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    exp = experiment_from(args)
    print(describe(exp))
    scored = score_baselines(exp, ConsoleProgress())
    rows = [scored["retrained"].result]
    if args.model != "retrained":
        rows.insert(0, scored[args.model].result)
    print(format_table(rows))
    write_json(args.json, rows[0])
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m mu_core", description="Machine unlearning on face models.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train", help="train (or load cached) Original and Retrained models and print their metrics")
    add_common(p)
    p.set_defaults(func=cmd_train)
    p = sub.add_parser("evaluate", help="evaluate a model beside Retrained")
    add_common(p)
    p.add_argument("--model", choices=("original", "retrained"), default="original")
    p.set_defaults(func=cmd_evaluate)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (MUError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted: nothing half-written was stored; cached checkpoints stay valid.", file=sys.stderr)
        return 130
