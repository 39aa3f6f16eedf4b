"""Tuning against the verdict: an Optuna study of one method on one dataset/scenario, its trials run
in parallel as Ray tasks (one CPU and one thread each; a local Ray instance by default, a cluster by address).

A trial runs the method with its hyperparameters on each tuning seed (never a reported seed 0-2): once as the
judged model, and `references` more times with the bank's unlearning seeds, and judges it at bank level against
that seed's reference bank of `references` Retrained models (mu_core.bank). Its record keeps, per seed, the verdict
("forgotten" or not, and each check), the forgetting quality F, the compute ratio and the seconds, and the command
that reruns exactly this trial. Records are appended, one JSON line each, to
<out>/<dataset>-<scenario>/<method>.jsonl; mu_core.tuning turns them into presets.

The search space comes from the method's declarations (min/max/log, choices, true/false), restricted by the user:
`name` (its declared range), `name=low:high` (`:log` for a log scale), `name=a,b,c` (these values). Optuna asks
two objectives: the share of decided checks that pass (maximised) and the compute ratio (minimised). Trials are
asked in batches as workers free up (ask/tell), so a study on K workers runs about K trials at a time."""
from __future__ import annotations

import datetime
import math
import platform
import shlex
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch

from mu_core import bank as B
from mu_core.errors import Diverged, MUError
from mu_core.experiment import Experiment, build_experiment
from mu_core.jsonio import dumps
from mu_core.methods import get_method
from mu_core.methods.base import HParam, Method
from mu_core.pipeline import Scored, run_method, score_baselines
from mu_core.run_spec import RunSpec, spec_for
from mu_core.settings import precision_setting
from mu_core.training import ProgressFn
from mu_core.tuning import read_trials, study_folder

REPORTED_SEEDS = (0, 1, 2)
DEFAULT_SEEDS = (100, 101)
DEFAULT_REFERENCES = 6  # the smallest bank whose split halves give the membership check a noise floor
CHECK_NAMES = ("recognition", "utility", "membership", "identity_features", "over_forgetting")


def dimension(h: HParam, text: str = "") -> Any:
    """The Optuna distribution of hyperparameter `h`: its declared range, or the user's `low:high[:log]` or
    `a,b,c`. MUError for a value outside the declaration or a type that cannot be searched."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if h.type == "ints":
        raise MUError(f"{h.name} is a list of whole numbers: fix it with --fix {h.name}=3,5,9 instead of searching.")
    if "," in text or (text and h.type in ("bool", "choice")):
        return CategoricalDistribution(tuple(dict.fromkeys(h.validate(v) for v in text.split(",") if v.strip())))
    if h.type == "bool":
        return CategoricalDistribution((False, True))
    if h.type == "choice":
        return CategoricalDistribution(h.choices)
    low, high, log = h.min, h.max, h.log
    if text:
        parts = text.split(":")
        if len(parts) not in (2, 3) or parts[2:] not in ([], ["log"]):
            raise MUError(f"--space {h.name}={text}: give low:high, low:high:log or values separated by commas.")
        low, high, log = h.validate(parts[0]), h.validate(parts[1]), parts[2:] == ["log"]
        if low >= high:
            raise MUError(f"--space {h.name}={text}: the low end must be below the high end.")
    if log and low <= 0:
        raise MUError(f"--space {h.name}: a log scale needs a low end above 0, got {low:g}.")
    if h.type == "int":
        return IntDistribution(int(low), int(high), log=log)
    return FloatDistribution(float(low), float(high), log=log)


def search_space(method: Method, space: dict[str, str] | None = None, fixed: dict[str, Any] | None = None
                 ) -> dict[str, Any]:
    """Name -> Optuna distribution: the hyperparameters named in `space` (name -> range text, "" for the declared
    range), or, when `space` is empty, every searchable one that `fixed` leaves free."""
    fixed = fixed or {}
    if space:
        clash = sorted(set(space) & set(fixed))
        if clash:
            raise MUError(f"{', '.join(clash)} cannot be both searched (--space) and fixed (--fix).")
        return {name: dimension(method.hparam(name), text) for name, text in space.items()}
    return {h.name: dimension(h) for h in method.hparams if h.type != "ints" and h.name not in fixed}


def format_value(value: Any) -> str:
    """A hyperparameter value as `--set`/`--fix` text (true/false, 3,5,9)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return repr(value) if isinstance(value, float) else str(value)


@dataclass(frozen=True)
class Study:
    """What a study searches and on what: the method, the data, the tuning seeds, the bank size and the space."""

    method: str
    dataset: str = "orl"
    scenario: str = "person"
    seeds: tuple[int, ...] = DEFAULT_SEEDS
    references: int = DEFAULT_REFERENCES
    space: tuple[tuple[str, str], ...] = ()
    fixed: tuple[tuple[str, str], ...] = ()
    epochs: int | None = None
    image_size: int | None = None
    device: str | None = None
    precision: str | None = None  # fp32, bf16 or auto; None: $MU_PRECISION's (see mu_core.settings)

    def check(self) -> None:
        """Every value that can be checked before any training (MUError otherwise)."""
        reported = sorted(set(self.seeds) & set(REPORTED_SEEDS))
        if reported:
            raise MUError(f"Seeds {reported} are the reported seeds: tune on others (default "
                          f"{','.join(map(str, DEFAULT_SEEDS))}), so the results shown are never tuned to.")
        if not self.seeds:
            raise MUError("A study needs at least one tuning seed.")
        B.check_n(self.references)
        self.distributions()

    def base(self) -> dict[str, Any]:
        """The declared defaults with the fixed values (never the data's preset: a trial depends on its command)."""
        method = get_method(self.method)
        return {**method.declared_defaults(), **{k: method.hparam(k).validate(v) for k, v in self.fixed}}

    def distributions(self) -> dict[str, Any]:
        method = get_method(self.method)
        return search_space(method, dict(self.space), {k: v for k, v in self.fixed})

    def path(self, root: Path) -> Path:
        return root / study_folder(self.dataset, self.scenario) / f"{self.method}.jsonl"

    def experiment(self, seed: int) -> Experiment:
        return build_experiment(self.dataset, self.scenario, None, seed, self.epochs, self.image_size,
                                device=self.device, precision=self.precision or precision_setting())

    def command(self, hparams: dict[str, Any], precision: str) -> str:
        """The command that reruns exactly one trial with `hparams` at the training `precision` the trial's
        models used (every hyperparameter fixed: nothing searched)."""
        words = ["python", "-m", "mu_core", "tune", "--method", self.method, "--dataset", self.dataset,
                 "--scenario", self.scenario, "--seeds", ",".join(map(str, self.seeds)),
                 "--references", str(self.references), "--precision", precision]
        for flag, value in (("--epochs", self.epochs), ("--image-size", self.image_size), ("--device", self.device)):
            if value is not None:
                words += [flag, str(value)]
        words += ["--trials", "1", "--out", "out/trials"]
        for key, value in hparams.items():
            words += ["--fix", f"{key}={format_value(value)}"]
        return shlex.join(words)


@dataclass
class SeedSetup:
    """What the trials of one tuning seed share: the experiment (portable: its images travel with it), its
    Original and Retrained, and its reference bank."""

    exp: Experiment
    baselines: dict[str, Scored]
    bank: B.ReferenceBank


def prepare(study: Study, address: str | None = None, in_process: bool = False,
            progress: ProgressFn | None = None) -> list[SeedSetup]:
    """Train (or load) each tuning seed's Original, Retrained and reference bank (its models as Ray tasks, or
    here one after the other with `in_process`)."""
    setups = []
    for seed in study.seeds:
        exp = study.experiment(seed)
        baselines = score_baselines(exp, progress)
        here = B.Workers("here", note="--in-process") if in_process else None
        bank = B.build_bank(exp, study.references, address, progress, workers=here)
        setups.append(SeedSetup(B.portable(exp), baselines, bank))
    return setups


def seed_result(setup: SeedSetup, spec: RunSpec) -> dict[str, Any]:
    """The specified method judged at bank level on one tuning seed: the verdict's decision and checks, F, cost."""
    exp = B._unpacked(setup.exp)
    try:
        scored = run_method(exp, spec, setup.baselines)
        runs = [run_method(exp, spec, setup.baselines, unlearn_seed=u).evaluation
                for u in B.unlearning_seeds(exp.seed, setup.bank.n_models)]
    except Diverged as e:  # a setting that diverges is a result of the search, not an error of it
        return {"seed": exp.seed, "forgotten": False, "checks": {}, "forget_quality": None, "compute_ratio": None,
                "summary": str(e)}
    verdict, metrics = B.judged_with_bank(exp, setup.baselines, scored, setup.bank, runs)
    checks = {c["name"]: c["pass"] for c in verdict["checks"] if c["name"] in CHECK_NAMES}
    return {"seed": exp.seed, "forgotten": verdict["forgotten"], "checks": checks,
            "forget_quality": metrics.get("forget_quality"), "compute_ratio": scored.metrics.get("compute_ratio"),
            "time_ratio": scored.result.time_ratio, "seconds": scored.result.seconds,
            "forget_acc": scored.metrics.get("forget_acc"), "test_acc": scored.metrics.get("test_acc"),
            "mia_accuracy": scored.metrics.get("mia_accuracy"), "nomus": scored.metrics.get("nomus"),
            "summary": verdict["summary"]}


def trial_task(setups: list[SeedSetup], spec: RunSpec) -> tuple[list[dict], float]:
    """One trial on every tuning seed, on one thread (as a Ray task, or here); per-seed results and seconds."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    started = time.perf_counter()
    try:
        return [seed_result(s, spec) for s in setups], time.perf_counter() - started
    finally:
        torch.set_num_threads(threads)


def objectives(per_seed: list[dict]) -> tuple[float, float]:
    """Optuna's two values: the share of decided checks that pass (mean over seeds) and the compute ratio."""
    shares = []
    for s in per_seed:
        decided = [v for v in s["checks"].values() if v is not None]
        shares.append(sum(bool(v) for v in decided) / len(decided) if decided else 0.0)
    ratios = [s["compute_ratio"] for s in per_seed]
    return sum(shares) / len(shares), max(ratios) if None not in ratios else float("inf")


def record(study: Study, number: int, params: dict, hparams: dict, per_seed: list[dict], seconds: float,
           precision: str) -> dict:
    passed, ratio = objectives(per_seed)
    return {"study": f"{study_folder(study.dataset, study.scenario)}/{study.method}", "trial": number,
            "method": study.method, "dataset": study.dataset, "scenario": study.scenario,
            "seeds": list(study.seeds), "n_models": study.references,
            "recipe": {"epochs": study.epochs, "image_size": study.image_size, "precision": precision},
            "params": params, "hparams": hparams, "per_seed": per_seed,
            "forgotten_every_seed": all(s["forgotten"] is True for s in per_seed),
            "checks_passed": passed, "compute_ratio": ratio, "seconds": seconds,
            "command": study.command(hparams, precision),
            "machine": f"{platform.node()} ({platform.machine()}, {torch.get_num_threads()} threads in the driver)",
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}


def _replay(searcher: Any, space: dict[str, Any], study: Study, earlier: list[dict]) -> None:
    """Tell the new Optuna study the earlier trials of the same seeds and bank whose values fit the space."""
    import optuna

    for old in earlier:
        if old["seeds"] != list(study.seeds) or old["n_models"] != study.references:
            continue
        try:
            searcher.add_trial(optuna.trial.create_trial(
                params={k: old["hparams"].get(k) for k in space}, distributions=space,
                values=[old["checks_passed"], old["compute_ratio"]]))
        except (ValueError, TypeError):  # a value outside this study's space
            continue


def run_study(study: Study, trials: int, root: Path, workers: int = 1, address: str | None = None,
              in_process: bool = False, sampler_seed: int = 0, progress: ProgressFn | None = None,
              on_record: Callable[[dict], None] | None = None) -> list[dict]:
    """Run `trials` trials (every seed's baselines and bank first), appending each record to the study's file
    under `root` as it finishes; `workers` trials run at a time as Ray tasks (in this process, one at a time, with
    `in_process` or when Ray cannot start). Returns the new records."""
    import optuna

    study.check()
    space, base = study.distributions(), study.base()
    path = study.path(root)
    earlier = read_trials(path)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    searcher = optuna.create_study(directions=["maximize", "minimize"],
                                   sampler=optuna.samplers.TPESampler(seed=sampler_seed))
    _replay(searcher, space, study, earlier)
    setups = prepare(study, address, in_process, progress)
    path.parent.mkdir(parents=True, exist_ok=True)
    new: list[dict] = []

    def finish(trial: Any, per_seed: list[dict], seconds: float) -> None:
        hparams = {**base, **trial.params}
        one = record(study, len(earlier) + len(new), trial.params, hparams, per_seed, seconds,
                     setups[0].exp.recipe.precision)
        values = objectives(per_seed)
        searcher.tell(trial, list(values) if math.isfinite(values[1]) else None,
                      state=None if math.isfinite(values[1]) else optuna.trial.TrialState.FAIL)
        with path.open("a") as f:
            f.write(dumps(one) + "\n")
        new.append(one)
        if on_record is not None:
            on_record(one)

    def trial_spec(trial: Any) -> RunSpec:
        return spec_for(setups[0].exp, study.method, {**base, **trial.params})

    pool = None if in_process else B.open_workers(address)
    if pool is None or pool.kind != "ray":
        for _ in range(trials):
            trial = searcher.ask(space)
            finish(trial, *trial_task(setups, trial_spec(trial)))
        return new
    import ray

    task = ray.remote(trial_task).options(num_cpus=1, max_retries=0)
    shared = ray.put(setups)
    pending: dict[Any, Any] = {}
    asked = 0
    try:
        while len(new) < trials:
            while asked < trials and len(pending) < max(1, workers):
                trial = searcher.ask(space)
                pending[task.remote(shared, trial_spec(trial))] = trial
                asked += 1
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                trial = pending.pop(ref)
                try:
                    finish(trial, *ray.get(ref))
                except ray.exceptions.RayTaskError as e:
                    raise B._task_error(e) from None
    finally:
        for ref in pending:
            ray.cancel(ref, force=True)
    return new
