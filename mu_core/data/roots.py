"""The folders a server lets its dashboard users read data (and checkpoints) from.

$MU_DATA_ROOTS lists them, separated by ':' (os.pathsep); by default one dedicated folder, ~/mu-data (never the
whole home folder). The command line reads any path its user gives (their own machine); the dashboard must pass
every typed path through `check_data_path`. The built-in faces need no path at all.

A data path must be a folder, or (for the `folder` source's CSV form) a `.csv` file; messages about it name the
path, columns and counts, never a file's content. Inside the roots, a symbolic link (a person folder, an image, a
CSV) that leads outside every root is not followed: `escapes_roots` tells the readers which paths to refuse.
"""
from __future__ import annotations

import os
from pathlib import Path

from mu_core.errors import DataError

ENV = "MU_DATA_ROOTS"
DEFAULT_ROOT = "~/mu-data"
CSV_SUFFIX = ".csv"


def allowed_roots() -> list[Path]:
    """The allowed folders, resolved (symlinks followed)."""
    configured = os.environ.get(ENV)
    if configured is not None:
        roots = [Path(p).expanduser() for p in configured.split(os.pathsep) if p.strip() and "\0" not in p]
    else:
        roots = [Path(DEFAULT_ROOT).expanduser()]
    return [r.resolve() for r in roots]


def check_path_text(path: str | Path, what: str = "path") -> str:
    """`path` as text when it can name a file at all (not empty, no NUL byte), else a DataError."""
    text = str(path)
    if "\0" in text:
        raise DataError(f"The {what} contains a NUL byte, which no file name can hold.")
    if not text.strip():
        raise DataError(f"No {what} given.")
    return text


def _inside(path: Path, roots: list[Path]) -> bool:
    return any(path == root or path.is_relative_to(root) for root in roots)


def escapes_roots(path: str | Path, roots: list[Path] | None = None) -> bool:
    """True when `path` lies inside an allowed root as written but leads outside every root once symbolic links
    are followed (a link planted inside a data folder). Paths outside the roots as written are the command line
    user's own business and are not refused here."""
    roots = allowed_roots() if roots is None else [Path(r).resolve() for r in roots]
    written = Path(os.path.abspath(Path(path).expanduser()))
    if not _inside(written, roots):
        return False
    return not _inside(Path(os.path.realpath(written)), roots)


def check_data_path(path: str | Path, roots: list[Path] | None = None) -> Path:
    """The resolved path when it is a folder (or a .csv file) inside an allowed root, else a DataError. Symlinks
    are resolved first, so a link inside a root that points outside it is refused."""
    text = check_path_text(path, "data path")
    roots = allowed_roots() if roots is None else [Path(r).resolve() for r in roots]
    resolved = Path(text).expanduser().resolve()
    if not _inside(resolved, roots):
        shown = ", ".join(str(r) for r in roots) or "none configured"
        raise DataError(f"{text} is outside the folders this server reads data from ({shown}); the server's "
                        f"administrator can add folders to {ENV}.")
    if not resolved.exists():
        raise DataError(f"{text} does not exist.")
    if not resolved.is_dir() and not (resolved.is_file() and resolved.suffix.lower() == CSV_SUFFIX):
        raise DataError(f"{text} is not a folder: a dataset is a folder, or for the folder source a {CSV_SUFFIX} "
                        "file.")
    return resolved
