"""`python -m mu_core <command>`: train, evaluate, methods, unlearn, benchmark, references, tune, presets, report."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from mu_core import cli_bank, cli_checks, cli_report, cli_tune, jsonio
from mu_core.data import SOURCES, DataOptions
from mu_core.errors import MUError
from mu_core.experiment import Experiment, build_experiment
from mu_core.models import atomic_write
from mu_core.methods import REGISTRY, get_method
from mu_core.pipeline import execute_run, run_method, score_baselines
from mu_core.relearn import relearn_metrics
from mu_core.results import ModelResult, format_table, format_verdict, summary_table, to_csv
from mu_core.run_spec import spec_for
from mu_core.settings import PRECISION_CHOICES, precision_setting
from mu_core.store import RunStore
from mu_core.training import Progress


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
                   help="mucac: the CelebA attribute(s) to predict; one = the binary task "
                        "(default: Male,Smiling,Young)")
    p.add_argument("--original", default=None, metavar="PATH.pth",
                   help="use a published checkpoint (state dict, loaded with weights_only) as the Original model")
    p.add_argument("--seed", type=cli_checks.SEED, default=0, help=f"0 to {cli_checks.MAX_SEED} (default: 0)")
    p.add_argument("--epochs", type=cli_checks.EPOCHS, default=None, help="override the recipe's training epochs")
    p.add_argument("--image-size", type=cli_checks.IMAGE_SIZE, default=None,
                   help=f"override the recipe's image size (at most {cli_checks.MAX_IMAGE_SIZE} px)")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when present)")
    p.add_argument("--precision", default=None, choices=PRECISION_CHOICES,
                   help="training precision (default: $MU_PRECISION, else fp32; auto = bf16 where the hardware "
                        "runs it natively); evaluation is always fp32")
    p.add_argument("--json", default=None, metavar="PATH", help="write the machine-readable result here")


def experiment_from(args: argparse.Namespace) -> Experiment:
    attributes = tuple(a.strip() for a in (args.attribute or "").split(",") if a.strip())
    options = DataOptions(subset=args.subset, drop_duplicates=args.drop_duplicates, attributes=attributes)
    return build_experiment(args.dataset, args.scenario, args.forget, args.seed, args.epochs, args.image_size,
                            args.data_dir, args.device, data_options=options, original=args.original,
                            precision=args.precision or precision_setting())


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
        atomic_write(Path(path), lambda p: p.write_text(jsonio.dumps(payload, indent=2)))
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
    print(format_table([s.result for s in scored.values()]))
    write_json(args.json, {name: s.result.to_dict() for name, s in scored.items()})
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    """A baseline, or a stored run (its result was computed by the same evaluation path when it finished)."""
    cli_bank.refuse_stored_run(args)
    cli_bank.check(args, args.references)
    if args.model in ("original", "retrained"):
        exp = experiment_from(args)
        print(describe(exp))
        scored = score_baselines(exp, ConsoleProgress())
        rows = [scored[args.model].result] + ([scored["retrained"].result] if args.model == "original" else [])
        if args.references is not None:
            bank = cli_bank.references_of(exp, args, args.references, ConsoleProgress())
            if args.model == "original":
                cli_bank.judge(exp, args, scored, scored["original"], None, bank, ConsoleProgress())
    else:
        run = RunStore().get(args.model)
        if run is None:
            raise MUError(f"No run {args.model!r}: use original, retrained or a run id from the Runs page.")
        if run["status"] != "done":
            raise MUError(f"Run {args.model} is {run['status']}: {run['message'] or 'no result'}.")
        print(f"run {run['id']}: {run['method']} on {run['dataset']} / {run['scenario']} / {run['forget']}, "
              f"seed {run['seed']}")
        rows = [run["result"]]
    print(format_table(rows))
    if rows[0].method != "retrained":
        print(format_verdict(rows[0].verdict, rows[0].method))
    write_json(args.json, rows[0].to_dict())
    return 0


def parse_sets(pairs: list[str]) -> dict[str, str]:
    """`--set key=value` pairs (validated later against the method's declaration)."""
    out = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise MUError(f"--set takes key=value, got {pair!r}.")
        out[key.strip()] = value.strip()
    return out


def cmd_methods(args: argparse.Namespace) -> int:
    for m in REGISTRY.values():
        print(f"{m.name:16} {m.title}: {m.description}")
        for h in m.hparams:
            print(f"{'':18}{h.name} = {h.default!r}  ({h.allowed()}) {h.help}")
    write_json(args.json, {"methods": [m.to_dict() for m in REGISTRY.values()]})
    return 0


def cmd_unlearn(args: argparse.Namespace) -> int:
    exp = experiment_from(args)
    spec = spec_for(exp, args.method, parse_sets(args.set))  # before any work: bad names and values fail here
    cli_bank.check(args, args.references)
    store = RunStore()
    if not store.writable:  # before the baselines take minutes to train
        raise MUError(store.problem)
    print(describe(exp))
    baselines = score_baselines(exp, ConsoleProgress())
    run_id, scored = execute_run(exp, spec, baselines, store, ConsoleProgress())
    print(f"run {run_id} stored")
    if args.relearn:
        relearn = relearn_metrics(exp, scored.model, baselines["retrained"].model,
                                  baselines["original"].metrics["forget_acc"])
        scored.result = scored.result.with_metrics(relearn)
        print(f"relearn time: {relearn['relearn_steps']} steps{' (cap)' if relearn['relearn_capped'] else ''}, "
              f"Retrained {relearn['relearn_retrained_steps']}; ratio {relearn['relearn_ratio']:.2f} "
              "(about 1 = as Retrained; below 1 = knowledge left)")
    print(format_table([baselines["original"].result, baselines["retrained"].result, scored.result]))
    print(format_verdict(scored.result.verdict, scored.result.method))
    if args.references is not None:
        bank = cli_bank.references_of(exp, args, args.references, ConsoleProgress())
        cli_bank.judge(exp, args, baselines, scored, spec, bank, ConsoleProgress())
    write_json(args.json, {**scored.result.to_dict(), "run_id": run_id})
    return 0


def method_names(text: str) -> list[str]:
    names = list(REGISTRY) if text == "all" else [n.strip() for n in text.split(",") if n.strip()]
    for name in names:
        get_method(name)
    return names


def cmd_benchmark(args: argparse.Namespace) -> int:
    names = method_names(args.methods)
    seeds = cli_checks.parse_seeds(args.seeds) or [args.seed]
    cli_bank.check(args, args.references)
    rows: list[ModelResult] = []
    for seed in seeds:
        args.seed = seed
        exp = experiment_from(args)
        print(describe(exp))
        baselines = score_baselines(exp, ConsoleProgress())
        specs = [spec_for(exp, name, {}) for name in names]
        scored = [baselines["original"]] + [run_method(exp, spec, baselines, ConsoleProgress()) for spec in specs]
        if args.references is not None:
            bank = cli_bank.references_of(exp, args, args.references, ConsoleProgress())
            for one, spec in zip(scored, [None] + specs):
                cli_bank.judge(exp, args, baselines, one, spec, bank, ConsoleProgress())
        rows += [baselines["original"].result, baselines["retrained"].result] + [s.result for s in scored[1:]]
    table = summary_table(rows)
    print(table)
    for row in rows:
        if row.method != "retrained":
            print(format_verdict(row.verdict, f"{row.method}, seed {row.seed}"))
    write_json(args.json, {"rows": [row.to_dict() for row in rows]})
    if args.csv:
        atomic_write(Path(args.csv), lambda p: p.write_text(to_csv(rows)))
        print(f"wrote {args.csv}")
    if args.markdown:
        atomic_write(Path(args.markdown), lambda p: p.write_text(summary_table(rows, markdown=True) + "\n"))
        print(f"wrote {args.markdown}")
    return 0


def cmd_references(args: argparse.Namespace) -> int:
    """Build (or load) the experiment's reference bank and print its spread."""
    cli_bank.check(args, args.n)
    exp = experiment_from(args)
    print(describe(exp))
    bank = cli_bank.references_of(exp, args, args.n, ConsoleProgress())
    write_json(args.json, cli_bank.bank_json(bank))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m mu_core", description="Machine unlearning on face models.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train", help="train (or load cached) Original and Retrained models and print their metrics")
    add_common(p)
    p.set_defaults(func=cmd_train)
    p = sub.add_parser("evaluate", help="evaluate a model beside Retrained")
    add_common(p)
    p.add_argument("--model", default="original", help="original, retrained or a stored run id")
    cli_bank.add_options(p)
    p.set_defaults(func=cmd_evaluate)
    p = sub.add_parser("methods", help="list the unlearning methods and their hyperparameters")
    p.add_argument("--json", default=None, metavar="PATH")
    p.set_defaults(func=cmd_methods)
    p = sub.add_parser("unlearn", help="run one unlearning method, evaluate it and store the run")
    add_common(p)
    p.add_argument("--method", required=True, help="a method name (see `methods`)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a hyperparameter")
    p.add_argument("--relearn", action="store_true",
                   help="also measure relearn time (optimizer steps of fine-tuning on the forget set until 95%% of "
                        "the Original's forget accuracy, against Retrained's; up to 2 x 200 steps), printed and in "
                        "--json")
    cli_bank.add_options(p)
    p.set_defaults(func=cmd_unlearn)
    p = sub.add_parser("benchmark", help="Original, Retrained and methods at their defaults in one table")
    add_common(p)
    p.add_argument("--methods", default="all", help="all, or names separated by commas")
    p.add_argument("--seeds", default=None, help="several seeds, e.g. 0,1,2 (the table shows mean and spread)")
    p.add_argument("--csv", default=None, metavar="PATH")
    p.add_argument("--markdown", default=None, metavar="PATH", help="write the summary table as markdown")
    cli_bank.add_options(p)
    p.set_defaults(func=cmd_benchmark)
    p = sub.add_parser("references", help="build (or load) the reference bank of N Retrained models and print its "
                                          "spread")
    add_common(p)
    cli_bank.add_references_options(p)
    p.set_defaults(func=cmd_references)
    cli_tune.add_commands(sub, ConsoleProgress)
    cli_report.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        cli_checks.check_args(args)  # every value that can be checked before any work
        return args.func(args)
    except (MUError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted: nothing half-written was stored; cached checkpoints stay valid.", file=sys.stderr)
        return 130
    except OSError as e:
        print(f"error: {e.strerror or e}{f' ({e.filename})' if e.filename else ''}.", file=sys.stderr)
        return 2
    except Exception as e:  # a bug: one line, not a traceback (MU_TRACEBACK=1 shows it)
        if os.environ.get("MU_TRACEBACK"):
            raise
        print(f"error: unexpected {type(e).__name__}: {e} (set MU_TRACEBACK=1 to see where).", file=sys.stderr)
        return 1
