"""The command line under bad values (issue 16): each ends in one clear message naming what is allowed, before any
work, and never in a traceback; plus a fuzz test of the argument parsing and of --forget / --set values generated
from the methods registry. Nothing here trains: the baselines' scoring is replaced by a stop."""
from __future__ import annotations

import contextlib
import io
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mu_core import cli
from mu_core.errors import MUError
from mu_core.methods import REGISTRY


class ReachedTraining(MUError):
    """Raised instead of scoring the baselines: every check before the work has passed."""


def _stop(*args, **kwargs):
    raise ReachedTraining("reached training")


@pytest.fixture(autouse=True)
def no_training(monkeypatch, tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    monkeypatch.setenv("MU_CHECKPOINTS", str(root / "ck"))
    monkeypatch.setenv("MU_RUNS", str(root / "runs"))
    import sys
    for module in [m for n, m in sys.modules.items() if n.startswith("mu_core")]:  # wherever a command trains from
        for name in ("score_baselines", "execute_run", "run_method", "get_baseline"):
            if callable(getattr(module, name, None)):
                monkeypatch.setattr(module, name, _stop)
    return root


def run(argv: list[str]) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `python -m mu_core ARGV`, argparse's exits included."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main(argv)
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 2
    return code, out.getvalue(), err.getvalue()


def refused(argv: list[str], *fragments: str) -> str:
    code, out, err = run(argv)
    assert code == 2, (code, out, err)
    assert "Traceback" not in err and "reached training" not in err, err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1, err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("argv, fragments", [
    (["--image-size", "100000"], ["--image-size", "from 1 to 512"]),
    (["--image-size", "0"], ["from 1 to 512"]),
    (["--seed", str(10 ** 20)], ["--seed", "from 0 to 4294967295"]),
    (["--seed", "-1"], ["from 0 to 4294967295"]),
    (["--seed", "\u0663"], ["from 0 to 4294967295"]),
    (["--epochs", "\u00b2"], ["--epochs", "whole number"]),
    (["--device", "foo"], ["--device must be cpu or cuda"]),
    (["--device", "cuda:99"], ["cuda"]),
    (["--forget", ""], ["--forget is empty"]),
    (["--forget", "people:\u00b2"], ["Unknown person"]),
    (["--forget", "people:\u0663"], ["Unknown person"]),
    (["--forget", "random:100%"], ["'person' scenario forgets with people:", "no scenario of"]),
    (["--data-dir", "/tmp/x\0y", "--dataset", "folder"], ["NUL byte"]),
    (["--original", "/tmp/x\0y.pth"], ["NUL byte"]),
])
def test_bad_values_end_in_one_error_line_before_any_work(argv, fragments):
    refused(["train", *argv], *fragments)


def test_cuda_without_cuda_is_one_error_line(monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    refused(["train", "--device", "cuda"], "no CUDA device is available here")


def test_bad_seed_lists_are_refused_before_any_work():
    refused(["benchmark", "--methods", "finetune", "--seeds", "0,x"], "each of --seeds", "from 0 to 4294967295")
    refused(["benchmark", "--methods", "finetune", "--seeds", ","], "--seeds takes seeds")
    refused(["benchmark", "--methods", "finetune", "--seeds", "0,99999999999"], "from 0 to 4294967295")


def test_outputs_that_cannot_be_written_are_refused_before_any_work(tmp_path):
    (tmp_path / "a-file").write_text("")
    (tmp_path / "a-folder").mkdir()
    refused(["train", "--json", str(tmp_path / "a-folder")], "is a folder")
    refused(["train", "--json", str(tmp_path / "a-file" / "out.json")], "is a file, not a folder")
    refused(["train", "--json", "/proc/out.json"], "cannot be written")
    refused(["benchmark", "--methods", "finetune", "--csv", str(tmp_path / "a-folder")], "--csv", "is a folder")
    refused(["benchmark", "--methods", "finetune", "--markdown", str(tmp_path / "a-file" / "x.md")], "--markdown")
    refused(["methods", "--json", str(tmp_path / "a-folder")], "is a folder")
    code, _, err = run(["train", "--json", str(tmp_path / "new" / "out.json")])  # a new folder is fine
    assert "reached training" in err


@pytest.mark.parametrize("size, fragment", [(0, "is empty (0 bytes)"), (4 << 30, "refused without being read")])
def test_an_empty_or_huge_original_is_refused_before_reading(tmp_path, monkeypatch, size, fragment):
    path = tmp_path / "weights.pth"
    with open(path, "wb") as f:
        f.truncate(size)  # sparse: 4 GiB on disk costs nothing
    monkeypatch.setattr("torch.load", lambda *a, **k: pytest.fail("read before checking the size"))
    line = refused(["train", "--original", str(path)], fragment)
    assert "weights_only=False" not in line


def test_a_damaged_original_does_not_suggest_unsafe_loading(tmp_path):
    for name, data in (("random.pth", os.urandom(4096)), ("zip.pth", b"PK\x03\x04" + os.urandom(64)),
                       ("tar.pth", b"\0" * 1024), ("stop.pth", b"\x80\x02.")):  # the last: IndexError inside torch
        (tmp_path / name).write_bytes(data)
        line = refused(["train", "--original", str(tmp_path / name)], "not a readable PyTorch checkpoint")
        assert "weights_only=False" not in line and "weights_only` set to `False" not in line


def test_an_unexpected_failure_is_one_line_too(monkeypatch):
    monkeypatch.setattr(cli, "score_baselines", lambda *a, **k: {}["boom"])
    code, _, err = run(["train"])
    assert code == 1 and err.startswith("error: unexpected KeyError") and "Traceback" not in err


# --- fuzz ----------------------------------------------------------------------------------------------------------

COMMANDS = ["train", "evaluate", "unlearn", "benchmark", "tune", "methods"]
NUMBER_FLAGS = ["--seed", "--epochs", "--image-size", "--subset"]
HPARAMS = [(m.name, h) for m in REGISTRY.values() for h in m.hparams]
odd_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
def mostly(usual, odd, odds: int = 6):
    """`usual` most of the time, `odd` about once in `odds` draws (so most command lines get past argparse)."""
    return st.integers(0, odds - 1).flatmap(lambda k: odd if k == 0 else usual)


digits = st.sampled_from(["0", "1", "7", "39", "40", "-1", "\u00b2", "\u0663", "\uff17", "1e3", "10" * 12, "", " "])
number_text = st.one_of(digits, st.integers(-10 ** 25, 10 ** 25).map(str), odd_text)
ident = st.one_of(digits, st.sampled_from(["s1", "s40", "s41", "s3/4", "1-5", "F0001", "%", "10%", "100%",
                                           "0.5%", "nan%"]), odd_text)
forget = st.one_of(
    st.builds(lambda kind, items, sep: f"{kind}:{sep.join(items)}",
              st.sampled_from(["people", "photos", "first", "random", "PEOPLE", "nobody", ""]),
              st.lists(ident, max_size=5), st.sampled_from([",", ", ", ",,"])),
    odd_text)


@st.composite
def set_value(draw) -> str:
    method, h = draw(st.sampled_from(HPARAMS))
    key = draw(st.one_of(st.just(h.name), st.just(h.name.upper()), odd_text))
    candidates = [str(h.default), "", "nan", "inf", "-inf", "1e400", "true", "maybe", ",", "3,x"]
    if h.min is not None:
        candidates += [str(h.min), str(h.max), str(h.min - 1), str(h.max * 10 + 1), f"{h.min},{h.max}"]
    candidates += list(h.choices)
    value = draw(st.one_of(st.sampled_from(candidates), odd_text))
    return method, f"{key}={value}"


@st.composite
def argv(draw) -> list[str]:
    command = draw(mostly(st.sampled_from(COMMANDS), odd_text))
    args = [command]
    method, pair = draw(set_value())
    if command in ("unlearn", "tune"):
        args += ["--method", draw(mostly(st.just(method), odd_text))]
    if command == "unlearn" and draw(st.booleans()):
        args += ["--set", pair]
    if command == "tune" and draw(st.booleans()):
        args += ["--grid", pair]
    if command == "benchmark" and draw(st.booleans()):
        args += ["--methods", draw(st.one_of(st.just(method), st.just("all"), odd_text)),
                 "--seeds", draw(st.lists(number_text, max_size=3).map(",".join))]
    if draw(st.booleans()):
        args += ["--forget", draw(forget)]
    for flag in draw(st.lists(st.sampled_from(NUMBER_FLAGS), max_size=2, unique=True)):
        args += [flag, draw(mostly(st.sampled_from(["0", "1", "2", "32", "512", "0.5"]), number_text, 2))]
    if draw(st.booleans()):
        args += ["--device", draw(mostly(st.sampled_from(["cpu", "cuda", "cuda:7", "mps", "meta", "CPU"]),
                                         odd_text))]
    if draw(st.booleans()):
        args += ["--scenario", draw(st.one_of(st.sampled_from(["person", "photos", "benchmark"]), odd_text))]
    if draw(st.integers(0, 7)) == 0:
        args += draw(st.lists(odd_text, max_size=3))  # stray words and flags
    return args


@settings(max_examples=80, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(argv())
def test_no_command_line_prints_a_traceback(args):
    code, out, err = run(args)
    assert "Traceback" not in err + out, (args, err)
    assert "unexpected" not in err, (args, err)  # the catch-all is for bugs; none may be reachable by input
    if code not in (0, None):
        assert "error:" in err or "usage:" in err, (args, err)


@settings(max_examples=100, deadline=None, database=None, derandomize=True)
@given(forget, st.sampled_from(["person", "photos"]))
def test_forget_values_are_read_or_refused_with_a_data_error(spec, scenario):
    from mu_core.data import load_dataset, make_splits
    from mu_core.errors import DataError
    ds = load_dataset("orl")
    try:
        splits = make_splits(ds, scenario, spec)
    except DataError:
        return
    again = make_splits(ds, scenario, splits.forget_spec)  # the canonical spelling selects the same set
    assert again.forget_spec == splits.forget_spec and list(again.forget) == list(splits.forget)


@settings(max_examples=100, deadline=None, database=None, derandomize=True)
@given(set_value())
def test_set_values_from_the_registry_are_read_or_refused_with_a_clear_message(method_and_pair):
    method, pair = method_and_pair
    try:
        get = REGISTRY[method].resolve(cli.parse_sets([pair]), "orl", "person")
    except MUError as e:
        assert str(e) and "Traceback" not in str(e)
        return
    assert isinstance(get, dict)


def test_unlearn_on_a_store_that_cannot_be_written_stops_before_training(tmp_path, monkeypatch, capsys):
    """A store under a regular file opens read-only: `unlearn` says so before any baseline trains."""
    from mu_core.cli import main
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("MU_RUNS", str(blocker / "runs"))
    monkeypatch.setenv("MU_CHECKPOINTS", str(tmp_path / "ck"))
    assert main(["unlearn", "--method", "finetune", "--epochs", "1", "--image-size", "16"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "Traceback" not in err
    assert not (tmp_path / "ck").exists()  # nothing was trained


def test_set_refuses_non_ascii_digits():
    """`--set epochs=٣` (an Arabic-Indic three) names what is allowed instead of running 3 epochs."""
    from mu_core.errors import MUError
    from mu_core.methods import get_method
    method = get_method("finetune")
    with pytest.raises(MUError, match="epochs must be a whole number"):
        method.resolve({"epochs": "٣"})
    with pytest.raises(MUError, match="lr must be a number"):
        method.resolve({"lr": "٠.١"})
    assert method.resolve({"epochs": "3"})["epochs"] == 3
