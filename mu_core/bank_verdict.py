"""The bank-level verdict of a stored run: its method run N times from the same Original (N unlearning seeds) judged
against the experiment's reference bank of N Retrained models. The result is kept beside the run's
artifacts (bank-verdict-N.json), so it is computed once per run and bank size."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mu_core import bank as B
from mu_core import evidence as E
from mu_core import jsonio
from mu_core.evaluation import Evaluation, evaluate
from mu_core.experiment import Experiment
from mu_core.models import atomic_write
from mu_core.pipeline import Scored
from mu_core.run_model import load_run_model
from mu_core.run_spec import spec_for
from mu_core.store import RunStore
from mu_core.training import CancelFlag, ProgressFn


def _path(store: RunStore, run_id: str, n: int) -> Path:
    return store.artifact_dir(run_id) / f"bank-verdict-{n}.json"


def bank_ready(exp: Experiment, n: int) -> bool:
    """Whether the experiment's N Retrained models are all cached."""
    return len(B.cached_seeds(exp, n)) == n


def stored_bank_verdict(store: RunStore, run_id: str, n: int) -> dict | None:
    """{"verdict", "metrics"} of a run judged with a bank of n models, when it was computed before."""
    path = _path(store, run_id, n)
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _epsilons(unlearned: list[Evaluation], retrained: list[Evaluation]) -> list[float] | None:
    """Per forgotten photo, the official epsilon of unlearned against Retrained (None for multi-label heads)."""
    if retrained[0]["forget"].labels.ndim != 1:
        return None
    conf = [np.stack([E.logit_scaled_confidence(ev["forget"].logits, ev["forget"].labels) for ev in evs])
            for evs in (unlearned, retrained)]
    return [float(e) for e in E.forget_quality(*conf).epsilons]


def judge_run(exp: Experiment, run: dict, n: int, baselines: dict[str, Scored], store: RunStore,
              address: str | None = None, progress: ProgressFn | None = None,
              cancel: CancelFlag | None = None) -> dict:
    """Build (or load) the bank of n Retrained models, run the run's method n times with its hyperparameters,
    and judge the stored model (its kept weights, evaluated again) with them. Returns and keeps
    {"verdict": bank-level verdict dict, "metrics": bank metrics under registry keys, "epsilons": per forgotten
    photo}."""
    bank = B.build_bank(exp, n, address, progress, cancel)
    runs = B.unlearning_runs(exp, spec_for(exp, run["method"], run["hparams"]), n, baselines, address, progress,
                             cancel)
    model = load_run_model(store, run["id"], exp)
    scored = Scored(run["method"], model, evaluate(model, exp.dataset, exp.splits, exp.device, exp.image_size),
                    run["result"])
    verdict, metrics = B.judged_with_bank(exp, baselines, scored, bank, runs)
    out = {"verdict": verdict, "metrics": metrics, "epsilons": _epsilons(runs, bank.evaluations)}
    atomic_write(_path(store, run["id"], n), lambda p: p.write_text(jsonio.dumps(out, indent=2)))
    return out
