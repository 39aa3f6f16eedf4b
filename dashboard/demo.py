"""Demo mode: the method the shipped benchmark results recommend for a dataset and scenario (written by
scripts/recommend.py into docs/results/recommended.json), and forget sets named by people and photos the way a
user picked them, never by the engine's internal indices."""
from __future__ import annotations

import json
from pathlib import Path

import streamlit as st

from mu_core.data import Dataset
from mu_core.errors import MUError
from mu_core.experiment import REPO_ROOT
from mu_core.selection import chosen

RECOMMENDED = REPO_ROOT / "docs" / "results" / "recommended.json"
MAX_NAMES = 6


@st.cache_data(show_spinner=False)
def _recommendations(path: str) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}


def recommendation(dataset: str, scenario: str) -> dict | None:
    """{"method", "cost", "passed", "closest", "failed", "seeds", "level", "results"} for a dataset and scenario
    with shipped benchmark results, else None (method None: no method passed on every seed; closest: the judged
    method with the fewest failed checks)."""
    return _recommendations(str(RECOMMENDED)).get(dataset, {}).get(scenario)


CHECK_WORDS = {"recognition": "recognition", "utility": "utility", "membership": "membership per face",
               "identity_features": "identity in the face features", "over_forgetting": "over-forgetting"}


def checks_in_words(names: list[str]) -> str:
    """["identity_features", "membership"] -> "identity in the face features and membership per face"."""
    words = [CHECK_WORDS.get(n, n) for n in names] or ["no check"]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def forget_name(ds: Dataset, spec: str | None) -> str:
    """The forget set in the user's words: "s5", "s5, s12", "3 photos of s5" ...; the spec itself when it cannot be
    read as people or photos."""
    if not spec:
        return "nothing selected"
    try:
        kind, indices = chosen(ds, spec)
    except MUError:
        return spec
    if kind == "people":
        names = [ds.identity_names[i] for i in indices]
        return _listed(names, "people")
    owners = sorted({ds.identity_names[ds.identities[i]] for i in indices})
    photos = f"{len(indices)} photo{'s' if len(indices) != 1 else ''}"
    return f"{photos} of {_listed(owners, 'people')}"


def _listed(names: list[str], noun: str) -> str:
    if len(names) <= MAX_NAMES:
        return ", ".join(names)
    return f"{', '.join(names[:MAX_NAMES])} and {len(names) - MAX_NAMES} more {noun}"
