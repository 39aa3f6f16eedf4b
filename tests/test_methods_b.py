"""Method-specific checks of UNSIR, SCRUB, Bad Teacher (plain and with similarity sampling), Contrastive
fine-tuning and PIU-FR on tiny data: the first 8 people of the built-in faces (person scenario: forget people 2
and 7, 14 photos; retain 42), a 2-epoch 32-pixel Original, and a multi-label variant for the task-kind checks."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from methodkit import checkpoints, new_context, run_checked, small_experiment, with_attributes  # noqa: F401

from mu_core.baselines import get_baseline
from mu_core.experiment import Experiment
from mu_core.methods.bad_teacher import epoch_batches, incompetent_teacher
from mu_core.methods.bad_teacher_sim import similar_retain
from mu_core.methods.common import distill_kl, kl_to_target, task_distill_kl, uniform_target
from mu_core.methods.contrastive import contrastive_loss
from mu_core.methods.piu_fr import twins
from mu_core.models import build_model, frozen_outputs

MINE = ("unsir", "scrub", "bad_teacher", "bad_teacher_sim", "contrastive", "piu_fr")
# Small settings, fixed so that the step counts below do not depend on the tuned presets. With batches of 16,
# the 42 retain photos make 3 batches and the 14 forget photos one.
FAST = {"unsir": {"variant": "class_noise", "noise_steps": 2, "noise_per_class": 1, "impair_epochs": 1,
                  "repair": True, "repair_epochs": 1, "batch_size": 16, "retain_share": 1.0},
        "scrub": {"variant": "original", "epochs": 2, "msteps": 1, "forget_batch": 8, "retain_batch": 16,
                  "retain_share": 1.0},
        "bad_teacher": {"epochs": 1, "batch_size": 16, "retain_share": 0.3},
        "bad_teacher_sim": {"epochs": 1, "batch_size": 16, "bad_teacher_epochs": 0},
        "contrastive": {"epochs": 1, "batch_size": 16, "retain_share": 1.0},
        "piu_fr": {"epochs": 1, "batch_size": 4, "stage2": False, "stage2_batch": 16}}
RETAIN_BATCHES = 3


@pytest.fixture(scope="module")
def exp(checkpoints) -> Experiment:
    return small_experiment("person")


@pytest.fixture(scope="module")
def original(exp):
    return get_baseline(exp, "original").model


def unlearn(exp: Experiment, original, name: str, **overrides) -> tuple:
    return run_checked(exp, original, name, {**FAST[name], **overrides})


def stages(seen: list) -> list[str]:
    return [p.stage for p in seen]


def weights(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.named_parameters()}


@pytest.mark.parametrize("name", MINE)
def test_runs_on_a_multilabel_task(exp, name):
    """An untrained three-attribute network is enough to exercise the multi-label code paths."""
    torch.manual_seed(0)
    original = build_model(3).eval()
    before = weights(original)
    after = weights(unlearn(with_attributes(exp), original, name)[0].model)
    assert all(torch.isfinite(v).all() for v in after.values())
    assert any(not torch.equal(before[k], after[k]) for k in before)


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
    for row in f @ r.T:
        expected[row.argsort(descending=True)[:3]] += 1
    assert torch.equal(chosen, expected.nonzero().flatten()) and torch.equal(counts, expected[chosen])
    assert int(counts.sum()) == 3 * len(f) and len(chosen) < len(r)


def test_bad_teacher_sim_alternates_forget_and_retain_batches():
    g = torch.Generator().manual_seed(0)
    batches = epoch_batches(10, 25, 8, g, alternate=True)
    kinds = ["forget" if bool((b < 10).all()) else "retain" if bool((b >= 10).all()) else "mixed" for b in batches]
    assert kinds == ["forget", "retain", "forget", "retain", "retain", "retain"]
    assert sorted(torch.cat(batches).tolist()) == list(range(35))
    assert sorted(torch.cat(epoch_batches(10, 25, 8, g, alternate=False)).tolist()) == list(range(35))


def test_incompetent_teacher_is_seeded_and_leaves_the_global_rng_alone(exp, original):
    state = torch.random.get_rng_state()
    a = incompetent_teacher(new_context(exp, original))
    assert torch.equal(torch.random.get_rng_state(), state)
    b = incompetent_teacher(new_context(exp, original))
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert not torch.equal(a.fc.weight, original.fc.weight) and not a.training
    assert not any(p.requires_grad for p in a.parameters())


def test_distillation_helpers_for_both_task_kinds():
    g = torch.Generator().manual_seed(0)
    s, t = torch.randn(5, 4, generator=g), torch.randn(5, 4, generator=g)
    assert task_distill_kl(s, t, 4.0, "multiclass") == pytest.approx(float(distill_kl(s, t, 4.0)))
    assert float(task_distill_kl(t, t, 2.0, "multilabel")) == pytest.approx(0.0, abs=1e-6)
    p, q = torch.sigmoid(t / 2), torch.sigmoid(s / 2)
    bernoulli = p * (p / q).log() + (1 - p) * ((1 - p) / (1 - q)).log()
    assert float(task_distill_kl(s, t, 2.0, "multilabel")) == pytest.approx(float(bernoulli.sum() * 4 / 5),
                                                                            rel=1e-5)
    uniform = kl_to_target(s, uniform_target(s, "multiclass"), "multiclass")
    assert torch.allclose(uniform, -F.log_softmax(s, 1).mean(1) - torch.log(torch.tensor(4.0)))
    assert torch.allclose(uniform_target(s, "multilabel"), torch.full_like(s, 0.5))


def test_contrastive_loss_is_log_batch_for_identical_retain_outputs():
    forget = torch.randn(3, 5, generator=torch.Generator().manual_seed(1))
    assert float(contrastive_loss(forget, torch.ones(4, 5), 1.15)) == pytest.approx(float(torch.log(
        torch.tensor(4.0))))
