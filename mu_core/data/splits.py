"""Forget selections (`people:3,17`, `photos:12,55`, `first:1500`) and the splits they produce."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from mu_core.data.base import TEST, TRAIN, UNSEEN, Dataset, Scenario
from mu_core.errors import DataError

SELECTIONS = ("people", "photos", "first")


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
        raise DataError(f"Cannot read the forget selection {spec!r}: write people:ID,..., photos:ID,... "
                        "or first:N (for example people:3,17).")
    if not items:
        raise DataError("The forget set is empty: name at least one person or photo "
                        f"(for example {kind}:{'1500' if kind == 'first' else '3'}).")
    return kind, items


def _lookup(item: str, names: list[str], what: str) -> int:
    """An item is a name (exact) or an integer index into `names`."""
    index = {name: i for i, name in enumerate(names)}
    if item in index:
        return index[item]
    if item.lstrip("-").isdigit() and 0 <= int(item) < len(names):
        return int(item)
    shown = f"{names[0]}..{names[-1]}" if len(names) > 3 else ", ".join(names)
    raise DataError(f"Unknown {what} {item!r}: use an index 0-{len(names) - 1} or a name ({shown}).")


def select_forget(ds: Dataset, kind: str, items: list[str]) -> np.ndarray:
    train = ds.indices(TRAIN)
    if kind == "people":
        people = sorted({_lookup(item, ds.identity_names, "person") for item in items})
        forget = train[np.isin(ds.identities[train], people)]
        if len(forget) == 0:
            raise DataError("The chosen people have no training photos, so there is nothing to forget.")
        return forget
    if kind == "photos":
        chosen = sorted({_lookup(item, ds.sample_ids, "photo") for item in items})
        not_train = [ds.sample_ids[i] for i in chosen if ds.base_splits[i] != TRAIN]
        if not_train:
            raise DataError(f"Only training photos can be forgotten; not in the training set: {', '.join(not_train[:5])}"
                            + (" ..." if len(not_train) > 5 else "") + ".")
        return np.asarray(chosen, dtype=np.int64)
    if len(items) != 1 or not items[0].isdigit() or int(items[0]) < 1:
        raise DataError(f"first:N needs one positive whole number, got {','.join(items)!r}.")
    return train[: int(items[0])]


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
