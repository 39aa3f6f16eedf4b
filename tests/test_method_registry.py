"""The method registry: every method module declared with its description, reference, hyperparameters and presets,
and the validation of hyperparameter values given by name."""
from __future__ import annotations

import pytest

from mu_core.errors import MUError
from mu_core.methods import MODULES, REGISTRY, get_method


def test_every_method_module_is_registered_with_declarations():
    """A method needs no preset: without one for some data it runs with its declared defaults."""
    assert len(REGISTRY) == len(MODULES) == 15
    for method in REGISTRY.values():
        assert method.description and method.reference and method.hparams
        for h in method.hparams:
            assert h.help and h.validate(h.default) == h.default
            for preset in method.presets.values():
                for key, value in preset.items():
                    assert method.hparam(key).validate(value) == value


def test_set_rejects_unknown_names_and_out_of_range_values():
    method = get_method("finetune")
    with pytest.raises(MUError, match="has no hyperparameter 'lrr'.*epochs, lr"):
        method.resolve({"lrr": "0.1"})
    with pytest.raises(MUError, match="lr must be a number from 1e-05 to 0.5, got '3'"):
        method.resolve({"lr": "3"})
    with pytest.raises(MUError, match="epochs must be a whole number"):
        method.resolve({"epochs": "1.5"})
    assert method.resolve({"lr": "0.01", "epochs": "3"})["lr"] == 0.01
