"""Importing published `.pth` checkpoints as the Original: only weights_only loading, key layouts of the
benchmark's releases, and a clear CheckpointError for everything that does not fit."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
import torch.nn as nn
from torchvision.models import resnet18

import datafixtures as F
from mu_core.checkpoint_import import import_checkpoint
from mu_core.data import load_dataset
from mu_core.errors import CheckpointError
from mu_core.models import build_model


@pytest.fixture(scope="module")
def mucac(tmp_path_factory):
    return load_dataset("mucac", F.make_mucac(tmp_path_factory.mktemp("mucac"), photos=1))


class MultiLabelHead(nn.Module):
    """The MUCAC multi-label notebooks' head: a Linear inside a module called fc, hence keys fc.fc.*."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(512, 3)

    def forward(self, x):
        return self.fc(x)


def test_a_multilabel_release_with_fc_fc_keys_loads(tmp_path, mucac):
    model = resnet18(weights=None)
    model.fc = MultiLabelHead()
    torch.save(model.state_dict(), tmp_path / "pre_trained_last_checkpoint_epoch_8.pth")
    imported = import_checkpoint(tmp_path / "pre_trained_last_checkpoint_epoch_8.pth", mucac)
    ours = imported.load_into(build_model(3))
    assert torch.equal(ours.fc.weight, model.fc.fc.weight) and torch.equal(ours.conv1.weight, model.conv1.weight)
    assert imported.describe()["source_sha256"] == imported.sha256 and len(imported.sha256) == 64


def test_wrapped_and_dataparallel_state_dicts_load(tmp_path):
    state = resnet18(weights=None, num_classes=40).state_dict()
    torch.save({"epoch": 30, "state_dict": {f"module.{k}": v for k, v in state.items()}}, tmp_path / "w.pth")
    imported = import_checkpoint(tmp_path / "w.pth", load_dataset("orl"))
    assert torch.equal(imported.state["layer4.1.bn2.running_var"], state["layer4.1.bn2.running_var"])


def test_a_head_that_does_not_fit_the_dataset(tmp_path, mucac):
    torch.save(resnet18(weights=None, num_classes=8).state_dict(), tmp_path / "mufac.pth")
    with pytest.raises(CheckpointError, match=r"The head of mufac.pth has 8 outputs, but MUCAC multi-label: Male, "
                                              r"Smiling, Young \(CelebA-HQ\) needs 3 outputs \(attributes: Male, "
                                              r"Smiling, Young\)"):
        import_checkpoint(tmp_path / "mufac.pth", mucac)


class _Exploit:
    def __reduce__(self):
        return os.system, ("touch exploited",)


def test_pickle_only_checkpoints_are_refused_without_unpickling(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    torch.save(resnet18(weights=None, num_classes=40), tmp_path / "whole_model.pth")
    with pytest.raises(CheckpointError, match=r"whole_model.pth stores Python objects besides tensors \(it refers to "
                                              r"torchvision.models.resnet.ResNet\).*nothing was unpickled"):
        import_checkpoint(tmp_path / "whole_model.pth", load_dataset("orl"))
    torch.save({"fc.weight": _Exploit()}, tmp_path / "exploit.pth")
    with pytest.raises(CheckpointError, match="weights_only=True"):
        import_checkpoint(tmp_path / "exploit.pth", load_dataset("orl"))
    assert not (tmp_path / "exploited").exists()


@pytest.mark.parametrize("content, message", [
    (b"not a checkpoint", "not a readable PyTorch checkpoint"),
    (None, "does not exist"),
    ("small", r"not a torchvision ResNet-18 state dict \(missing conv1.weight, bn1.weight"),
    ("nan", "non-finite values"),
])
def test_other_bad_checkpoints(tmp_path, content, message):
    path = tmp_path / "bad.pth"
    if content == "small":
        torch.save(nn.Linear(512, 40).state_dict(), path)
        torch.save({"fc." + k: v for k, v in torch.load(path).items()}, path)
    elif content == "nan":
        state = resnet18(weights=None, num_classes=40).state_dict()
        state["conv1.weight"][0, 0, 0, 0] = float("nan")
        torch.save(state, path)
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(CheckpointError, match=message):
        import_checkpoint(path, load_dataset("orl"))


def test_truncated_checkpoint(tmp_path):
    torch.save(resnet18(weights=None, num_classes=40).state_dict(), tmp_path / "full.pth")
    data = (tmp_path / "full.pth").read_bytes()
    Path(tmp_path / "cut.pth").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="cut.pth is not a readable PyTorch checkpoint"):
        import_checkpoint(tmp_path / "cut.pth", load_dataset("orl"))
