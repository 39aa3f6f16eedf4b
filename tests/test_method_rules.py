"""The rules the methods compute with, each on small constructed tensors: wrong labels, SSD's dampening, diagonal
importance, GISA's learning rates, per-class shares, Bad Teacher's batch order, the distillation losses and the
contrastive loss."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from mu_core.methods.bad_teacher import epoch_batches
from mu_core.methods.base import share_of_each_class
from mu_core.methods.common import (diag_importance, distill_kl, kl_to_target, random_wrong_labels, task_distill_kl,
                                    uniform_target)
from mu_core.methods.contrastive import contrastive_loss
from mu_core.methods.gisa import tensor_lrs
from mu_core.methods.ssd import dampen
from mu_core.training import Tracker


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


def test_bad_teacher_sim_alternates_forget_and_retain_batches():
    g = torch.Generator().manual_seed(0)
    batches = epoch_batches(10, 25, 8, g, alternate=True)
    kinds = ["forget" if bool((b < 10).all()) else "retain" if bool((b >= 10).all()) else "mixed" for b in batches]
    assert kinds == ["forget", "retain", "forget", "retain", "retain", "retain"]
    assert sorted(torch.cat(batches).tolist()) == list(range(35))
    assert sorted(torch.cat(epoch_batches(10, 25, 8, g, alternate=False)).tolist()) == list(range(35))


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
