"""The evidence metrics on hand-built cases whose answer is known: the official forgetting quality, d', KLoM,
bootstrap intervals, noise floors and FLOP counting."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mu_core import evidence as E
from mu_core.compute import compute_ratio, count_flops, training_flops
from mu_core.recipe import Recipe


def test_logit_scaled_confidence_is_log_odds_of_the_true_class():
    logits = np.array([[2.0, 0.0, 0.0], [0.0, 0.0, 0.0], [1000.0, 0.0, -5.0]])
    conf = E.logit_scaled_confidence(logits, np.array([0, 1, 1]))
    p = np.exp(2.0) / (np.exp(2.0) + 2)
    assert conf[0] == pytest.approx(math.log(p / (1 - p)))
    assert conf[1] == pytest.approx(math.log(1 / 2))             # 1/3 vs 2/3
    assert conf[2] == pytest.approx(math.log(1e-45))             # p_y underflows: floored at 1e-45, as officially
    with pytest.raises(ValueError):
        E.logit_scaled_confidence(np.zeros((2, 3)), np.zeros((2, 3)))  # multi-label: no single true class


def test_epsilon_ceiling_and_buckets():
    assert [E.epsilon_ceiling(n) for n in (8, 16, 32, 64, 512)] == [2, 3, 4, 5, 7]
    # N = 16: buckets of 0.5 up to 3 score 1, 1/2, ..., 1/32; at or beyond 3 a photo scores 0.
    scores = E.bucket_scores(np.array([0.0, 0.49, 0.5, 1.2, 2.99, 3.0, 50.0]), 16)
    assert scores.tolist() == [1, 1, 0.5, 0.25, 1 / 32, 0, 0]


def _spread(centre: float, n: int) -> np.ndarray:
    return centre + np.linspace(-0.5, 0.5, n)


def test_fully_separated_distributions_are_capped_and_score_zero():
    n = 16
    retrained = np.stack([_spread(0.0, n), _spread(1.0, n)], axis=1)
    unlearned = np.stack([_spread(10.0, n), _spread(-9.0, n)], axis=1)
    fq = E.forget_quality(unlearned, retrained)
    assert fq.epsilons.tolist() == [50.0, 50.0]  # FPR = FNR = 0: infinite, capped at 50
    assert fq.score == 0.0 and fq.n_models == 16 and fq.epsilon_ceiling == 3


def test_identical_distributions_score_one():
    confs = np.random.default_rng(0).normal(size=(12, 5))
    fq = E.forget_quality(confs.copy(), confs.copy())
    assert np.all(fq.epsilons == 0) and fq.score == 1.0


def test_a_deterministic_unlearner_gets_the_cap_by_the_peaky_rule():
    retrained = np.random.default_rng(1).normal(size=(8, 3))
    unlearned = np.tile(retrained.mean(axis=0), (8, 1))  # identical output for every seed, inside Retrained's range
    fq = E.forget_quality(unlearned, retrained)
    assert fq.epsilons.tolist() == [50.0] * 3 and fq.score == 0.0


def test_a_case_with_known_error_rates():
    # N = 10; Retrained: 8 models at 3, 2 at 0; unlearned: 2 at 3, 8 at 0. Every rule can only pick "at 3", "at 0",
    # both or neither: the best is "at 3" with FPR = FNR = 0.2, epsilon = ln((1 - 1e-5 - 0.2) / 0.2).
    retrained = np.array([3.0] * 8 + [0.0] * 2)[:, None]
    unlearned = np.array([3.0] * 2 + [0.0] * 8)[:, None]
    fq = E.forget_quality(unlearned, retrained)
    assert fq.epsilons[0] == pytest.approx(math.log((1 - 1e-5 - 0.2) / 0.2), rel=1e-6)
    assert fq.score == 0.25  # bucket [1, 1.5) of a ceiling of 3
    # swapping the roles gives the same epsilon (the positive class is the larger median)
    assert E.forget_quality(retrained, unlearned).epsilons[0] == pytest.approx(fq.epsilons[0])


def test_threshold_epsilons_discard_one_sided_errors():
    eps = E._threshold_epsilons(np.float32([0.0, 0.0, 0.2, 0.5]), np.float32([0.0, 0.3, 0.2, 0.5]))
    assert eps[0] == math.inf and math.isnan(eps[1])
    assert eps[2] == pytest.approx(math.log(0.79999 / 0.2), rel=1e-6) and eps[3] == 0


def test_forget_quality_rejects_bad_shapes():
    with pytest.raises(ValueError):
        E.forget_quality(np.zeros((4, 3)), np.zeros((5, 3)))
    with pytest.raises(ValueError):
        E.forget_quality(np.zeros((1, 3)), np.zeros((1, 3)))


def test_final_score():
    assert E.final_score(0.5, 0.9, 0.8) == pytest.approx(0.36)


def test_face_positions_against_a_bank_and_a_single_retrained():
    retrained = np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]])   # range 0..1 per photo
    original = np.array([5.0, 5.0, -5.0])                       # the Original sits above, above, below
    assert E.face_positions(np.array([0.5, 3.0, 3.0]), retrained, original) == [
        E.INSIDE, E.REMEMBERED, E.OVER_FORGOTTEN]
    # one Retrained model: inside = within half the Original-Retrained distance
    assert E.face_positions(np.array([1.0, 4.0, -9.0]), np.zeros(3), np.array([4.0, 4.0, 4.0])) == [
        E.INSIDE, E.REMEMBERED, E.OVER_FORGOTTEN]


def _clusters(n_people: int, per_person: int, noise: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_people, 64))
    ids = np.repeat(np.arange(n_people), per_person)
    return centres[ids] + noise * rng.normal(size=(len(ids), 64)), ids


def test_dprime_is_high_for_tight_clusters_and_near_zero_for_random_features():
    tight = E.identity_dprime(*_clusters(6, 10, 0.1))
    assert tight.dprime > 10 and tight.auc == 1.0
    assert tight.n_genuine == 6 * 45 and tight.n_impostor == 60 * 59 // 2 - 270
    random = E.identity_dprime(np.random.default_rng(2).normal(size=(60, 64)), np.repeat(np.arange(6), 10))
    assert abs(random.dprime) < 0.2 and abs(random.auc - 0.5) < 0.05


def test_dprime_by_hand_and_with_a_focus():
    # features at angles: two people, two photos each; cosines genuine 1, 1; impostor 0 x 4
    f = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0], [0.0, 3.0]])
    d = E.identity_dprime(f, np.array([0, 0, 1, 1]))
    assert d.dprime == math.inf and d.auc == 1.0 and (d.n_genuine, d.n_impostor) == (2, 4)
    focused = E.identity_dprime(f, np.array([0, 0, 1, 1]), focus=np.array([True, True, False, False]))
    assert (focused.n_genuine, focused.n_impostor) == (1, 4)
    assert math.isnan(E.identity_dprime(f[:2], np.array([0, 0])).dprime)  # no impostor pair


def test_dprime_band_contains_the_value():
    feats, ids = _clusters(4, 8, 1.5)
    low, high = E.dprime_band(feats, ids, n_boot=200)
    assert low < E.identity_dprime(feats, ids).dprime < high


def test_margins_and_klom():
    m = E.margins(np.array([[3.0, 0.0, 0.0]]), np.array([0]))
    assert m[0] == pytest.approx(3.0 - math.log(2.0))
    same = np.random.default_rng(0).normal(size=(16, 4))
    assert E.klom(same, same.copy()) == 0.0
    # every unlearned margin in one bin, every retrained one in another: KL = ln(1 / 1e-5)
    apart = E.klom_per_sample(np.full((16, 2), 5.0), np.full((16, 2), -5.0))
    assert apart == pytest.approx([math.log(1e5)] * 2)
    assert E.klom_bins(16) == 6 and E.klom_bins(100) == 20


def test_noise_floor_uses_disjoint_halves():
    a, b = E.split_halves(9, seed=3)
    assert len(a) == len(b) == 4 and not set(a) & set(b)
    bank = np.random.default_rng(0).normal(size=(16, 20))
    floor = E.noise_floor(lambda u, r: E.forget_quality(u, r).score, bank)
    assert 0 < floor <= 1
    with pytest.raises(ValueError):
        E.noise_floor(lambda u, r: 0.0, bank[:3])


def test_bootstrap_intervals_are_seeded_and_sensible():
    correct = np.r_[np.ones(30), np.zeros(30)]
    low, high = E.accuracy_ci(correct, seed=1)
    assert low < 0.5 < high and (low, high) == E.accuracy_ci(correct, seed=1)
    assert E.accuracy_ci(np.ones(7)) == (1.0, 1.0)
    wide = E.accuracy_ci(correct[::10])
    assert wide[1] - wide[0] > high - low
    assert E.bootstrap_ci(np.arange(10.0), np.median)[0] <= 4.5 <= E.bootstrap_ci(np.arange(10.0), np.median)[1]
    assert all(math.isnan(x) for x in E.accuracy_ci(np.zeros(0)))


def test_count_flops_counts_a_matmul_and_training_scales_with_steps():
    a, b = torch.ones(8, 16), torch.ones(16, 4)
    with count_flops() as count:
        a @ b
    assert count.total == 2 * 8 * 16 * 4
    recipe = Recipe(epochs=1, batch_size=16, lr=0.1, image_size=32, augment="none")
    one = training_flops(recipe, 32, 5, "multiclass")
    assert one > 0 and training_flops(Recipe(epochs=3, batch_size=16, lr=0.1, image_size=32, augment="none"),
                                      32, 5, "multiclass") == 3 * one
    assert compute_ratio(one, 4 * one) == 0.25 and compute_ratio(None, one) is None


def test_count_flops_agrees_with_flop_counter_mode_on_a_training_step():
    from torch.utils.flop_counter import FlopCounterMode
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(392, 5))
    x, y = torch.rand(4, 3, 9, 9), torch.tensor([0, 1, 2, 3])

    def step():
        torch.nn.functional.cross_entropy(model(x), y).backward()

    with count_flops() as count:
        step()
    with FlopCounterMode(display=False) as reference:
        step()
    assert count.total == reference.get_total_flops() > 0
