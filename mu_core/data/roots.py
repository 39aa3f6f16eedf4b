"""The folders a server lets its dashboard users read data (and checkpoints) from.

$MU_DATA_ROOTS lists them, separated by ':' (os.pathsep); by default the repository's data/ folder and the home
folder of the user running the server. The command line reads any path its user gives (their own machine); the
dashboard must pass every typed path through `check_data_path`. The built-in faces need no path at all.
"""
from __future__ import annotations

import os
from pathlib import Path

from mu_core.errors import DataError

ENV = "MU_DATA_ROOTS"
REPO_DATA = Path(__file__).resolve().parents[2] / "data"


def allowed_roots() -> list[Path]:
    """The allowed folders, resolved (symlinks followed)."""
    configured = os.environ.get(ENV)
    if configured is not None:
        roots = [Path(p).expanduser() for p in configured.split(os.pathsep) if p.strip()]
    else:
        roots = [REPO_DATA, Path.home()]
    return [r.resolve() for r in roots]


def check_data_path(path: str | Path, roots: list[Path] | None = None) -> Path:
    """The resolved path when it exists inside an allowed root, else a DataError. Symlinks are resolved first, so
    a link inside a root that points outside it is refused."""
    if not str(path).strip():
        raise DataError("No data path given.")
    roots = allowed_roots() if roots is None else [Path(r).resolve() for r in roots]
    resolved = Path(path).expanduser().resolve()
    if not any(resolved == root or resolved.is_relative_to(root) for root in roots):
        shown = ", ".join(str(r) for r in roots) or "none configured"
        raise DataError(f"{path} is outside the folders this server reads data from ({shown}); the server's "
                        f"administrator can add folders to {ENV}.")
    if not resolved.exists():
        raise DataError(f"{path} does not exist.")
    return resolved
