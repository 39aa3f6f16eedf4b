"""Shared fixtures: tiny experiments on the built-in faces (32 px, 2 epochs) with checkpoints and runs in a
temporary folder, so the suite stays fast and never touches the user's cache. The tiny experiment runs on the
CPU, or on $MU_DEVICE when set (the GPU check runs the engine tests with MU_DEVICE=cuda)."""
from __future__ import annotations

import os

import pytest

TINY = {"epochs": 2, "image_size": 32}


@pytest.fixture(scope="session")
def tiny_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("mu")
    mp = pytest.MonkeyPatch()
    mp.setenv("MU_CHECKPOINTS", str(root / "checkpoints"))
    mp.setenv("MU_RUNS", str(root / "runs"))
    yield root
    mp.undo()


@pytest.fixture(scope="session")
def tiny_exp(tiny_dirs):
    from mu_core.experiment import build_experiment
    return build_experiment(seed=0, device=os.environ.get("MU_DEVICE") or "cpu", **TINY)


@pytest.fixture(scope="session")
def tiny_baselines(tiny_exp):
    from mu_core.pipeline import score_baselines
    return score_baselines(tiny_exp)


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: real-browser tests (Playwright + Chromium); deselect with "
                                       "-m 'not browser'")
