"""The names of the base splits every data source assigns its samples to (train, test, and the benchmark's
D_unseen where the source has one). A module of its own so that `base` and `hygiene` can both use them without
importing each other."""
from __future__ import annotations

TRAIN, TEST, UNSEEN = "train", "test", "unseen"
