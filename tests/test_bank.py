"""The reference bank on tiny settings (16 px, 1 epoch): built through a local Ray instance (2 CPUs), reused without
retraining, rebuilt for another forget set, cancelled without losing finished models or leaving half-written
files; its bounds and Ray errors; and the training precision (bf16 in the fingerprint, evaluation in fp32)."""
from __future__ import annotations

import dataclasses
import threading

import numpy as np
import pytest
import torch

from mu_core import bank as B
from mu_core.cli import main
from mu_core.errors import Cancelled, MUError
from mu_core.evaluation import evaluate
from mu_core.experiment import build_experiment
from mu_core.models import build_model
from mu_core.recipe import RecipeError
from mu_core.run_spec import spec_for
from mu_core.training import bf16_supported, fit, resolve_precision, seed_everything

BANK_TINY = {"epochs": 1, "image_size": 16, "device": "cpu"}


@pytest.fixture(scope="module")
def ray_local():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="WARNING",
             runtime_env=B.CODE)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def bank_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("bank")


def tiny(bank_dir, **choices):
    exp = build_experiment(**{**BANK_TINY, **choices})
    return dataclasses.replace(exp, checkpoint_dir=bank_dir)


def checkpoint_files(folder):
    return sorted(p for p in folder.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def built(ray_local, bank_dir):
    exp = tiny(bank_dir)
    steps = []
    bank = B.build_bank(exp, 3, progress=lambda p: steps.append((p.step, p.total, p.eta_s)))
    return exp, bank, steps


def test_bank_seeds_are_distinct_stable_and_never_a_reported_or_tuning_seed():
    seeds = B.bank_seeds(0, B.MAX_MODELS)
    assert len(set(seeds)) == B.MAX_MODELS and not set(seeds) & B.RESERVED_SEEDS
    assert B.bank_seeds(0, 16) == seeds[:16]  # a bigger bank extends the smaller one
    assert B.bank_seeds(1, 16) != seeds[:16] and not set(B.unlearning_seeds(0, 16)) & set(seeds)
    assert all(0 <= s < 2**32 for s in seeds)


def test_bank_is_built_through_ray_with_progress(built, bank_dir):
    exp, bank, steps = built
    assert bank.trained == 3 and bank.n_models == 3 and "Ray tasks" in bank.workers
    assert len(bank.evaluations) == 3 and all(ev["forget"].logits.dtype == np.float32 for ev in bank.evaluations)
    assert steps[0][:2] == (0, 3) and steps[-1][:2] == (3, 3) and steps[-1][2] == 0
    assert len(list(bank_dir.rglob("retrained-seed*.json"))) == 3
    assert not [p for p in checkpoint_files(bank_dir) if p.name.endswith(".tmp")]
    spread = bank.spread()
    assert spread["test_acc"]["n"] == 3 and spread["test_acc"]["min"] <= spread["test_acc"]["mean"]
    assert spread["test_acc"]["mean"] <= spread["test_acc"]["max"]
    # Each model is the Retrained baseline of its seed: different seeds, different models.
    assert not np.allclose(bank.evaluations[0]["test"].logits, bank.evaluations[1]["test"].logits)


def test_bank_is_reused_without_training(built, bank_dir):
    exp, bank, _ = built
    before = {p: p.stat().st_mtime_ns for p in checkpoint_files(bank_dir)}
    again = B.build_bank(exp, 3)
    assert again.trained == 0 and "cached" in again.workers
    assert {p: p.stat().st_mtime_ns for p in checkpoint_files(bank_dir)} == before
    np.testing.assert_allclose(again.evaluations[2]["forget"].logits, bank.evaluations[2]["forget"].logits,
                               atol=1e-4)
    # the metrics the workers made when they trained the models are those made again from the cached models
    for made, remade in zip(bank.metrics, again.metrics):
        assert made.keys() == remade.keys()
        for key, value in made.items():
            assert value == pytest.approx(remade[key], abs=1e-3, nan_ok=True), key
    assert B.cached_seeds(exp, 2) == B.bank_seeds(exp.seed, 2)  # a smaller bank is a prefix of it


def test_a_bank_for_another_forget_set_or_recipe_is_never_reused(built, bank_dir):
    exp, _, _ = built
    assert B.cached_seeds(tiny(bank_dir, epochs=2), 3) == []
    assert B.cached_seeds(tiny(bank_dir, precision="bf16"), 3) == []
    other = tiny(bank_dir, forget_spec="people:5")
    assert B.cached_seeds(other, 3) == []
    rebuilt = B.build_bank(other, 2)
    assert rebuilt.trained == 2 and B.cached_seeds(exp, 3) == B.bank_seeds(exp.seed, 3)


def test_a_cancelled_bank_keeps_its_finished_models(ray_local, bank_dir):
    exp = tiny(bank_dir, seed=7)
    flag = threading.Event()
    with pytest.raises(Cancelled, match="are kept"):
        B.build_bank(exp, 3, progress=lambda p: flag.set() if p.step >= 1 else None, cancel=flag)
    kept = B.cached_seeds(exp, 3)
    assert 1 <= len(kept) < 3
    assert not [p for p in checkpoint_files(bank_dir) if p.name.endswith(".tmp")]
    for path in bank_dir.rglob("retrained-seed*.json"):  # every valid checkpoint has its weights
        assert path.with_suffix(".safetensors").is_file()


def test_unlearning_runs_fan_out_with_their_own_seeds(built, ray_local):
    from mu_core.pipeline import score_baselines
    exp, bank, _ = built
    baselines = score_baselines(exp)
    runs = B.unlearning_runs(exp, spec_for(exp, "random_labels", {"epochs": 1}), 2, baselines)
    assert len(runs) == 2
    assert not np.allclose(runs[0]["forget"].logits, runs[1]["forget"].logits)
    verdict, metrics = B.judged_with_bank(exp, baselines, baselines["original"], bank,
                                          [baselines["original"].evaluation] * 3)
    assert verdict["level"] == "bank" and verdict["n_models"] == 3
    assert metrics["forget_quality_n_models"] == 3


@pytest.mark.parametrize("n", [1, 65, 0, True])
def test_bank_size_is_bounded(n):
    with pytest.raises(MUError, match="from 2 to 64"):
        B.check_n(n)


def test_an_unreachable_ray_address_is_one_clear_error(bank_dir, capsys):
    with pytest.raises(B.RayUnavailable, match="cannot be reached"):
        B.open_workers("127.0.0.1:1")
    with pytest.raises(B.RayUnavailable, match="HOST:PORT"):
        B.connect("no-port-here")
    code = main(["references", "--n", "3", "--ray-address", "127.0.0.1:1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "cannot be reached" in err[0]


def test_without_ray_and_without_address_the_bank_trains_here(monkeypatch):
    def unavailable(address=None):
        raise B.RayUnavailable("Ray is not installed")

    monkeypatch.setattr(B, "connect", unavailable)
    workers = B.open_workers(None)
    assert workers.kind == "here" and "not installed" in workers.describe()
    with pytest.raises(B.RayUnavailable):
        B.open_workers("10.0.0.1:6379")


def test_references_command_prints_the_spread_of_a_cached_bank(built, bank_dir, monkeypatch, capsys):
    monkeypatch.setenv("MU_CHECKPOINTS", str(bank_dir))
    code = main(["references", "--n", "2", "--epochs", "1", "--image-size", "16", "--device", "cpu",
                 "--precision", "fp32"])
    out = capsys.readouterr().out
    assert code == 0 and "2 Retrained models, 0 trained now" in out and "test_acc" in out


def test_precision_is_part_of_the_recipe_and_fingerprint(bank_dir):
    fp32, bf16 = tiny(bank_dir, precision="fp32"), tiny(bank_dir, precision="bf16")
    assert fp32.recipe.to_dict()["precision"] == "fp32" and bf16.recipe.precision == "bf16"
    assert fp32.fingerprint("retrained") != bf16.fingerprint("retrained")
    assert fp32.checkpoint_stem("original") != bf16.checkpoint_stem("original")
    assert tiny(bank_dir).recipe.precision == "fp32"  # the dataset recipe's own, unless asked
    cpu = torch.device("cpu")
    assert resolve_precision("auto", cpu) == ("bf16" if bf16_supported(cpu) else "fp32")
    with pytest.raises(MUError, match="fp32, bf16 or auto"):
        resolve_precision("fp16", cpu)
    with pytest.raises(RecipeError):
        fp32.recipe.with_overrides(precision="half")


def test_bf16_training_leaves_evaluation_in_fp32(bank_dir):
    exp = tiny(bank_dir, precision="bf16")
    model = build_model(exp.dataset.num_classes)
    seen: list[torch.dtype] = []
    hook = model.conv1.register_forward_hook(lambda _m, _i, out: seen.append(out.dtype))
    x, y = exp.data("retain")
    fit(model, x[:32], y[:32], exp.recipe, exp.dataset.kind, generator=seed_everything(0), device=exp.device)
    assert seen and set(seen) == {torch.bfloat16}
    seen.clear()
    ev = evaluate(model, exp.dataset, exp.splits, exp.device, exp.image_size)
    hook.remove()
    assert set(seen) == {torch.float32} and ev["test"].logits.dtype == np.float32
    x_test = exp.data("test")[0]
    from mu_core.data.transforms import to_float
    with torch.inference_mode():
        exact = model(to_float(x_test)).numpy()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            rounded = model(to_float(x_test)).float().numpy()
    np.testing.assert_allclose(ev["test"].logits, exact, rtol=1e-5, atol=1e-5)
    assert not np.allclose(ev["test"].logits, rounded, rtol=1e-5, atol=1e-5)


def test_fan_out_here_reports_progress_and_stops_on_cancel():
    flag, done, steps = threading.Event(), [], []

    def twice(shared, item, cancel):
        return shared * item

    def keep(position, result):
        done.append(result)
        flag.set()

    fan = B.FanOut(twice, 2, B.Workers("here"), "toy", 3, progress=lambda p: steps.append(p.step), cancel=flag)
    with pytest.raises(Cancelled, match="1 of 3 finished"):
        fan.run([1, 2, 3], keep)
    assert done == [2] and steps == [0, 1]
