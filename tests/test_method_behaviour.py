"""What a run of each method does on tiny data (methodkit's small experiment: a 2-epoch, 32-pixel Original on 8
people; person scenario: forget people 2 and 7, 14 photos; retain 42): which weights move, the order of its stages,
the data it picks, and that it runs on a multi-label variant of the built-in faces."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from methodkit import checkpoints, new_context, run_checked, small_experiment, with_attributes  # noqa: F401

from mu_core.baselines import get_baseline
from mu_core.experiment import Experiment
from mu_core.methods import UnlearnContext, cf_k, salun
from mu_core.methods.bad_teacher import incompetent_teacher
from mu_core.methods.bad_teacher_sim import similar_retain
from mu_core.methods.piu_fr import twins
from mu_core.methods.salun import saliency_mask
from mu_core.models import build_model, clone, frozen_outputs, split_at

# Small settings so that every run takes a few steps, fixed so that the step counts below do not depend on the
# tuned presets. With batches of 16, the 42 retain photos make 3 batches and the 14 forget photos one.
FAST = {"cf_k": {"epochs": 1}, "neggrad": {"epochs": 1}, "adv_neggrad": {"epochs": 1},
        "random_labels": {"epochs": 1}, "salun": {"epochs": 1}, "ssd": {"selection": 1.0},
        "gisa": {"epochs": 1, "lr": 1e-3},
        "unsir": {"variant": "class_noise", "noise_steps": 2, "noise_per_class": 1, "noise_mode": "eval",
                  "noise_repeats": 1, "retain_per_class": 0, "impair_epochs": 1, "repair": True, "repair_epochs": 1,
                  "batch_size": 16, "retain_share": 1.0},
        "scrub": {"variant": "original", "epochs": 2, "msteps": 1, "forget_batch": 8, "retain_batch": 16,
                  "retain_share": 1.0},
        "bad_teacher": {"epochs": 1, "batch_size": 16, "retain_share": 0.3},
        "bad_teacher_sim": {"epochs": 1, "batch_size": 16, "bad_teacher_epochs": 0},
        "contrastive": {"epochs": 1, "batch_size": 16, "retain_share": 1.0},
        "piu_fr": {"epochs": 1, "batch_size": 4, "recalibrate_bn": False, "stage2": False, "stage2_batch": 16}}
RETAIN_BATCHES = 3


@pytest.fixture(scope="module")
def exp(checkpoints) -> Experiment:  # noqa: F811
    return small_experiment("person")


@pytest.fixture(scope="module")
def original(exp):
    return get_baseline(exp, "original").model


def unlearn(exp: Experiment, original, name: str, **overrides) -> tuple[UnlearnContext, list]:
    """Run a method on a copy of `original` with its FAST settings updated with `overrides`, checking that it
    reports exactly the steps it announced; returns its context and every progress report."""
    return run_checked(exp, original, name, {**FAST.get(name, {}), **overrides})


def stages(seen: list) -> list[str]:
    return [p.stage for p in seen]


def params(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.named_parameters()}


def state(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("name", sorted(FAST))
def test_runs_on_a_multilabel_task(exp, name):
    """An untrained three-attribute network is enough to exercise the multi-label code paths."""
    torch.manual_seed(0)
    original = build_model(3).to(exp.device).eval()
    before = params(original)
    after = params(unlearn(with_attributes(exp), original, name)[0].model)
    assert all(torch.isfinite(v).all() for v in after.values())
    assert any(not torch.equal(before[k], after[k]) for k in before)


def test_cf_k_leaves_lower_blocks_untouched(exp, original):
    before = state(original)
    ctx = unlearn(exp, original, "cf_k", k=3)[0]
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
    after = params(unlearn(exp, original, "cf_k", k=1)[0].model)
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed == {"fc.weight", "fc.bias"}


@pytest.mark.parametrize("first", ["fc", "layer3"])
def test_split_at_composes_to_the_model(original, first):
    lower, upper = split_at(original, first)
    x = torch.rand(4, 3, 32, 32, device=next(original.parameters()).device)
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
    once = state(unlearn(exp, counted, "cf_k", **settings)[0].model)
    assert sum(images) == len(exp.data("forget")[0]) + len(exp.data("retain")[0])
    monkeypatch.setattr(cf_k, "frozen_outputs_are_fixed", lambda hp: False)
    plain = state(unlearn(exp, original, "cf_k", **settings)[0].model)
    assert once.keys() == plain.keys()
    assert all(torch.allclose(once[n].float(), plain[n].float(), atol=1e-5) for n in once)
    assert not torch.equal(once["fc.weight"], state(original)["fc.weight"])


def test_neggrad_raises_the_forget_loss(exp, original):
    seen = unlearn(exp, original, "neggrad", epochs=3, lr=0.01)[1]
    assert seen[-1].losses["forget"] > seen[0].losses["forget"]


def test_adv_neggrad_reports_both_losses(exp, original):
    seen = unlearn(exp, original, "adv_neggrad", forget_batch_size=16)[1]
    assert all({"retain", "forget"} <= set(p.losses) for p in seen)


def test_salun_changes_only_masked_weights(exp, original, monkeypatch):
    """The mask depends on the augmentation drawn in the run, so it is taken from the run itself."""
    fraction, masks = 0.1, []
    monkeypatch.setattr(salun, "saliency_mask", lambda *args: masks.append(saliency_mask(*args)) or masks[-1])
    before = params(original)
    after = params(unlearn(exp, original, "salun", saliency_fraction=fraction, train_from="all")[0].model)
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
    ctx = unlearn(exp, original, "ssd", selection=1.0, dampening=0.5)[0]
    after = params(ctx.model)
    for name in before:  # each weight is multiplied by a factor in [0, 1]
        assert (after[name].abs() <= before[name].abs()).all() and (after[name] * before[name] >= 0).all()
    assert any(not torch.equal(before[k], after[k]) for k in before)
    buffers = dict(original.named_buffers())
    assert all(torch.equal(buffers[k], v) for k, v in ctx.model.named_buffers())


def test_gisa_runs_with_class_weights(exp, original):
    before = params(original)
    after = params(unlearn(exp, original, "gisa", class_weighted=True)[0].model)
    assert all(torch.isfinite(v).all() for v in after.values())
    assert any(not torch.equal(before[k], after[k]) for k in before)


def test_retain_share_cuts_the_retain_and_train_data_a_method_sees(exp, original):
    full = unlearn(exp, original, "finetune", batch_size=8, retain_share=1.0)[0]  # not the preset's share
    half = unlearn(exp, original, "finetune", batch_size=8, retain_share=0.5)[0]
    n_retain = len(exp.splits.retain)
    assert len(full.data("retain")[0]) == n_retain
    assert n_retain / 2 <= len(half.data("retain")[0]) < n_retain
    assert half.tracker.total < full.tracker.total
    ssd = unlearn(exp, original, "ssd", retain_share=0.5)[0]
    assert len(ssd.data("train")[0]) == len(exp.splits.forget) + len(ssd.data("retain")[0])
    with pytest.raises(RuntimeError):
        ssd.keep_retain_share(0.5)


def test_unsir_variants_and_optional_repair(exp, original):
    seen = unlearn(exp, original, "unsir", variant="batch_noise", noise_steps=2, impair_epochs=2)[1]
    # One forget batch, so each epoch has one (retain, forget) pair: its noise steps, then one model step.
    assert stages(seen) == (["noise"] * 2 + ["impair"]) * 2 + ["repair"] * RETAIN_BATCHES
    seen = unlearn(exp, original, "unsir", variant="class_noise", noise_steps=2, repair=False)[1]
    # 2 forgotten people x 1 noise image + 42 retain photos = 44 images in batches of 16.
    assert stages(seen) == ["noise"] * 2 + ["impair"] * 3


def test_scrub_msteps_limits_the_max_passes(exp, original):
    seen = unlearn(exp, original, "scrub", epochs=3, msteps=2)[1]
    kinds = ["max" if s.startswith("max") else "min" for s in stages(seen)]
    assert kinds == (["max"] * 2 + ["min"] * RETAIN_BATCHES) * 2 + ["min"] * RETAIN_BATCHES


def test_scrub_benchmark_variant_is_min_then_max_every_epoch(exp, original):
    seen = unlearn(exp, original, "scrub", variant="benchmark", epochs=2, msteps=0)[1]
    kinds = ["max" if s.startswith("max") else "min" for s in stages(seen)]
    assert kinds == (["min"] * RETAIN_BATCHES + ["max"] * 2) * 2


def test_piu_fr_alternates_descent_and_ascent_each_epoch(exp, original):
    seen = unlearn(exp, original, "piu_fr", epochs=2, stage2=True, stage2_epochs=1)[1]
    signs = [p.losses["sign"] for p in seen[:8]]
    assert signs == [1.0, -1.0, 1.0, -1.0] * 2  # 14 forget photos in 4 batches, restarting with descent
    assert stages(seen)[8:] == ["stage 2: fine-tune"] * RETAIN_BATCHES


def test_piu_fr_twins_are_class_matched_retain_photos(exp, original):
    # photos scenario: every forgotten photo's person keeps retain photos, so each twin is of the same person.
    ctx = new_context(small_experiment("photos"), original)
    chosen = twins(ctx)
    assert torch.equal(ctx.data("retain")[1][chosen], ctx.data("forget")[1])
    assert len(set(chosen.tolist())) == len(chosen)
    # person scenario: the forgotten people have no retain photos, so twins come from the other people.
    ctx = new_context(exp, original)
    chosen = twins(ctx)
    assert len(chosen) == len(ctx.data("forget")[0])
    assert not set(ctx.data("retain")[1][chosen].tolist()) & set(ctx.data("forget")[1].tolist())
    assert torch.equal(chosen, twins(new_context(exp, original)))  # seeded by ctx.generator


def test_bad_teacher_sim_picks_the_nearest_retain_photos(exp, original):
    ctx = new_context(exp, original)
    chosen, counts = similar_retain(ctx, neighbours=3)
    f = F.normalize(frozen_outputs(original, ctx.data("forget")[0], features=True), dim=1)
    r = F.normalize(frozen_outputs(original, ctx.data("retain")[0], features=True), dim=1)
    expected = torch.zeros(len(r), dtype=torch.long)
    for row in (f @ r.T).cpu():
        expected[row.argsort(descending=True)[:3]] += 1
    chosen, counts = chosen.cpu(), counts.cpu()
    assert torch.equal(chosen, expected.nonzero().flatten()) and torch.equal(counts, expected[chosen])
    assert int(counts.sum()) == 3 * len(f) and len(chosen) < len(r)


def test_incompetent_teacher_is_seeded_and_leaves_the_global_rng_alone(exp, original):
    rng = torch.random.get_rng_state()
    a = incompetent_teacher(new_context(exp, original))
    assert torch.equal(torch.random.get_rng_state(), rng)
    b = incompetent_teacher(new_context(exp, original))
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert not torch.equal(a.fc.weight, original.fc.weight) and not a.training
    assert not any(p.requires_grad for p in a.parameters())


def test_eu_k_reinitialises_the_top_blocks_as_a_new_model_would_be(exp, original):
    """cf_k with reinit (EU-k): the top k blocks start from fresh weights drawn like a new model's, the blocks below
    keep the Original's."""
    from mu_core.models import build_model, reinitialise
    torch.manual_seed(7)
    fresh = build_model(exp.dataset.num_classes)
    torch.manual_seed(7)
    again = build_model(exp.dataset.num_classes)
    for block in (again.layer4, again.fc):
        reinitialise(block)  # drawn the same way: each layer's spread close to the freshly built one's
    for (name, a), (_, b) in zip(fresh.named_parameters(), again.named_parameters()):
        if name.startswith(("layer4", "fc")) and a.numel() > 100:
            assert abs(a.std().item() - b.std().item()) <= 0.1 * a.std().item(), name
    before = state(original)
    after = state(unlearn(exp, original, "cf_k", k=2, reinit=True, lr=1e-5, epochs=1)[0].model)
    assert not torch.equal(before["layer4.0.conv1.weight"], after["layer4.0.conv1.weight"])
    assert not torch.equal(before["fc.weight"], after["fc.weight"])
    assert all(torch.equal(before[n], after[n]) for n in before if n.startswith(("conv1", "layer1", "layer2",
                                                                                  "layer3")))
