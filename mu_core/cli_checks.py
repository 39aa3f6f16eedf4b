"""Checks of the command line's values, made before any work starts: every bad value ends in one clear message
naming what is allowed (argparse's usage + error line for malformed numbers, `error: ...` for the rest), never a
traceback, and never after minutes of training (an output path that cannot be written is refused up front)."""
from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path
from typing import Callable

from mu_core.data.roots import check_path_text
from mu_core.errors import MUError
from mu_core.experiment import MAX_SEED, check_device, check_seed
from mu_core.recipe import MAX_EPOCHS, MAX_IMAGE_SIZE

PATH_OPTIONS = ("data_dir", "original")
OUTPUT_OPTIONS = ("json", "csv", "markdown")


def whole_number(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number in ASCII digits from `low` to `high` ("٣" and "²" are refused)."""

    def parse(text: str) -> int:
        stripped = text.strip()
        if not (stripped.isascii() and stripped.isdigit()) or not low <= int(stripped) <= high:
            raise argparse.ArgumentTypeError(f"expected a whole number from {low} to {high}, got {text[:40]!r}")
        return int(stripped)

    parse.__name__ = "whole number"
    return parse


SEED = whole_number(0, MAX_SEED)
EPOCHS = whole_number(1, MAX_EPOCHS)
IMAGE_SIZE = whole_number(1, MAX_IMAGE_SIZE)


def parse_seeds(text: str | None) -> list[int] | None:
    """`--seeds 0,1,2` as ints (each 0..MAX_SEED), or None when not given."""
    if text is None:
        return None
    parts = [p.strip() for p in text.split(",")]
    if not any(parts):
        raise MUError(f"--seeds takes seeds separated by commas, such as 0,1,2 (each from 0 to {MAX_SEED}).")
    return [check_seed(p, "each of --seeds") for p in parts if p]


def check_output(path: str, option: str) -> None:
    """Refuse an output path that cannot be written (a folder, a path under a file, a folder without write
    permission) before any work: creates its missing parent folders and writes a probe file there."""
    check_path_text(path, f"--{option} path")
    target = Path(path).expanduser()
    if target.is_dir():
        raise MUError(f"--{option} {path} is a folder: give a file name to write to.")
    parent = target.parent
    for ancestor in (parent, *parent.parents):
        if ancestor.exists():
            if not ancestor.is_dir():
                raise MUError(f"--{option} {path} cannot be written: {ancestor} is a file, not a folder.")
            break
    try:
        parent.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=parent, prefix=f".{target.name}.", suffix=".tmp")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise MUError(f"--{option} {path} cannot be written ({e.strerror or type(e).__name__} in {parent}); "
                      "nothing was run.") from None


def check_args(args: argparse.Namespace) -> None:
    """Every value of a parsed command line that can be checked without loading data; MUError otherwise."""
    for option in PATH_OPTIONS:
        value = getattr(args, option, None)
        if value is not None:
            check_path_text(value, f"--{option.replace('_', '-')} path")
    if getattr(args, "forget", None) is not None and not args.forget.strip():
        raise MUError("--forget is empty: give a forget set such as people:3,17 or photos:12, or leave --forget out "
                      "for the scenario's default.")
    if hasattr(args, "seed"):
        check_seed(args.seed)
    if hasattr(args, "seeds"):
        parse_seeds(args.seeds)
    if hasattr(args, "device"):
        check_device(args.device)
    for option in OUTPUT_OPTIONS:
        value = getattr(args, option, None)
        if isinstance(value, str):
            check_output(value, option)
