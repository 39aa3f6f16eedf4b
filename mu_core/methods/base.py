"""What every unlearning method declares (hyperparameters, description, reference) and what it receives when it
runs (`UnlearnContext`). The CLI's `--set key=value` and the dashboard's sliders are generated from `HParam`."""
from __future__ import annotations

import contextlib
import functools
import itertools
import json
import math
import warnings
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterator

import torch
import torch.nn as nn

from mu_core.data.transforms import augment, to_float
from mu_core.errors import MUError
from mu_core.experiment import Experiment
from mu_core.models import EVAL_BATCH, TOP_DOWN_BLOCKS, frozen_outputs, split_at
from mu_core.training import Passes, Tracker, batch_indices, n_batches, optimizer_step, run_passes

# What a method's loss gives for a batch: the objective the optimizer descends (None for a pass without an
# optimizer) and the named losses reported as progress.
Loss = Callable[[Any], tuple["torch.Tensor | None", dict[str, "float | torch.Tensor"]]]


@dataclass(frozen=True)
class HParam:
    """One hyperparameter. `type` is "float", "int", "bool", "choice" or "ints" (a list of whole numbers, written
    "3,5,9"; empty for none); numbers have min/max (inclusive, for each element of "ints"), a slider step and
    optionally a log scale; a choice has `choices`. `source` names the reference its default follows; `earlier` is
    the value that reproduces what the engine did before this hyperparameter was declared (the grid searches of
    docs/tuning/orl-*/ ran with it)."""

    name: str
    type: str
    default: Any
    help: str
    min: float | None = None
    max: float | None = None
    step: float | None = None
    log: bool = False
    choices: tuple[str, ...] = ()
    source: str = ""
    earlier: Any = None

    def allowed(self) -> str:
        if self.type == "choice":
            return "one of " + ", ".join(self.choices)
        if self.type == "bool":
            return "true or false"
        if self.type == "ints":
            return f"whole numbers from {self.min:g} to {self.max:g} separated by commas (or nothing)"
        return f"a {'whole number' if self.type == 'int' else 'number'} from {self.min:g} to {self.max:g}"

    def validate(self, value: Any) -> Any:
        """Coerce `value` (a Python value or the text of `--set`) to this type, or raise MUError naming the range."""
        bad = MUError(f"{self.name} must be {self.allowed()}, got {value!r}.")
        if self.type == "ints":
            items = str(value).split(",") if isinstance(value, str) else list(value)
            whole = HParam(self.name, "int", self.min, self.help, self.min, self.max)
            try:
                return tuple(sorted(whole.validate(v) for v in items if str(v).strip()))
            except MUError:
                raise bad from None
        if self.type == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("true", "1", "yes", "on"):
                return True
            if text in ("false", "0", "no", "off"):
                return False
            raise bad
        if self.type == "choice":
            if str(value) not in self.choices:
                raise bad
            return str(value)
        if isinstance(value, str) and not value.isascii():  # float() would read "٣" as 3
            raise bad
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise bad from None
        if not math.isfinite(number) or (self.type == "int" and number != int(number)):
            raise bad
        if not (self.min <= number <= self.max):
            raise bad
        return int(number) if self.type == "int" else number

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v not in (None, (), "") or k == "default"}


# A method that declares this gets its retain data cut to the share before it runs (Method.apply).
RETAIN_SHARE = HParam(
    "retain_share", "float", 1.0, "Share of the retain set the method uses (1 = all of it, as published): drawn "
    "at random from the experiment's seed with the same share of every class (at least one image each), so every "
    "method with the same share sees the same images. Less is proportionally faster.", min=0.05, max=1.0, step=0.05)

# A method that declares this trains only the blocks from the chosen one up (Method.apply, UnlearnContext.frozen_below).
TRAIN_FROM = HParam(
    "train_from", "choice", "all", "The lowest block the method trains: all = the whole network, as published; "
    "layer1 to fc freeze everything below that block (weights and BatchNorm statistics). The frozen blocks then run "
    "once per image, without the recipe's augmentation, and the method works on their outputs, so a step runs only "
    "the blocks it trains (fc alone: milliseconds per epoch on the built-in faces).",
    choices=("all",) + TOP_DOWN_BLOCKS[::-1])


@dataclass(frozen=True)
class Method:
    """An unlearning method, run through `apply(ctx, hp)`. `run(ctx, hp)` modifies `ctx.model` in place (a copy of
    the Original): it declares its data as `ctx.passes`, announces them with `ctx.begin(...)` first, then runs
    each through `ctx.train` with its loss and optimizer (the loop counts and reports the steps).
    `presets` maps "dataset/scenario" (e.g. "orl/person") to defaults tuned for that data; left out, they are the
    method's entries in mu_core/presets.json (generated from the tuning's trial records on seeds 100-104, never the
    reported seeds 0-2: mu_core.tuning). A method without a preset for some data runs with its declared defaults."""

    name: str
    title: str
    description: str
    reference: str
    hparams: tuple[HParam, ...]
    run: Callable[["UnlearnContext", dict], None]
    presets: dict[str, dict[str, Any]] | None = None

    def __post_init__(self) -> None:
        if self.presets is None:
            stored = {data: entry["values"] for data, entry in stored_presets().get(self.name, {}).items()}
            object.__setattr__(self, "presets", {data: {k: self.hparam(k).validate(v) for k, v in values.items()}
                                                 for data, values in stored.items()})

    def hparam(self, name: str) -> HParam:
        for h in self.hparams:
            if h.name == name:
                return h
        names = ", ".join(h.name for h in self.hparams) or "none"
        raise MUError(f"{self.title} has no hyperparameter {name!r}; its hyperparameters are: {names}.")

    def declared_defaults(self) -> dict[str, Any]:
        """Every hyperparameter's declared default, without any data's preset."""
        return {h.name: h.default for h in self.hparams}

    def preset(self, dataset: str, scenario: str) -> dict[str, Any]:
        """The preset for the data (the values that differ from the declared defaults); empty when there is none."""
        return self.presets.get(f"{dataset}/{scenario}", {})

    def defaults(self, dataset: str = "orl", scenario: str = "person") -> dict[str, Any]:
        """The declared defaults updated with the preset tuned for the data, if any."""
        return {**self.declared_defaults(), **self.preset(dataset, scenario)}

    def resolve(self, overrides: dict[str, Any], dataset: str = "orl", scenario: str = "person") -> dict[str, Any]:
        """Defaults for the data, updated with validated overrides."""
        values = self.defaults(dataset, scenario)
        for key, value in overrides.items():
            values[key] = self.hparam(key).validate(value)
        return values

    def apply(self, ctx: UnlearnContext, hp: dict[str, Any]) -> None:
        """Run the method with resolved hyperparameters `hp`, on the share of the retain set that `retain_share`
        keeps and on the blocks that `train_from` leaves trainable, when the method declares them."""
        if "retain_share" in hp:
            ctx.keep_retain_share(hp["retain_share"])
        if hp.get("train_from", "all") == "all":
            self.run(ctx, hp)
        else:
            with ctx.frozen_below(hp["train_from"]):
                self.run(ctx, hp)

    def to_dict(self) -> dict:
        return {"name": self.name, "title": self.title, "description": self.description,
                "reference": self.reference, "hparams": [h.to_dict() for h in self.hparams],
                "presets": self.presets}


PRESETS_FILE = Path(__file__).resolve().parent.parent / "presets.json"


@functools.lru_cache(maxsize=1)
def stored_presets() -> dict[str, dict[str, dict[str, Any]]]:
    """The presets file's entries: method -> "dataset/scenario" -> {"values": {...}, "source": "..."}."""
    return json.loads(PRESETS_FILE.read_text())["presets"]


def share_of_each_class(labels: torch.Tensor, share: float, seed: int) -> torch.Tensor:
    """Sorted positions of share * N samples (rounded half up) drawn at random so that each label (each distinct label
    vector for multi-label) keeps its share: floor(share * n) of its n samples, at least one, and one more for the
    labels with the largest remainders until the total is reached (ties in random order). Depends on `seed` only."""
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(labels), generator=generator)
    groups = torch.unique(labels.cpu(), dim=0, return_inverse=True)[1][order]
    sizes = torch.bincount(groups)
    quota = share * sizes.double()
    counts = quota.floor().long().clamp_min(1)
    missing = max(0, math.floor(share * len(labels) + 0.5) - int(counts.sum()))
    remainders = torch.where(counts > quota.floor(), -1.0, quota - quota.floor())
    tie_break = torch.randperm(len(sizes), generator=generator)
    by_remainder = tie_break[torch.argsort(remainders[tie_break], descending=True, stable=True)]
    counts[by_remainder[:missing]] += 1
    kept = [order[groups == g][:int(counts[g])] for g in range(len(sizes))]
    return torch.cat(kept).sort().values


@dataclass
class UnlearnContext:
    """What a method works with. `model` is a private copy of the Original in train mode on `device`;
    `original` is another frozen copy in eval mode (a teacher, a reference). Images are uint8 on the device."""

    exp: Experiment
    model: nn.Module
    original: nn.Module
    generator: torch.Generator
    tracker: Tracker
    _data: dict[str, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict)
    trained_from: str | None = None  # within frozen_below: its block; data() then gives the frozen blocks' outputs
    notes: list[str] = field(default_factory=list)  # warnings for the user about this run (see `warn`)

    @property
    def device(self) -> torch.device:
        return self.exp.device

    @property
    def kind(self) -> str:
        return self.exp.dataset.kind

    @property
    def num_classes(self) -> int:
        return self.exp.dataset.num_classes

    def warn(self, message: str) -> None:
        """Tell the user something about this run: kept in `notes` and issued as a Python warning (which the
        command line prints)."""
        self.notes.append(message)
        warnings.warn(message, stacklevel=2)

    def begin(self, *parts: Passes | int, stage: str = "unlearning") -> None:
        """Announce the method's steps, the sum of `parts` (the `Passes` it will train on, or step counts), added
        to the steps already counted (the frozen blocks' pass)."""
        total = sum(part if isinstance(part, int) else part.steps for part in parts)
        self.tracker.total = self.tracker.step_count + max(1, int(total))
        self.tracker.stage = stage
        self.tracker.check_cancel()

    def train(self, passes: Passes, loss: Loss, opt: torch.optim.Optimizer | None = None, *,
              stage: str | None = None, clip: float | None = None, grad_mask: dict[str, torch.Tensor] | None = None,
              after_step: Callable[[], None] | None = None, before_epoch: Callable[[int], None] | None = None,
              after_epoch: Callable[[int], None] | None = None) -> None:
        """The loop every method runs: for each batch of `passes`, `loss(batch)`, then (with `opt`) one optimizer
        step descending its objective, with the gradient masked by `grad_mask` (parameter name -> 0/1 tensor) and
        clipped to norm `clip`, then `after_step()` (a per-step schedule); each step is counted and reported on the
        tracker with the losses it names (cancel and divergence checked there). `before_epoch(e)` and
        `after_epoch(e)` run around pass e (per-epoch schedules, recalibration)."""
        params = dict(self.model.named_parameters())
        mask = {params[name]: m for name, m in (grad_mask or {}).items()}

        def step(batch: Any) -> dict[str, float | torch.Tensor]:
            objective, losses = loss(batch)
            if opt is not None:
                optimizer_step(opt, objective, clip, mask)
            if after_step is not None:
                after_step()
            return losses

        run_passes(passes, step, self.tracker, stage, before_epoch, after_epoch)

    @contextlib.contextmanager
    def frozen_below(self, first: str, chunk: int = EVAL_BATCH) -> Iterator[None]:
        """Within the block, train only the model's blocks from `first` (e.g. "fc") up. The blocks below are frozen
        (no gradients, eval-mode BatchNorm), so they map each image to the same output every time: they run once
        per forget and retain image here, and inside the block `model` and `original` are the upper blocks (of the
        model, which shares their modules, and of the Original, whose frozen blocks are the same weights), `data`
        gives those outputs, and `prepare` passes them through unchanged (no augmentation). Call it before
        `begin`: the pass's steps are counted unreported, and `begin` adds the method's steps to them, so the first
        report already shows the whole total."""
        images = {split: self.data(split) for split in ("forget", "retain")}
        lower, upper = split_at(self.model, first)
        lower.eval().requires_grad_(False)
        outputs = {split: (frozen_outputs(lower, x, batch_size=chunk, each_chunk=self.tracker.advance), y)
                   for split, (x, y) in images.items()}
        outputs["train"] = tuple(torch.cat(pair) for pair in zip(outputs["forget"], outputs["retain"]))
        saved = self.model, self.original, self._data
        self.model, self.original, self._data = upper, split_at(self.original, first)[1], outputs
        self.trained_from = first
        try:
            yield
        finally:
            self.model, self.original, self._data = saved
            self.trained_from = None
            self.model.requires_grad_(True).train()

    def original_outputs(self, x: torch.Tensor, features: bool = False, chunk: int = EVAL_BATCH) -> torch.Tensor:
        """The Original's outputs, or its penultimate-layer features, on data from `data` without augmentation
        (within `frozen_below`, on the frozen blocks' outputs, through the Original's upper blocks)."""
        prepare = (lambda outputs: outputs) if self.trained_from else to_float
        return frozen_outputs(self.original, x, features=features, batch_size=chunk, prepare=prepare)

    def keep_retain_share(self, share: float) -> None:
        """From now on "retain" is `share` of the retain set (see RETAIN_SHARE) and "train" is the forget set plus
        that share. Call it before reading either."""
        if "retain" in self._data or "train" in self._data:
            raise RuntimeError("keep_retain_share must be called before the retain or train data is read")
        if share >= 1.0:
            return
        x_r, y_r = self.exp.data("retain")
        keep = share_of_each_class(y_r, share, self.exp.seed)
        x_r, y_r = x_r[keep].to(self.device), y_r[keep].to(self.device)
        x_f, y_f = self.data("forget")
        self._data["retain"] = (x_r, y_r)
        self._data["train"] = (torch.cat([x_f, x_r]), torch.cat([y_f, y_r]))

    def data(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 images (the frozen blocks' outputs within `frozen_below`) and labels of "forget", "retain",
        "train" (methods must not use test or unseen)."""
        if split not in ("forget", "retain", "train"):
            raise ValueError(f"methods may only use forget, retain or train data, not {split!r}")
        if split not in self._data:
            x, y = self.exp.data(split)
            self._data[split] = (x.to(self.device), y.to(self.device))
        return self._data[split]

    def passes(self, source: str | tuple[torch.Tensor, torch.Tensor], batch_size: int, epochs: int = 1,
               train_augment: bool = True, shuffle: bool = True) -> Passes:
        """`epochs` passes over a split of `data` (or over the images and labels given) in batches of near-equal
        size (`batch_indices`), each batch as (float images, labels), augmented with the recipe's augmentation
        unless `train_augment` is False; reshuffled every pass unless `shuffle` is False."""
        x, y = self.data(source) if isinstance(source, str) else source

        def one_pass() -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
            for idx in batch_indices(len(x), batch_size, self.generator, shuffle):
                idx = idx.to(x.device)
                yield self.prepare(x[idx], train_augment), y[idx]

        return Passes(one_pass, n_batches(len(x), batch_size), epochs)

    def cycle(self, split: str, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Endless augmented batches of `split`, reshuffled every pass (a forget iterator that restarts when
        exhausted, paired with the batches of another split)."""
        one_pass = self.passes(split, batch_size).batches
        return itertools.chain.from_iterable(one_pass() for _ in itertools.count())

    def paired(self, passes: Passes, split: str, batch_size: int) -> Passes:
        """`passes` with each batch paired with the next augmented batch of `split`, which is cycled across all
        the passes (so the forget set restarts when exhausted, not with every pass)."""
        other = self.cycle(split, batch_size)
        return replace(passes, batches=lambda: zip(passes.batches(), other))

    def prepare(self, x_uint8: torch.Tensor, train_augment: bool = True) -> torch.Tensor:
        """Float images, augmented unless `train_augment` is False (within `frozen_below`: the outputs unchanged)."""
        if self.trained_from:
            return x_uint8
        x = to_float(x_uint8)
        return augment(x, self.exp.recipe.augment, self.generator) if train_augment else x
