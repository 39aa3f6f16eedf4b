"""The methods and metrics follow their published sources by default (issue 19, "Fidelity"): each check runs on a
small constructed case, a tiny network on random 8-pixel images, without the built-in faces."""
from __future__ import annotations

import copy
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn as nn
from sklearn.metrics import roc_auc_score
from sklearn.svm import SVC

import mu_core.methods.base as base
from mu_core import metrics as M
from mu_core import plots
from mu_core.errors import MUError
from mu_core.methods import UnlearnContext, get_method
from mu_core.methods import contrastive, salun, scrub
from mu_core.methods.ssd import importance_data
from mu_core.training import Tracker

def tiny_net(classes: int = 3) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(1), nn.Linear(4, classes))


def images(n: int, seed: int) -> torch.Tensor:
    return torch.randint(0, 256, (n, 3, 8, 8), generator=torch.Generator().manual_seed(seed), dtype=torch.uint8)


def context(model: nn.Module, y_f: list[int], y_r: list[int], seen: list | None = None) -> UnlearnContext:
    """What a method receives, on random images with the given forget and retain labels (3 classes)."""
    forget = (images(len(y_f), 1), torch.tensor(y_f))
    retain = (images(len(y_r), 2), torch.tensor(y_r))
    splits = {"forget": forget, "retain": retain, "train": tuple(torch.cat(p) for p in zip(forget, retain))}
    exp = SimpleNamespace(device=torch.device("cpu"), dataset=SimpleNamespace(kind="multiclass", num_classes=3),
                          recipe=SimpleNamespace(augment="faces"), seed=0, data=splits.__getitem__)
    teacher = copy.deepcopy(model).eval().requires_grad_(False)
    return UnlearnContext(exp, model.train(), teacher, torch.Generator().manual_seed(0),
                          Tracker(1, None if seen is None else seen.append))


def run(name: str, ctx: UnlearnContext, **overrides) -> list:
    """Run a method with its declared defaults (no data's preset) updated with `overrides`; checks that it reports
    exactly the steps it announced."""
    method = get_method(name)
    seen: list = []
    ctx.tracker.progress = seen.append
    method.apply(ctx, method.resolve(overrides, "constructed", "case"))
    assert seen and seen[-1].step == seen[-1].total == ctx.tracker.total
    return seen


def test_new_hyperparameters_declare_their_published_defaults_and_source():
    published = {("ssd", "importance_order"): "concat", ("unsir", "noise_steps"): 40,
                 ("unsir", "noise_per_class"): 256, ("unsir", "noise_repeats"): 20,
                 ("unsir", "retain_per_class"): 1000, ("unsir", "noise_mode"): "train",
                 ("piu_fr", "recalibrate_bn"): True, ("neggrad", "loop"): "retain",
                 ("scrub", "lr_decay_epochs"): (3, 5, 9), ("scrub", "lr_decay_rate"): 0.1,
                 ("contrastive", "retain_lr"): 0.001, ("contrastive", "scale_retain_lr"): True}
    for (name, hparam), value in published.items():
        h = get_method(name).hparam(hparam)
        assert h.default == value and h.source, (name, hparam)
        assert h.to_dict()["source"] == h.source and h.to_dict()["default"] == value


# ----- SSD -----------------------------------------------------------------------------------------------------

def test_ssd_published_order_selects_nothing_when_the_forget_share_exceeds_one_over_alpha():
    """Retain then forget, unshuffled: the forget images fill the last batch of the I_D pass, which is the single
    batch of the I_f pass, so I_D >= I_f / 3 (3 batches) and no weight has I_f > 4 * I_D."""
    ctx = context(tiny_net(), [2] * 8, [0] * 8 + [1] * 8)
    before = {k: v.clone() for k, v in ctx.model.state_dict().items()}
    seen = run("ssd", ctx, selection=4.0, batch_size=8)
    assert seen[-1].losses["selected_share"] == 0.0
    assert all(torch.equal(before[k], v) for k, v in ctx.model.state_dict().items())
    x, y = importance_data(ctx, "train", "concat")
    assert torch.equal(y[-8:], torch.full((8,), 2)) and torch.equal(x[:16], ctx.data("retain")[0])


# ----- MIA efficacy --------------------------------------------------------------------------------------------

def test_mia_efficacy_is_salun_svc_on_true_class_confidence():
    rng = np.random.default_rng(0)
    retain = np.concatenate([rng.uniform(0.7, 1.0, 30), rng.uniform(0.0, 0.2, 30)])  # only the first 30 count
    test = rng.uniform(0.1, 0.8, 30)
    forget = rng.uniform(0.0, 1.0, 25)
    x = np.concatenate([retain[:30], test]).reshape(-1, 1)
    y = np.concatenate([np.ones(30), np.zeros(30)])
    direct = SVC(C=3, kernel="rbf", gamma="auto").fit(x, y).predict(forget.reshape(-1, 1))
    assert M.mia_efficacy(retain, test, forget) == pytest.approx(1 - direct.mean())
    assert M.mia_efficacy(retain[:30], test, forget) == M.mia_efficacy(retain, test, forget)
    logits = np.array([[2.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    expected = np.exp(2) / (np.exp(2) + 2)
    assert M.true_class_confidence(logits, np.array([0, 2])) == pytest.approx([expected, 1 / 3])
    ml = M.true_class_confidence(np.array([[0.0, np.log(3)]]), np.array([[1.0, 0.0]]))
    assert ml == pytest.approx([(0.5 + 0.25) / 2])  # mean over attributes of P(true value)


# ----- the benchmark's balancing -------------------------------------------------------------------------------

def test_balance_keeps_all_unseen_when_the_forget_set_is_smaller():
    forget, unseen = np.arange(5.0), np.arange(10.0, 18.0)
    member, nonmember = M.balance(forget, unseen)
    assert np.array_equal(nonmember, unseen) and sorted(member) == list(forget)
    shuffled = forget.copy()
    np.random.RandomState(42).shuffle(shuffled)
    assert np.array_equal(member, shuffled)
    attack = M.mia(np.linspace(0, 1, 20), np.linspace(0.5, 2, 24))
    assert (attack.n_members, attack.n_nonmembers) == (20, 24)
    larger, _ = M.balance(np.arange(30.0), unseen)
    assert len(larger) == len(unseen)


# ----- ROC curve and AUC ---------------------------------------------------------------------------------------

def drawn_area(trace) -> float:
    """The area under a plotted line as plotly draws it: straight segments, or steps for shape "hv"."""
    x, y = np.asarray(trace.x, dtype=float), np.asarray(trace.y, dtype=float)
    if trace.line.shape == "hv":
        return float(np.sum(np.diff(x) * y[:-1]))
    return float(np.trapezoid(y, x))


def test_roc_curve_is_drawn_as_the_auc_measures_it():
    member = np.array([0.1, 0.2, 0.2, 0.5, 0.7, 0.7])  # ties across the two sides
    nonmember = np.array([0.2, 0.5, 0.7, 0.9, 1.0, 0.7])
    fig = plots.mia_roc({"A": M.mia_roc(member, nonmember)}, {"A": 6})
    auc = M.mia(member, nonmember).auc
    assert auc == pytest.approx(roc_auc_score([1] * 6 + [0] * 6, -np.concatenate([member, nonmember])))
    assert drawn_area(fig.data[1]) == pytest.approx(auc)
    assert f"AUC {auc:.2f}" in fig.data[1].name


# ----- UNSIR ---------------------------------------------------------------------------------------------------

SMALL_NOISE = {"variant": "class_noise", "noise_steps": 2, "noise_per_class": 2, "noise_repeats": 3,
               "retain_per_class": 2, "batch_size": 8, "repair": True}


def test_unsir_original_constants_train_mode_and_retain_subset():
    ctx = context(tiny_net(), [2, 2], [0] * 5 + [1] * 5)
    bn = ctx.model[1]
    modes = []
    bn.register_forward_hook(lambda module, _in, _out: modes.append(module.training))
    seen = run("unsir", ctx, **SMALL_NOISE)
    stages = [p.stage for p in seen]
    # one forgotten class: 2 noise steps; impair over 2 noise images x 3 + 2 retain images per class (4) = 10
    # images in batches of 8; repair over the 4 retain images
    assert stages == ["noise"] * 2 + ["impair"] * 2 + ["repair"]
    assert modes[:2] == [True, True]  # the noise is optimised with the model in train mode


def test_unsir_warns_when_the_forget_set_is_not_whole_classes():
    whole = context(tiny_net(), [2, 2], [0] * 5 + [1] * 5)
    run("unsir", whole, **SMALL_NOISE)
    assert whole.notes == []
    every = context(tiny_net(), [0, 1, 2], [0] * 5 + [1] * 5 + [2] * 5)
    with pytest.warns(UserWarning, match="every class is a forgotten class"):
        seen = run("unsir", every, **SMALL_NOISE)
    assert len(every.notes) == 1 and seen[0].stage.startswith("noise (warning")  # the progress shows it too
    some = context(tiny_net(), [1, 2], [0] * 5 + [1] * 5)
    with pytest.warns(UserWarning, match="1 of the 2 classes"):
        run("unsir", some, **SMALL_NOISE)
    with pytest.raises(MUError, match="at least 2 noise images"):
        run("unsir", context(tiny_net(), [2, 2], [0] * 5), **{**SMALL_NOISE, "noise_per_class": 1})


# ----- PIU-FR --------------------------------------------------------------------------------------------------

def test_piu_fr_recalibrates_batchnorm_only_when_asked():
    settings = {"epochs": 2, "batch_size": 4, "stage2": False}
    on, off = (context(tiny_net(), [2] * 6, [0] * 6 + [1] * 6) for _ in range(2))
    start = {k: v.clone() for k, v in on.model.named_buffers()}
    seen_on = run("piu_fr", on, recalibrate_bn=True, **settings)
    seen_off = run("piu_fr", off, recalibrate_bn=False, **settings)
    # 6 forget images + 6 twins in batches of 4: 3 recalibration batches after each of the 2 epochs
    assert [p.stage for p in seen_on].count("stage 1: BatchNorm recalibration") == 6
    assert len(seen_on) == len(seen_off) + 6
    params_on, params_off = dict(on.model.named_parameters()), dict(off.model.named_parameters())
    assert all(torch.equal(params_on[k], params_off[k]) for k in params_on)  # no gradient step changes
    buffers_on, buffers_off = dict(on.model.named_buffers()), dict(off.model.named_buffers())
    assert not torch.equal(buffers_on["1.running_mean"], buffers_off["1.running_mean"])
    assert not torch.equal(buffers_on["1.running_mean"], start["1.running_mean"])
    assert buffers_on["1.num_batches_tracked"] == buffers_off["1.num_batches_tracked"] + 6


# ----- NegGrad and SCRUB ---------------------------------------------------------------------------------------

def test_neggrad_retain_loop_makes_one_forget_step_per_retain_batch():
    retain = [0] * 12 + [1] * 12  # 3 batches of 8
    assert len(run("neggrad", context(tiny_net(), [2] * 8, retain), epochs=2, batch_size=8)) == 2 * 3
    assert len(run("neggrad", context(tiny_net(), [2] * 8, retain), epochs=2, batch_size=8, loop="forget")) == 2


def test_scrub_decays_the_learning_rate_after_the_decay_epochs(monkeypatch):
    hp = {"lr": 1.0, "lr_decay_rate": 0.1, "lr_decay_epochs": (3, 5, 9)}
    assert [scrub.decayed_lr(hp, e) for e in range(11)] == pytest.approx(
        [1.0] * 3 + [0.1] * 2 + [0.01] * 4 + [0.001] * 2)
    made = []
    real = scrub.optimizer
    monkeypatch.setattr(scrub, "optimizer", lambda *a, **k: made.append(real(*a, **k)) or made[-1])
    run("scrub", context(tiny_net(), [2] * 8, [0] * 8), epochs=4, lr=0.01, forget_batch=8, retain_batch=8)
    assert made[0].param_groups[0]["lr"] == pytest.approx(0.001)  # the 4th epoch runs after the decay at 3
    h = get_method("scrub").hparam("lr_decay_epochs")
    assert h.validate("9, 3") == (3, 9) and h.validate("") == () and h.validate([5]) == (5,)
    with pytest.raises(MUError, match="lr_decay_epochs"):
        h.validate("3,x")


# ----- SalUn and contrastive -----------------------------------------------------------------------------------

def test_salun_mask_is_computed_on_augmented_forget_images(monkeypatch):
    calls = []
    real = base.augment
    monkeypatch.setattr(base, "augment", lambda x, kind, g: calls.append(len(x)) or real(x, kind, g))
    salun.saliency_mask(context(tiny_net(), [2] * 12, [0] * 8), 0.5, 8)
    assert calls == [6, 6]  # both forget batches went through the training augmentation


def test_contrastive_retain_lr_scales_with_the_batch_size(monkeypatch):
    assert contrastive.retain_lr({"retain_lr": 0.001, "batch_size": 256, "scale_retain_lr": True}) == 0.004
    assert contrastive.retain_lr({"retain_lr": 0.004, "batch_size": 64, "scale_retain_lr": False}) == 0.004
    lrs = []
    real = contrastive.optimizer
    monkeypatch.setattr(contrastive, "optimizer", lambda params, name, lr, *a: lrs.append(lr) or real(
        params, name, lr, *a))
    run("contrastive", context(tiny_net(), [2] * 8, [0] * 8), epochs=1, batch_size=32)
    assert lrs[-1] == pytest.approx(0.001 * 32 / 64)
