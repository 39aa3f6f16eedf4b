"""The one training loop (`training.run_passes`, `UnlearnContext.train`) and the one chunked forward pass
(`models.in_chunks`), on a tiny network and random 8-pixel images."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn

from mu_core.data.transforms import to_float
from mu_core.errors import Cancelled, Diverged
from mu_core.evaluation import forward_outputs
from mu_core.methods import UnlearnContext
from mu_core.methods.common import task_step
from mu_core.models import build_model, frozen_outputs, outputs_and_features, penultimate, split_at
from mu_core.training import Passes, Tracker, optimizer, run_passes


def tiny_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(1),
                         nn.Linear(4, 3))


def images(n: int, seed: int, side: int = 8) -> torch.Tensor:
    return torch.randint(0, 256, (n, 3, side, side), generator=torch.Generator().manual_seed(seed),
                         dtype=torch.uint8)


def context(n_retain: int = 10, seen: list | None = None, cancel=None) -> UnlearnContext:
    """What a method receives: 4 forget and `n_retain` retain images of 3 classes."""
    forget = (images(4, 1), torch.tensor([0, 1, 2, 0]))
    retain = (images(n_retain, 2), torch.arange(n_retain) % 3)
    splits = {"forget": forget, "retain": retain, "train": tuple(torch.cat(p) for p in zip(forget, retain))}
    exp = SimpleNamespace(device=torch.device("cpu"), dataset=SimpleNamespace(kind="multiclass", num_classes=3),
                          recipe=SimpleNamespace(augment="faces"), seed=0, data=splits.__getitem__)
    model = tiny_net()
    return UnlearnContext(exp, model.train(), tiny_net().eval(), torch.Generator().manual_seed(0),
                          Tracker(1, None if seen is None else seen.append, cancel))


def test_the_loop_counts_reports_and_takes_one_optimizer_step_per_batch():
    seen: list = []
    ctx = context(10, seen)
    retain = ctx.passes("retain", 4, epochs=3)
    assert (retain.per_epoch, retain.steps) == (3, 9)  # 10 images in batches of 4, 3 and 3
    ctx.begin(retain)
    opt = optimizer(ctx.model.parameters(), "sgd", 0.1)
    ctx.train(retain, task_step(ctx, "retain"), opt)
    assert [p.step for p in seen] == list(range(1, 10)) and {p.total for p in seen} == {9}
    assert all(set(p.losses) == {"retain"} for p in seen)
    assert not torch.equal(ctx.model[0].weight, tiny_net()[0].weight)


def test_a_limit_cuts_the_last_pass_and_a_short_pass_is_an_error():
    taken: list = []
    tracker = Tracker(12)
    run_passes(Passes(lambda: iter(range(5)), 5, epochs=3, limit=12), lambda b: taken.append(b) or {}, tracker)
    assert taken == [0, 1, 2, 3, 4] * 2 + [0, 1] and tracker.step_count == 12
    with pytest.raises(RuntimeError, match="gave 4 batches where 5 were announced"):
        run_passes(Passes(lambda: range(4), 5), lambda b: {}, Tracker(5))


def test_epoch_hooks_run_around_every_pass():
    events: list = []
    run_passes(Passes(lambda: range(2), 2, epochs=2), lambda b: events.append(("step", b)) or {}, Tracker(4),
               before_epoch=lambda e: events.append(("before", e)), after_epoch=lambda e: events.append(("after", e)))
    assert events == [("before", 0), ("step", 0), ("step", 1), ("after", 0),
                      ("before", 1), ("step", 0), ("step", 1), ("after", 1)]


def test_the_loop_stops_on_cancel():
    calls: list = []
    tracker = Tracker(10, cancel=SimpleNamespace(is_set=lambda: len(calls) >= 2))
    with pytest.raises(Cancelled):
        run_passes(Passes(lambda: range(10), 10), lambda b: calls.append(b) or {"loss": 1.0}, tracker)
    assert calls == [0, 1]


def test_the_loop_raises_on_a_non_finite_loss():
    ctx = context(10)
    retain = ctx.passes("retain", 4, epochs=2)
    ctx.begin(retain)
    losses = iter([1.0, 0.5, float("nan"), 0.1])

    def loss(batch):
        value = task_loss_scaled(ctx, batch, next(losses))
        return value, {"retain": value.detach()}

    with pytest.raises(Diverged, match="retain loss became nan at step 3"):
        ctx.train(retain, loss, optimizer(ctx.model.parameters(), "sgd", 0.1))
    assert ctx.tracker.step_count == 2


def task_loss_scaled(ctx: UnlearnContext, batch, factor: float) -> torch.Tensor:
    x, y = batch
    return nn.functional.cross_entropy(ctx.model(x), y) * factor


def test_a_gradient_mask_moves_only_the_masked_weights():
    ctx = context(10)
    retain = ctx.passes("retain", 4)
    ctx.begin(retain)
    before = {name: p.detach().clone() for name, p in ctx.model.named_parameters()}
    mask = {name: (torch.rand_like(p) < 0.5).float() for name, p in ctx.model.named_parameters()}
    ctx.train(retain, task_step(ctx), optimizer(ctx.model.parameters(), "sgd", 0.5, 0.9), grad_mask=mask)
    for name, p in ctx.model.named_parameters():
        moved = p.detach() != before[name]
        assert not (moved & (mask[name] == 0)).any() and moved.any()


def test_the_chunked_forward_pass_equals_an_unchunked_one():
    """Equal up to float rounding: a convolution over 3 images need not round exactly as over 7."""
    model = build_model(5).eval()
    x = images(7, 3, side=32)
    with torch.no_grad():
        whole = model(to_float(x))
        features = nn.Sequential(split_at(model, "fc")[0], nn.Flatten(1))(to_float(x))
    assert torch.allclose(frozen_outputs(model, x, batch_size=3), whole, atol=1e-6)
    assert torch.allclose(frozen_outputs(model, x, features=True, batch_size=2), features, atol=1e-6)
    with torch.no_grad():
        outputs, caught = outputs_and_features(model, to_float(x))
    assert torch.equal(outputs, whole) and torch.equal(caught, features)  # one pass gives both, unchanged
    with torch.no_grad():
        assert torch.equal(penultimate(model, to_float(x)), features)
    chunked = forward_outputs(model, x, torch.arange(7) % 5, "multiclass", torch.device("cpu"), batch_size=3)
    assert torch.allclose(torch.from_numpy(chunked["logits"]), whole, atol=1e-6)
    assert torch.allclose(torch.from_numpy(chunked["features"]), features, atol=1e-6)
    _, upper = split_at(model, "layer4")
    lower_out = frozen_outputs(split_at(model, "layer4")[0], x, batch_size=4)
    assert torch.allclose(frozen_outputs(upper, lower_out, features=True, prepare=lambda o: o), features,
                          atol=1e-6)
