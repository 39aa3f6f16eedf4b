"""Forget selections and the splits they produce:
- `people:3,s17`: identities by index or name; `people:F0001` (a family) selects every "F0001/..." person;
  with numeric identity names (MUCAC), `people:190-1249` selects the range (inclusive);
- `photos:12,s3/4`: training samples by index or id;
- `first:1500` / `first:10%`: the first training rows in file order (MUFAC's benchmark forget set);
- `random:5000` / `random:10%`: training samples drawn at random with the fixed seed RANDOM_SEED.
Numbers are ASCII digits only. However a set is written, `Splits.forget_spec` is its one canonical spelling
(`canonical_spec`): the people or photos it selects, sorted and without repeats, by index where the data allows it
(names, with runs as ranges, where identity names are numbers), and `first:N` / `random:N` as a count. The cache
of Retrained models and the run store are keyed by that spelling, so `people:7,2,2` and `people:s3,s8` are one set."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from mu_core.data.base import TEST, TRAIN, UNSEEN, Dataset, Scenario
from mu_core.errors import DataError

SELECTIONS = ("people", "photos", "first", "random")
RANDOM_SEED = 0


def is_number(text: str) -> bool:
    """A whole number written in ASCII digits (str.isdigit also accepts "²" and "٣")."""
    return text.isascii() and text.isdigit()


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


def _lookup(item: str, names: list[str], what: str, allow_index: bool = True,
            index: dict[str, int] | None = None) -> int:
    """An item is a name (exact) or, when `allow_index`, an integer index into `names` (ASCII digits)."""
    index = {name: i for i, name in enumerate(names)} if index is None else index
    if item in index:
        return index[item]
    if allow_index and is_number(item) and int(item) < len(names):
        return int(item)
    shown = f"{names[0]}..{names[-1]}" if len(names) > 3 else ", ".join(names)
    how = f"an index 0-{len(names) - 1} or a name" if allow_index else "a name or a range such as 190-1249"
    raise DataError(f"Unknown {what} {item!r}: use {how} ({shown}).")


def _people(names: list[str], item: str) -> list[int]:
    """Identity indices an item of people:... selects: a name, a family prefix, a numeric range or an index."""
    family = [i for i, name in enumerate(names) if name.startswith(item + "/")]
    if family and item not in names:
        return family
    numeric = all(is_number(name) for name in names)
    low, sep, high = item.partition("-")
    if numeric and sep and is_number(low) and is_number(high):
        chosen = [i for i, name in enumerate(names) if int(low) <= int(name) <= int(high)]
        if not chosen:
            raise DataError(f"No identity has a number from {low} to {high}.")
        return chosen
    return [_lookup(item, names, "person", allow_index=not numeric)]


def _count(kind: str, items: list[str], total: int) -> int:
    """N or P% of the `total` training samples, for first:... and random:..."""
    text = items[0] if len(items) == 1 else ""
    if text.endswith("%") and is_number(text[:-1].replace(".", "", 1)) and 0 < float(text[:-1]) <= 100:
        n = max(1, round(total * float(text[:-1]) / 100))
    elif is_number(text) and int(text) >= 1:
        n = int(text)
    else:
        raise DataError(f"{kind}:N needs one positive whole number (ASCII digits) or a percentage above 0 and at "
                        f"most 100 such as {kind}:10%, got {','.join(items)!r}.")
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
        index = {name: i for i, name in enumerate(ds.sample_ids)}
        chosen = sorted({_lookup(item, ds.sample_ids, "photo", index=index) for item in items})
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
    if forget_spec is not None and not forget_spec.strip():
        raise DataError(f"The forget selection is empty: name what to forget (for example "
                        f"{scenario.default_forget[:40]}), or leave --forget out for the scenario's default.")
    spec = forget_spec if forget_spec is not None else scenario.default_forget
    kind, items = parse_forget(spec)
    if kind not in scenario.selections:
        allowed = " or ".join(f"{s}:..." for s in scenario.selections)
        others = [s.name for s in ds.scenarios.values() if kind in s.selections]
        hint = (f"choose --scenario {others[0]} for that" if others else
                f"no scenario of {ds.title} forgets with {kind}:...")
        raise DataError(f"The {scenario.name!r} scenario forgets with {allowed}, not {kind}:... ({hint}).")
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
    return Splits(scenario.name, canonical_spec(ds, kind, forget), train, forget, retain, test, unseen)


def canonical_spec(ds: Dataset, kind: str, forget: np.ndarray) -> str:
    """The one spelling of the forget set `forget` (sample indices) selected with `kind`."""
    if kind in ("first", "random"):
        return f"{kind}:{len(forget)}"
    if kind == "people":
        spec = write_spec(ds, kind, np.unique(ds.identities[forget]))
    else:
        spec = write_spec(ds, kind, forget)
    if spec is None:  # names with commas in them: keep what selects the set, sorted
        raise DataError(f"This selection of {kind} cannot be written in the forget syntax (names with commas?).")
    return spec


def write_spec(ds: Dataset, kind: str, indices) -> str | None:
    """The canonical spec naming identity indices (kind "people") or sample indices ("photos"), or None when
    nothing can name them (names with commas). Indices are written as numbers unless the data's names are numbers
    too, in which case names are used (runs of neighbouring identities as ranges, `people:190-1249`)."""
    wanted = sorted({int(i) for i in indices})
    if not wanted:
        return None
    names = ds.identity_names if kind == "people" else ds.sample_ids
    candidates = [[str(i) for i in wanted]]
    if kind == "people" and all(is_number(n) for n in names):
        candidates.append(_runs(names, wanted))
    candidates.append([names[i] for i in wanted])
    index = None if kind == "people" else {name: i for i, name in enumerate(names)}
    for items in candidates:
        if all(item and "," not in item and item == item.strip() for item in items) \
                and _names(ds, kind, items, index) == wanted:
            return f"{kind}:{','.join(items)}"
    return None


def _runs(names: list[str], wanted: list[int]) -> list[str]:
    """Numeric identity names `wanted` (sorted indices), neighbouring ones as ranges "low-high"."""
    items, start = [], 0
    for k in range(1, len(wanted) + 1):
        if k == len(wanted) or wanted[k] != wanted[k - 1] + 1:
            low, high = names[wanted[start]], names[wanted[k - 1]]
            items.append(low if k - start == 1 else f"{low}-{high}")
            start = k
    return items


def _names(ds: Dataset, kind: str, items: list[str], index: dict[str, int] | None) -> list[int] | None:
    """The sorted identity or sample indices `items` name (None when one of them names nothing)."""
    try:
        if kind == "people":
            return sorted({p for item in items for p in _people(ds.identity_names, item)})
        return sorted({_lookup(item, ds.sample_ids, "photo", index=index) for item in items})
    except DataError:
        return None
