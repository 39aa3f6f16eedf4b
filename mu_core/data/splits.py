"""Forget selections and the splits they produce:
- `people:3,s17`: identities by index or name; `people:F0001` (a family) selects every "F0001/..." person;
  with numeric identity names (MUCAC), `people:190-1249` selects the range (inclusive);
- `photos:12,s3/4`: training samples by index or id;
- `first:1500` / `first:10%`: the first training rows in file order (MUFAC's benchmark forget set);
- `random:5000` / `random:10%`: training samples drawn at random with the fixed seed RANDOM_SEED."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from mu_core.data.base import TEST, TRAIN, UNSEEN, Dataset, Scenario
from mu_core.errors import DataError

SELECTIONS = ("people", "photos", "first", "random")
RANDOM_SEED = 0


@dataclass(frozen=True)
class Splits:
    """Index arrays into the dataset. forget and retain partition train; test measures utility; unseen are the
    MIA non-members."""

    scenario: str
    forget_spec: str
    train: np.ndarray
    forget: np.ndarray
    retain: np.ndarray
    test: np.ndarray
    unseen: np.ndarray

    def fingerprint(self) -> str:
        h = hashlib.sha256(self.scenario.encode())
        for name in ("train", "forget", "test", "unseen"):
            h.update(name.encode() + getattr(self, name).astype(np.int64).tobytes())
        return h.hexdigest()[:16]

    def sizes(self) -> dict[str, int]:
        return {n: int(len(getattr(self, n))) for n in ("train", "forget", "retain", "test", "unseen")}


def parse_forget(spec: str) -> tuple[str, list[str]]:
    """`people:3,s17` -> ("people", ["3", "s17"]). Raises DataError with the accepted syntax."""
    kind, sep, rest = (spec or "").strip().partition(":")
    kind = kind.strip().lower()
    items = [item.strip() for item in rest.split(",") if item.strip()]
    if not sep or kind not in SELECTIONS:
        raise DataError(f"Cannot read the forget selection {spec!r}: write people:ID,..., photos:ID,..., "
                        "first:N or random:N (for example people:3,17).")
    if not items:
        raise DataError("The forget set is empty: name at least one person or photo "
                        f"(for example {kind}:{'1500' if kind in ('first', 'random') else '3'}).")
    return kind, items


def _lookup(item: str, names: list[str], what: str, allow_index: bool = True) -> int:
    """An item is a name (exact) or, when `allow_index`, an integer index into `names`."""
    index = {name: i for i, name in enumerate(names)}
    if item in index:
        return index[item]
    if allow_index and item.lstrip("-").isdigit() and 0 <= int(item) < len(names):
        return int(item)
    shown = f"{names[0]}..{names[-1]}" if len(names) > 3 else ", ".join(names)
    how = f"an index 0-{len(names) - 1} or a name" if allow_index else "a name or a range such as 190-1249"
    raise DataError(f"Unknown {what} {item!r}: use {how} ({shown}).")


def _people(names: list[str], item: str) -> list[int]:
    """Identity indices an item of people:... selects: a name, a family prefix, a numeric range or an index."""
    family = [i for i, name in enumerate(names) if name.startswith(item + "/")]
    if family and item not in names:
        return family
    numeric = all(name.isdigit() for name in names)
    low, sep, high = item.partition("-")
    if numeric and sep and low.isdigit() and high.isdigit():
        chosen = [i for i, name in enumerate(names) if int(low) <= int(name) <= int(high)]
        if not chosen:
            raise DataError(f"No identity has a number from {low} to {high}.")
        return chosen
    return [_lookup(item, names, "person", allow_index=not numeric)]


def _count(kind: str, items: list[str], total: int) -> int:
    """N or P% of the `total` training samples, for first:... and random:..."""
    text = items[0] if len(items) == 1 else ""
    if text.endswith("%") and text[:-1].replace(".", "", 1).isdigit() and 0 < float(text[:-1]) <= 100:
        n = max(1, round(total * float(text[:-1]) / 100))
    elif text.isdigit() and int(text) >= 1:
        n = int(text)
    else:
        raise DataError(f"{kind}:N needs one positive whole number or a percentage such as {kind}:10%, "
                        f"got {','.join(items)!r}.")
    if n >= total:
        raise DataError(f"{kind}:{text} would forget all {total} training images: nothing would remain to retrain "
                        "on.")
    return n


def select_forget(ds: Dataset, kind: str, items: list[str]) -> np.ndarray:
    train = ds.indices(TRAIN)
    if kind == "people":
        people = sorted({p for item in items for p in _people(ds.identity_names, item)})
        forget = train[np.isin(ds.identities[train], people)]
        if len(forget) == 0:
            raise DataError("The chosen people have no training photos, so there is nothing to forget.")
        return forget
    if kind == "photos":
        chosen = sorted({_lookup(item, ds.sample_ids, "photo") for item in items})
        not_train = [ds.sample_ids[i] for i in chosen if ds.base_splits[i] != TRAIN]
        if not_train:
            raise DataError("Only training photos can be forgotten; not in the training set: "
                            f"{', '.join(not_train[:5])}" + (" ..." if len(not_train) > 5 else "") + ".")
        return np.asarray(chosen, dtype=np.int64)
    n = _count(kind, items, len(train))
    if kind == "random":
        return np.sort(np.random.default_rng(RANDOM_SEED).choice(train, size=n, replace=False))
    return train[:n]


def make_splits(ds: Dataset, scenario_name: str | None = None, forget_spec: str | None = None) -> Splits:
    """Resolve a scenario and forget selection into splits, with a clear message for every bad input."""
    scenario_name = scenario_name or ds.default_scenario
    if scenario_name not in ds.scenarios:
        raise DataError(f"Unknown scenario {scenario_name!r} for {ds.title}; choose one of "
                        f"{', '.join(ds.scenarios)}.")
    scenario: Scenario = ds.scenarios[scenario_name]
    spec = forget_spec or scenario.default_forget
    kind, items = parse_forget(spec)
    if kind not in scenario.selections:
        allowed = " or ".join(f"{s}:..." for s in scenario.selections)
        raise DataError(f"The {scenario.name!r} scenario forgets with {allowed}, not {kind}:... "
                        f"(choose --scenario {'photos' if kind == 'photos' else ds.default_scenario} for that).")
    train = ds.indices(TRAIN)
    forget = np.sort(select_forget(ds, kind, items))
    retain = np.setdiff1d(train, forget)
    if len(retain) == 0:
        raise DataError("The forget set is the whole training set: nothing would remain to retrain on.")
    test, unseen = ds.indices(TEST), ds.indices(UNSEEN)
    if scenario.kind == "identity":
        gone = np.isin(ds.identities[test], np.unique(ds.identities[forget]))
        test, unseen = test[~gone], test[gone]
        if len(test) == 0:
            raise DataError("Every person with test photos would be forgotten: nothing would be left to measure "
                            "the model's utility on.")
    elif scenario.kind == "samples":
        unseen = test
    if len(unseen) == 0:
        raise DataError("No held-out photos of the forgotten data are available as MIA non-members.")
    canonical = f"{kind}:{','.join(items)}"
    return Splits(scenario.name, canonical, train, forget, retain, test, unseen)
