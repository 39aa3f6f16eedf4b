"""The reference bank: N Retrained models of an experiment, each trained with its own seed and cached
as a checkpoint exactly like the experiment's Retrained baseline, and the N unlearning runs of a method from the
same Original with N unlearning seeds (the official protocol's distributions). Each model is evaluated by the one
evaluation path, so the bank hands `mu_core.verdict.BankEvidence` its lists of `Evaluation`s.

Seeds. The i-th model of a bank (i = 0, 1, ...) uses the first 32-bit value of SHA-256("mu-retrained:<seed>:<i>:<k>")
for k = 0, 1, ... that is neither a reported seed (0-2) nor a tuning seed (100-104) nor an earlier model's seed;
unlearning runs use "mu-unlearn:..." the same way. So the seeds depend on the experiment's seed only, a bank of 32
extends the bank of 16 (its first 16 models are reused), and no bank model is ever a model the README reports.

Where they run. The trainings fan out as Ray tasks, one CPU (and one thread) each: on a local Ray instance started
here (one task per core, token authentication on, no dashboard), or on an existing cluster named by `--ray-address`
/ $MU_RAY_ADDRESS. Tasks receive the experiment with its images (no shared disk is assumed) and the engine's code
through Ray's `py_modules`; results come back through Ray (checkpoint bytes, evaluations) and only this process
writes checkpoints, each atomically (weights, then the JSON that makes it valid). Without Ray, and only when no
address was given, the models train here one after the other.

A cancelled or failed build keeps the models already finished (they are reused next time) and never leaves a
half-written checkpoint."""
from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import socket
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from mu_core.baselines import get_baseline, is_cached
from mu_core.errors import Cancelled, MUError
from mu_core.evaluation import Evaluation, evaluate, model_metrics, scalar_metrics
from mu_core.experiment import REPO_ROOT, Experiment
from mu_core.models import atomic_write
from mu_core.pipeline import Scored, run_method
from mu_core.run_spec import RunSpec
from mu_core.training import CancelFlag, Progress, ProgressFn
from mu_core.verdict import BankEvidence, bank_metrics, bank_verdict, identity_metrics

MIN_MODELS, MAX_MODELS = 2, 64
RESERVED_SEEDS = frozenset({0, 1, 2, 100, 101, 102, 103, 104})  # the README's reported seeds and the tuning seeds
SPREAD_KEYS = ("test_acc", "retain_acc", "forget_acc", "unseen_acc", "mia_accuracy", "nomus", "forget_loss_mean",
               "identity_dprime")
CHECKPOINT_SUFFIXES = (".safetensors", ".json")  # written in this order: the JSON makes a checkpoint valid
CONNECT_TIMEOUT_S = 3.0
CODE = {"py_modules": [str(REPO_ROOT / "mu_core")], "excludes": ["__pycache__"]}  # shipped to every worker
POLL_S = 0.5


class RayUnavailable(MUError):
    """Ray is not installed, or could not start or connect."""


def check_n(n: int) -> int:
    """The bank size, or MUError naming the bounds."""
    if isinstance(n, bool) or not isinstance(n, int) or not MIN_MODELS <= n <= MAX_MODELS:
        raise MUError(f"A reference bank needs from {MIN_MODELS} to {MAX_MODELS} models, got {n!r} (16 is a good "
                      "start: the forgetting-quality ceiling grows with ln N).")
    return n


def derived_seeds(seed: int, n: int, purpose: str) -> list[int]:
    """n distinct 32-bit seeds derived from the experiment's seed, never a reserved one (see the module doc)."""
    seeds: list[int] = []
    for i in range(n):
        k = 0
        while True:
            digest = hashlib.sha256(f"mu-{purpose}:{seed}:{i}:{k}".encode()).digest()
            value = int.from_bytes(digest[:4], "big")
            if value not in RESERVED_SEEDS and value not in seeds:
                seeds.append(value)
                break
            k += 1
    return seeds


def bank_seeds(seed: int, n: int) -> list[int]:
    return derived_seeds(seed, n, "retrained")


def unlearning_seeds(seed: int, n: int) -> list[int]:
    return derived_seeds(seed, n, "unlearn")


def with_seed(exp: Experiment, seed: int) -> Experiment:
    """The experiment with another training seed: its Retrained model is a bank model."""
    return dataclasses.replace(exp, seed=seed)


# ----- the experiment as workers receive it ----------------------------------------------------------------------

def _no_loader(_index: int) -> np.ndarray:
    raise RuntimeError("a worker's dataset holds its images at the recipe's size only")


def portable(exp: Experiment) -> Experiment:
    """A copy of the experiment that pickles: its dataset holds the images at the recipe's size (no file loaders,
    no lock), so a worker on another machine needs no access to the data source."""
    ds = exp.dataset
    images = ds.images(exp.image_size)
    light = dataclasses.replace(ds, load_image=_no_loader, load_scaled=None, hygiene=None,
                                _tensors={exp.image_size: images}, _lock=None)
    return dataclasses.replace(exp, dataset=light)


def _unpacked(exp: Experiment, checkpoint_dir: Path | None = None) -> Experiment:
    """A portable experiment made usable in the worker (a fresh lock; checkpoints in a folder of its own)."""
    ds = dataclasses.replace(exp.dataset, _lock=threading.Lock())
    return dataclasses.replace(exp, dataset=ds, checkpoint_dir=checkpoint_dir or exp.checkpoint_dir)


def evaluate_bank_model(exp: Experiment, model: torch.nn.Module) -> Evaluation:
    return evaluate(model, exp.dataset, exp.splits, exp.device, exp.image_size)


def _train_retrained(exp: Experiment, seed: int, cancel: CancelFlag | None = None
                     ) -> tuple[dict[str, bytes], Evaluation, dict]:
    """Train the bank model `seed` as the Retrained baseline of that seed, in a scratch folder; its checkpoint
    files' bytes, its evaluation and its bank metrics (made from the evaluation done when it was stored)."""
    with tempfile.TemporaryDirectory(prefix="mu-bank-") as scratch:
        model_exp = with_seed(_unpacked(exp, Path(scratch)), seed)
        baseline = get_baseline(model_exp, "retrained", cancel=cancel)
        stem = model_exp.checkpoint_stem("retrained")
        files = {suffix: stem.with_suffix(suffix).read_bytes() for suffix in CHECKPOINT_SUFFIXES}
    ev = baseline.evaluation or evaluate_bank_model(model_exp, baseline.model)
    return files, ev, _bank_metrics(model_exp, ev, baseline.metrics)


def _bank_metrics(exp: Experiment, ev: Evaluation, metrics: dict | None = None) -> dict:
    """A bank model's metrics: its model_metrics (`metrics` when already made from `ev`) without the nested ones,
    and the forgotten people's identity in its features."""
    own = metrics if metrics is not None else model_metrics(ev, exp.dataset)
    return {**scalar_metrics(own), **identity_metrics(ev, exp.dataset, exp.splits.scenario)}


def _unlearn(shared: tuple[Experiment, dict[str, Scored], RunSpec], seed: int,
             cancel: CancelFlag | None = None) -> Evaluation:
    """One unlearning run of the specified method with unlearning seed `seed`; its evaluation."""
    exp, baselines, spec = shared
    return run_method(_unpacked(exp), spec, baselines, cancel=cancel, unlearn_seed=seed).evaluation


# ----- Ray --------------------------------------------------------------------------------------------------------

@dataclass
class Workers:
    """Where a fan-out runs: "ray" (`address` None: a local instance), "here" (this process, one at a time) or
    "cache" (nothing to run)."""

    kind: str
    address: str | None = None
    start_seconds: float | None = None  # None: this process was already connected
    note: str = ""
    token_auth: bool | None = None

    def describe(self) -> str:
        if self.kind == "cache":
            return "nothing trained: every model was cached"
        if self.kind == "here":
            return f"in this process, one model at a time ({self.note})" if self.note else "in this process"
        where = f"the Ray cluster at {self.address}" if self.address else "a local Ray instance"
        started = "already connected" if self.start_seconds is None else f"connected in {self.start_seconds:.1f} s"
        auth = {True: "token authentication on", False: "token authentication OFF (RAY_AUTH_MODE)",
                None: "token authentication unknown"}[self.token_auth]
        return f"Ray tasks on {where} ({started}; {auth})"


def _token_auth() -> bool | None:
    """Whether this Ray connection uses token authentication (Ray 2.60's own flag)."""
    try:
        from ray._raylet import AuthenticationMode, get_authentication_mode
        return get_authentication_mode() == AuthenticationMode.TOKEN
    except (ImportError, AttributeError):
        return None


def check_reachable(address: str) -> None:
    """Ray waits minutes on an address nobody answers: try a TCP connection first."""
    if address == "auto":
        return
    host_port = address.split("://", 1)[-1]
    host, sep, port = host_port.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise RayUnavailable(f"The Ray address {address!r} is not HOST:PORT (or ray://HOST:PORT, or auto).")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as e:
        raise RayUnavailable(f"The Ray cluster at {address} cannot be reached ({e.strerror or e}); check "
                             "--ray-address or $MU_RAY_ADDRESS. Nothing was trained.") from None


def connect(address: str | None = None) -> Workers:
    """Ray for the fan-out: the Ray this process already uses (its job must make `mu_core` importable), else the
    cluster at `address`, else a new local instance (one CPU per core, no dashboard; Ray 2.60 turns token
    authentication on for a local instance unless $RAY_AUTH_MODE says otherwise, and this code never turns it off).
    `mu_core` travels to the workers as a `py_modules` package. RayUnavailable when Ray cannot be had."""
    try:
        import ray
    except ImportError:
        raise RayUnavailable("Ray is not installed (.venv/bin/pip install ray==2.60.0).") from None
    if address:
        check_reachable(address)
    if ray.is_initialized():
        return Workers("ray", address, token_auth=_token_auth())
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # nothing leaves the machine
    options: dict[str, Any] = {"address": address} if address else {"num_cpus": os.cpu_count() or 1}
    started = time.perf_counter()
    try:
        ray.init(include_dashboard=False, log_to_driver=False, logging_level="WARNING", runtime_env=CODE,
                 **options)
    except Exception as e:  # Ray raises ConnectionError, RuntimeError, ValueError... with long messages
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
        where = f"connect to the Ray cluster at {address}" if address else "start a local Ray instance"
        raise RayUnavailable(f"Could not {where}: {first}") from None
    return Workers("ray", address, time.perf_counter() - started, token_auth=_token_auth())


def open_workers(address: str | None = None) -> Workers:
    """Ray (see `connect`); with no address given, this process when Ray cannot start (the note says why)."""
    try:
        return connect(address)
    except RayUnavailable as e:
        if address:
            raise
        return Workers("here", note=str(e))


def _ray_call(fn: Callable, shared: Any, item: Any) -> Any:
    """A task's body on a Ray worker: one thread (the tasks share the cores), no cancel flag (Ray cancels)."""
    torch.set_num_threads(1)
    return fn(shared, item)


def _task_error(error: BaseException) -> BaseException:
    """A task's own exception (a MUError stays a MUError) rather than Ray's wrapper."""
    cause = getattr(error, "cause", None)
    return cause if isinstance(cause, BaseException) else error


@dataclass
class FanOut:
    """Runs `fn(shared, item)` for each item where `workers` says, calling `on_result(position, result)` in this
    process as each one finishes, with progress (done / total, ETA from the items run so far) and cancel."""

    fn: Callable
    shared: Any
    workers: Workers
    stage: str
    total: int
    gpus: float = 0.0     # per Ray task (trainings share a GPU)
    done: int = 0         # finished before this run (cached)
    finished: int = 0     # finished by this run
    progress: ProgressFn | None = None
    cancel: CancelFlag | None = None
    started: float = field(default_factory=time.perf_counter)

    def run(self, items: list, on_result: Callable[[int, Any], None]) -> None:
        self._report()
        if not items:
            return
        if self.workers.kind == "ray":
            self._run_ray(items, on_result)
        else:
            for position, item in enumerate(items):
                self._check_cancel()
                try:
                    result = self.fn(self.shared, item, self.cancel)
                except Cancelled:
                    self._check_cancel()
                    raise
                self._finish(on_result, position, result)

    def _finish(self, on_result: Callable[[int, Any], None], position: int, result: Any) -> None:
        on_result(position, result)
        self.finished += 1
        self._report()

    def _report(self) -> None:
        if self.progress is None:
            return
        elapsed = time.perf_counter() - self.started
        remaining = self.total - self.done - self.finished
        eta = elapsed / self.finished * remaining if self.finished else None
        self.progress(Progress(self.stage, self.done + self.finished, self.total, {}, elapsed, eta))

    def _check_cancel(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled(f"Cancelled: {self.done + self.finished} of {self.total} finished ({self.stage}) are "
                            "kept and will be reused; nothing half-written was stored.")

    def _run_ray(self, items: list, on_result: Callable[[int, Any], None]) -> None:
        import ray

        task = ray.remote(_ray_call).options(num_cpus=1, num_gpus=self.gpus, max_retries=0)
        shared_ref = ray.put(self.shared)
        pending = {task.remote(self.fn, shared_ref, item): position for position, item in enumerate(items)}
        try:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1, timeout=POLL_S)
                for ref in ready:
                    position = pending.pop(ref)
                    try:
                        result = ray.get(ref)
                    except ray.exceptions.RayTaskError as e:
                        raise _task_error(e) from None
                    self._finish(on_result, position, result)
                if pending:
                    self._check_cancel()
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)


# ----- the bank ---------------------------------------------------------------------------------------------------

@dataclass
class ReferenceBank:
    """N Retrained models of one experiment, each evaluated by the one evaluation path."""

    seeds: list[int]
    evaluations: list[Evaluation]
    metrics: list[dict]
    trained: int          # models trained by this call (the others came from the cache)
    seconds: float        # wall time of this call
    workers: str

    @property
    def n_models(self) -> int:
        return len(self.seeds)

    def spread(self) -> dict[str, dict[str, float]]:
        """Mean, standard deviation (ddof 1), min and max over the models of each metric in SPREAD_KEYS that the
        models report (NaN values, e.g. an attack that cannot run, are left out and counted)."""
        out = {}
        for key in SPREAD_KEYS:
            values = np.array([m.get(key) for m in self.metrics if key in m], dtype=float)
            known = values[np.isfinite(values)]
            if not len(values):
                continue
            out[key] = {"mean": float(np.mean(known)) if len(known) else math.nan,
                        "std": float(np.std(known, ddof=1)) if len(known) > 1 else math.nan,
                        "min": float(np.min(known)) if len(known) else math.nan,
                        "max": float(np.max(known)) if len(known) else math.nan,
                        "n": int(len(known))}
        return out


def _write_checkpoint(stem: Path, files: dict[str, bytes]) -> None:
    for suffix in CHECKPOINT_SUFFIXES:
        atomic_write(stem.with_suffix(suffix), lambda p, data=files[suffix]: p.write_bytes(data))


def cached_seeds(exp: Experiment, n: int) -> list[int]:
    """The bank seeds whose models are cached for this experiment (same recipe, forget set and data)."""
    return [s for s in bank_seeds(exp.seed, n) if is_cached(with_seed(exp, s), "retrained")]


def build_bank(exp: Experiment, n: int, address: str | None = None, progress: ProgressFn | None = None,
               cancel: CancelFlag | None = None, workers: Workers | None = None) -> ReferenceBank:
    """Train (or load) the experiment's N Retrained models and evaluate each. A model is reused only when its
    checkpoint has this experiment's exact fingerprint with the bank seed (a bank made for another recipe, forget
    set or dataset is retrained, never reused). The missing models train on `workers` (default: `open_workers`
    of `address`). `progress`/`cancel` follow `mu_core.jobs`."""
    check_n(n)
    started = time.perf_counter()
    seeds = bank_seeds(exp.seed, n)
    cached = set(cached_seeds(exp, n))
    missing = [s for s in seeds if s not in cached]
    workers = (workers or open_workers(address)) if missing else Workers("cache")
    fan = FanOut(_train_retrained, portable(exp) if missing else None, workers, "Reference bank", n,
                 _gpus(exp), done=len(cached), progress=progress, cancel=cancel)
    fresh: dict[int, tuple[Evaluation, dict]] = {}

    def store(position: int, result: tuple[dict[str, bytes], Evaluation, dict]) -> None:
        files, ev, metrics = result
        fresh[missing[position]] = ev, metrics
        model_exp = with_seed(exp, missing[position])
        _write_checkpoint(model_exp.checkpoint_stem("retrained"), files)
        if not is_cached(model_exp, "retrained"):
            raise MUError("A worker returned a checkpoint for another experiment: do the Ray workers run this "
                          "version of the code?")

    fan.run(missing, store)
    for s in seeds:
        if s not in fresh:
            ev = evaluate_bank_model(exp, get_baseline(with_seed(exp, s), "retrained").model)
            fresh[s] = ev, _bank_metrics(exp, ev)
    return ReferenceBank(seeds, [fresh[s][0] for s in seeds], [fresh[s][1] for s in seeds], len(missing),
                         time.perf_counter() - started, workers.describe())


def _gpus(exp: Experiment) -> float:
    """Ray GPUs per task: two trainings share a GPU; none on the CPU."""
    return 0.5 if exp.device.type == "cuda" else 0.0


def unlearning_runs(exp: Experiment, spec: RunSpec, n: int, baselines: dict[str, Scored],
                    address: str | None = None, progress: ProgressFn | None = None,
                    cancel: CancelFlag | None = None) -> list[Evaluation]:
    """The specified method run n times on the experiment's Original (from `baselines`, as `score_baselines`
    gives them) with n unlearning seeds, fanned out like the bank; their evaluations, in seed order. Not cached."""
    check_n(n)
    seeds = unlearning_seeds(exp.seed, n)
    workers = open_workers(address)
    shared = (portable(exp), baselines, spec)
    results: list[Evaluation | None] = [None] * n
    fan = FanOut(_unlearn, shared, workers, f"{spec.method.name}, {n} unlearning runs", n, _gpus(exp),
                 progress=progress, cancel=cancel)
    fan.run(seeds, results.__setitem__)
    return [ev for ev in results if ev is not None]


def judged_with_bank(exp: Experiment, baselines: dict[str, Scored], scored: Scored, bank: ReferenceBank,
                     runs: list[Evaluation]) -> tuple[dict, dict]:
    """The bank-level verdict (as a dict) and the bank metrics (registry keys) of `scored`, a model judged as an
    unlearned one, with `runs` the evaluations of its method run len(bank) times (`unlearning_runs`)."""
    evidence = BankEvidence(bank.evaluations, runs)
    cost = {"compute_ratio": scored.metrics.get("compute_ratio"), "time_ratio": scored.result.time_ratio}
    verdict = bank_verdict(baselines["original"].evaluation, baselines["retrained"].evaluation, scored.evaluation,
                           exp.dataset, exp.splits.scenario, cost, evidence)
    return verdict.to_dict(), bank_metrics(evidence)
