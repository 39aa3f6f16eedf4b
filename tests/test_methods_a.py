"""Method-specific checks of CF-k, NegGrad, Advanced NegGrad, Random Labels, SalUn, SSD and GISA on tiny data
(methodkit's small experiment: a 2-epoch, 32-pixel Original on 8 people; a multi-label variant of the built-in
faces for the task-kind checks)."""
from __future__ import annotations

import math

import pytest
import torch
from methodkit import checkpoints, new_context, run_checked, small_experiment, with_attributes  # noqa: F401

from mu_core.baselines import get_baseline
from mu_core.experiment import Experiment
from mu_core.methods import UnlearnContext, cf_k, salun
from mu_core.methods.base import share_of_each_class
from mu_core.methods.common import diag_importance, random_wrong_labels
from mu_core.methods.gisa import tensor_lrs
from mu_core.methods.salun import saliency_mask
from mu_core.methods.ssd import dampen
from mu_core.models import build_model, clone, split_at
from mu_core.training import Tracker

MINE = ("cf_k", "neggrad", "adv_neggrad", "random_labels", "salun", "ssd", "gisa")
# Small settings so that every run takes a few steps.
FAST = {"cf_k": {"epochs": 1}, "neggrad": {"epochs": 1}, "adv_neggrad": {"epochs": 1},
        "random_labels": {"epochs": 1}, "salun": {"epochs": 1}, "ssd": {"selection": 1.0},
        "gisa": {"epochs": 1, "lr": 1e-3}}


@pytest.fixture(scope="module")
def exp(checkpoints) -> Experiment:  # noqa: F811
    return small_experiment("person")


@pytest.fixture(scope="module")
def original(exp):
    return get_baseline(exp, "original").model


def run(exp, original, name: str, seen: list | None = None, **overrides) -> UnlearnContext:
    """Run a method on a copy of `original`, checking that it reports exactly the steps it announced."""
    ctx, reports = run_checked(exp, original, name, {**FAST.get(name, {}), **overrides})
    if seen is not None:
        seen.extend(reports)
    return ctx


def params(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.named_parameters()}


def state(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("name", MINE)
def test_runs_on_a_multilabel_task(exp, name):
    """An untrained three-attribute network is enough to exercise the multi-label code paths."""
    torch.manual_seed(0)
    original = build_model(3).eval()
    before = params(original)
    after = params(run(with_attributes(exp), original, name).model)
    assert all(torch.isfinite(v).all() for v in after.values())
    assert any(not torch.equal(before[k], after[k]) for k in before)


def test_cf_k_leaves_lower_blocks_untouched(exp, original):
    before = state(original)
    ctx = run(exp, original, "cf_k", k=3)
    after = state(ctx.model)
    for name in before:
        moved = not torch.equal(before[name], after[name])
        if name.startswith(("conv1", "bn1", "layer1", "layer2")):
            assert not moved, f"{name} changed although frozen"
    assert not torch.equal(before["fc.weight"], after["fc.weight"])
    assert not torch.equal(before["layer3.0.conv1.weight"], after["layer3.0.conv1.weight"])
    assert all(p.requires_grad for p in ctx.model.parameters())


def test_cf_k_1_trains_only_the_head(exp, original):
    before = params(original)
    after = params(run(exp, original, "cf_k", k=1).model)
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed == {"fc.weight", "fc.bias"}


@pytest.mark.parametrize("first", ["fc", "layer3"])
def test_split_at_composes_to_the_model(original, first):
    lower, upper = split_at(original, first)
    x = torch.rand(4, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(upper(lower(x)), original(x), atol=1e-5)
    assert {id(p) for p in upper.parameters()} <= {id(p) for p in original.parameters()}


@pytest.mark.parametrize("first", ["fc", "layer4"])
@pytest.mark.parametrize("features", [False, True])
def test_original_outputs_are_the_same_within_frozen_below(exp, original, first, features):
    """Methods read the Original's outputs and features through the context; within frozen_below they come from the
    frozen blocks' outputs and must equal those of the whole Original on the images."""
    ctx = new_context(exp, original)
    images = ctx.data("forget")[0]
    whole = ctx.original_outputs(images, features=features)
    with ctx.frozen_below(first):
        upper = ctx.original_outputs(ctx.data("forget")[0], features=features)
    assert whole.shape == upper.shape and torch.allclose(whole, upper, atol=1e-4)


@pytest.mark.parametrize("k", [1, 2])
def test_cf_k_on_frozen_outputs_computed_once_matches_the_plain_loop(exp, original, k, monkeypatch):
    """Without augmentation and with frozen BatchNorm statistics CF-k runs the frozen blocks once per image; the
    weights must come out as the epoch-by-epoch loop computes them."""
    settings = {"k": k, "augment": False, "epochs": 3, "lr": 0.1, "momentum": 0.9, "weight_decay": 0.001}
    images = []
    counted = clone(original)
    counted.layer1.register_forward_hook(lambda module, args, out: images.append(len(out)))  # cloned with it
    once = state(run(exp, counted, "cf_k", **settings).model)
    assert sum(images) == len(exp.data("forget")[0]) + len(exp.data("retain")[0])
    monkeypatch.setattr(cf_k, "frozen_outputs_are_fixed", lambda hp: False)
    plain = state(run(exp, original, "cf_k", **settings).model)
    assert once.keys() == plain.keys()
    assert all(torch.allclose(once[n].float(), plain[n].float(), atol=1e-5) for n in once)
    assert not torch.equal(once["fc.weight"], state(original)["fc.weight"])


def test_neggrad_raises_the_forget_loss(exp, original):
    seen = []
    run(exp, original, "neggrad", seen, epochs=3, lr=0.01)
    assert seen[-1].losses["forget"] > seen[0].losses["forget"]


def test_adv_neggrad_reports_both_losses(exp, original):
    seen = []
    run(exp, original, "adv_neggrad", seen, forget_batch_size=16)
    assert all({"retain", "forget"} <= set(p.losses) for p in seen)


def test_random_wrong_labels_are_always_wrong():
    g = torch.Generator().manual_seed(0)
    y = torch.arange(40).repeat(5)
    wrong = random_wrong_labels(y, "multiclass", 40, g)
    assert (wrong != y).all() and wrong.min() >= 0 and wrong.max() < 40
    assert len(set(wrong.tolist())) > 20
    assert torch.equal(wrong, random_wrong_labels(y, "multiclass", 40, torch.Generator().manual_seed(0)))
    binary = random_wrong_labels(torch.tensor([0, 1, 1, 0]), "binary", 2, g)
    assert binary.tolist() == [1, 0, 0, 1]
    attrs = torch.randint(0, 2, (500, 3), generator=g).float()
    flipped = random_wrong_labels(attrs, "multilabel", 3, g)
    assert ((flipped != attrs).any(dim=1)).all() and set(flipped.unique().tolist()) <= {0.0, 1.0}


def test_salun_changes_only_masked_weights(exp, original, monkeypatch):
    """The mask depends on the augmentation drawn in the run, so it is taken from the run itself."""
    fraction, masks = 0.1, []
    monkeypatch.setattr(salun, "saliency_mask", lambda *args: masks.append(saliency_mask(*args)) or masks[-1])
    before = params(original)
    after = params(run(exp, original, "salun", saliency_fraction=fraction, train_from="all").model)
    mask = masks[0]
    kept = sum(int(m.sum()) for m in mask.values()) / sum(m.numel() for m in mask.values())
    assert kept == pytest.approx(fraction, abs=0.01)
    moved = 0
    for name in before:
        changed = before[name] != after[name]
        assert not (changed & (mask[name] == 0)).any(), f"{name} changed outside the mask"
        moved += int(changed.sum())
    assert moved > 0


def test_ssd_dampens_and_never_grows_weights(exp, original):
    before = params(original)
    ctx = run(exp, original, "ssd", selection=1.0, dampening=0.5)
    after = params(ctx.model)
    for name in before:  # each weight is multiplied by a factor in [0, 1]
        assert (after[name].abs() <= before[name].abs()).all() and (after[name] * before[name] >= 0).all()
    assert any(not torch.equal(before[k], after[k]) for k in before)
    buffers = dict(original.named_buffers())
    assert all(torch.equal(buffers[k], v) for k, v in ctx.model.named_buffers())


def test_ssd_dampening_rule():
    model = torch.nn.Linear(3, 1, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0, -2.0, 3.0]]))
    reference = {"weight": torch.tensor([[1.0, 1.0, 1.0]])}
    forget = {"weight": torch.tensor([[20.0, 5.0, 40.0]])}
    share = dampen(model, reference, forget, dampening=2.0, selection=10.0)
    # Selected: elements 0 (20 > 10) and 2 (40 > 10), scaled by 2*1/20 and 2*1/40; element 1 untouched.
    assert model.weight.detach()[0].tolist() == pytest.approx([0.1, -2.0, 0.15])
    assert share == pytest.approx(2 / 3)
    dampen(model, reference, {"weight": torch.tensor([[20.0, 0.0, 40.0]])}, dampening=100.0, selection=10.0)
    assert model.weight.detach()[0].tolist() == pytest.approx([0.1, -2.0, 0.15])  # factor capped at 1


def test_diag_importance_is_the_mean_squared_batch_gradient():
    model = torch.nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(0.0)
    batches = [(torch.tensor([[1.0, 0.0]]), torch.tensor([[1.0]])), (torch.tensor([[0.0, 2.0]]), torch.tensor([[1.0]]))]
    mse = lambda z, y: ((z - y) ** 2).mean()  # noqa: E731
    imp = diag_importance(model, batches, mse, Tracker(2), "importance")
    # Gradients: batch 1 (-2, 0), batch 2 (0, -4); mean of squares (2, 8).
    assert imp["weight"][0].tolist() == pytest.approx([2.0, 8.0])
    assert model.weight.grad is None


def test_gisa_lrs_are_never_below_base():
    retain = {"a": torch.tensor([1.0, 1.0]), "b": torch.tensor([1.0, 4.0]), "c": torch.zeros(2)}
    forget = {"a": torch.tensor([math.e, math.e]), "b": torch.tensor([0.5, 1.0]), "c": torch.zeros(2)}
    lrs = tensor_lrs(forget, retain, 1e-3)
    assert lrs["a"] == pytest.approx(2e-3, rel=1e-5)  # log ratio 1 everywhere
    assert lrs["b"] == pytest.approx(1e-3) and lrs["c"] == pytest.approx(1e-3)  # negative logs clamp to 0


def test_gisa_runs_with_class_weights(exp, original):
    before = params(original)
    after = params(run(exp, original, "gisa", class_weighted=True).model)
    assert all(torch.isfinite(v).all() for v in after.values())
    assert any(not torch.equal(before[k], after[k]) for k in before)


def test_share_of_each_class_keeps_the_share_of_every_label_and_depends_on_the_seed_only():
    labels = torch.tensor([0] * 7 + [1] * 7 + [2] * 7 + [3])
    kept = share_of_each_class(labels, 0.3, seed=5)
    counts = torch.bincount(labels[kept], minlength=4).tolist()
    assert len(kept) == 7 and counts[3] == 1  # 0.3 * 22 = 6.6  # the total share; a lone image is kept
    assert sorted(counts[:3]) == [2, 2, 2]  # floor(2.1) each; the remainders 0.1 lose to the lone image's
    assert torch.equal(kept, share_of_each_class(labels, 0.3, seed=5))
    assert not torch.equal(kept, share_of_each_class(labels, 0.3, seed=6))
    assert sorted(torch.bincount(labels[share_of_each_class(labels[:21], 0.5, 0)]).tolist()) == [3, 4, 4]
    vectors = torch.tensor([[0.0, 1.0]] * 4 + [[1.0, 1.0]] * 4)
    assert sorted(vectors[share_of_each_class(vectors, 0.5, seed=0)][:, 0].tolist()) == [0.0, 0.0, 1.0, 1.0]


def test_retain_share_cuts_the_retain_and_train_data_a_method_sees(exp, original):
    full = run(exp, original, "finetune", batch_size=8, retain_share=1.0)  # not the preset's share
    half = run(exp, original, "finetune", batch_size=8, retain_share=0.5)
    n_retain = len(exp.splits.retain)
    assert len(full.data("retain")[0]) == n_retain
    assert n_retain / 2 <= len(half.data("retain")[0]) < n_retain
    assert half.tracker.total < full.tracker.total
    ssd = run(exp, original, "ssd", retain_share=0.5)
    assert len(ssd.data("train")[0]) == len(exp.splits.forget) + len(ssd.data("retain")[0])
    with pytest.raises(RuntimeError):
        ssd.keep_retain_share(0.5)
