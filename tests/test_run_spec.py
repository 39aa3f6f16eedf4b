"""A run is resolved once (mu_core.run_spec): the method's name and settings are looked up and validated where the
user's choice comes in, the command line and the dashboard give the same specification for the same choice, and a
run launched from the dashboard reuses the evaluated baselines it holds instead of scoring them again."""
from __future__ import annotations

import pytest

from dashboard import context, tasks
from mu_core import baselines as B
from mu_core import cli, pipeline
from mu_core.errors import MUError
from mu_core.methods import Method
from mu_core.run_spec import RunSpec, build_spec, spec_for
from mu_core.settings import experiment
from tests.appkit import app_env, assert_clean, button, finished, open_app  # noqa: F401
from tests.test_app import hparam_widget
from tests.test_cli_faults import run as run_cli

pytestmark = pytest.mark.usefixtures("app_env")
QUICK = {"epochs": 1, "batch_size": 256}  # one step of Fine-tuning
CLI_SETTINGS = ["--epochs", "2", "--image-size", "32", "--device", "cpu"]  # the tiny experiment of tests/conftest


class Stop(MUError):
    """Raised instead of running: the specification has been handed over."""


def counted_calls(monkeypatch, *places: tuple[object, str]) -> list:
    """The first argument of every call, from now on, of the function found at the first (owner, attribute) of
    `places`, which it replaces at each of them."""
    calls: list = []
    real = getattr(*places[0])

    def counted(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)
    for owner, name in places:
        monkeypatch.setattr(owner, name, counted)
    return calls


@pytest.fixture
def resolves(monkeypatch) -> list[Method]:
    """The methods resolved (Method.resolve called) from now on."""
    return counted_calls(monkeypatch, (Method, "resolve"))


@pytest.fixture
def evaluations(monkeypatch) -> list:
    """The models evaluated from now on (by the baselines' and the pipeline's evaluations)."""
    return counted_calls(monkeypatch, (pipeline, "evaluate"), (B, "evaluate"))


def test_defaults_for_the_data_updated_with_validated_overrides():
    spec = build_spec("finetune", {"epochs": "3"}, "orl", "person")
    assert spec.method.name == "finetune" and spec.hparams["epochs"] == 3
    assert spec.hparams == {**spec.method.defaults("orl", "person"), "epochs": 3}
    assert (spec.dataset, spec.scenario) == ("orl", "person")


@pytest.mark.parametrize("name, overrides, message", [
    ("nope", {}, "Unknown method 'nope'; available: finetune, "),
    ("finetune", {"nope": 1}, "Fine-tuning has no hyperparameter 'nope'; its hyperparameters are: "),
    ("finetune", {"epochs": "many"}, "epochs must be "),
    ("finetune", {"lr": -1}, "lr must be "),
])
def test_bad_names_and_values_are_refused_with_what_is_allowed(name, overrides, message):
    with pytest.raises(MUError) as e:
        build_spec(name, overrides, "orl", "person")
    assert str(e.value).startswith(message), str(e.value)


def test_a_run_refuses_a_specification_made_for_other_data(tiny_exp, tiny_baselines):
    spec = build_spec("finetune", QUICK, tiny_exp.dataset.name, "photos")
    with pytest.raises(ValueError, match="set up for orl/photos, not for orl/person"):
        pipeline.run_method(tiny_exp, spec, tiny_baselines)


def test_the_command_line_resolves_a_run_once(tiny_baselines, resolves):
    code, out, err = run_cli(["unlearn", "--method", "finetune", "--set", "epochs=1", "--set", "batch_size=256",
                              *CLI_SETTINGS])
    assert code == 0, err
    assert "stored" in out and [m.name for m in resolves] == ["finetune"]


def test_the_command_line_and_the_dashboard_give_the_same_specification(monkeypatch, tiny_baselines):
    handed: list[RunSpec] = []

    def take(exp, spec, *args, **kwargs):
        handed.append(spec)
        raise Stop("stop")
    monkeypatch.setattr(cli, "execute_run", take)
    code, _, err = run_cli(["unlearn", "--method", "finetune", "--set", "epochs=1", "--set", "batch_size=256",
                            *CLI_SETTINGS])
    assert code == 2 and "stop" in err

    monkeypatch.setattr(tasks, "submit_unlearn", lambda exp, spec, owner: handed.append(spec) or "job")
    at = open_app("unlearn")
    at.selectbox(key="method").set_value("finetune").run()
    for name, value in QUICK.items():
        hparam_widget(at, "finetune", name).set_value(value)
    button(at, "Launch").click().run()
    assert_clean(at)
    cli_spec, page_spec = handed
    assert cli_spec == page_spec == spec_for(experiment(), "finetune", QUICK)


def test_a_dashboard_launch_resolves_once_and_reuses_the_evaluated_baselines(tiny_baselines, resolves,
                                                                                evaluations, monkeypatch):
    context.keep_evaluated(context.evaluated(), experiment(), tiny_baselines)  # as the pages hold them
    scored_again: list[int] = []
    monkeypatch.setattr(tasks, "score_baselines", lambda *a, **k: scored_again.append(1))
    at = open_app("unlearn")
    at.selectbox(key="method").set_value("finetune").run()
    for name, value in QUICK.items():
        hparam_widget(at, "finetune", name).set_value(value)
    resolves.clear()
    button(at, "Launch").click().run()
    assert_clean(at)
    job = finished(tasks.unlearn_jobs(at.session_state[context.OWNER])[-1].id)
    assert job.status == "done", job.error
    assert [m.name for m in resolves] == ["finetune"]
    assert not scored_again and len(evaluations) == 1  # the unlearned model only
