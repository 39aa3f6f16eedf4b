"""What one unlearning run runs: the method and its validated hyperparameters for the data, resolved once where the
user's choice comes in (the command line, the dashboard, a stored run, a tuning trial) and then passed along; the
pipeline, the jobs and the bank runs take it as it is and never look a name or a setting up again."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from mu_core.experiment import Experiment
from mu_core.methods import Method, get_method


@dataclass(frozen=True)
class RunSpec:
    """A method with every hyperparameter set: its defaults for `dataset`/`scenario` (the tuned preset, if any)
    updated with the user's validated overrides."""

    method: Method
    hparams: dict[str, Any]
    dataset: str
    scenario: str

    def check_fits(self, exp: Experiment) -> None:
        """ValueError when the specification was resolved for other data than `exp` (its presets would not apply)."""
        if (self.dataset, self.scenario) != (exp.dataset.name, exp.splits.scenario):
            raise ValueError(f"{self.method.title} was set up for {self.dataset}/{self.scenario}, not for "
                             f"{exp.dataset.name}/{exp.splits.scenario}.")


def build_spec(method_name: str, overrides: Mapping[str, Any], dataset: str, scenario: str) -> RunSpec:
    """The run specification of `method_name` with `overrides` (Python values, or the text of `--set`) on
    `dataset`/`scenario`. MUError for an unknown method, an unknown hyperparameter or a value out of its range."""
    method = get_method(method_name)
    return RunSpec(method, method.resolve(dict(overrides), dataset, scenario), dataset, scenario)


def spec_for(exp: Experiment, method_name: str, overrides: Mapping[str, Any]) -> RunSpec:
    """`build_spec` for the data of `exp`."""
    return build_spec(method_name, overrides, exp.dataset.name, exp.splits.scenario)
