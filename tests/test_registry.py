"""The metric registry: every metric declared once, and the CLI's tables reading from it."""
from __future__ import annotations

from dataclasses import replace

from mu_core.metric_registry import CLOSEST, HIGHER, LOWER, REGISTRY, SAMPLE_SIZES, TABLE_KEYS, get_metric
from mu_core.results import HEADINGS, KEYS, ModelResult, format_table, format_verdict, summary_table, to_csv

SECTION_5 = ("test_acc", "top2_acc", "forget_acc", "retain_acc", "unseen_acc", "mia_accuracy", "forgetting_score",
             "nomus", "mia_auc", "tpr_at_1pct_fpr", "mia_efficacy", "gap_to_retrained", "seconds", "time_ratio",
             "forget_loss_mean", "unseen_loss_mean")
SECTION_5B = ("forget_quality", "forget_quality_final", "epsilon_ceiling", "forget_quality_floor", "identity_dprime",
              "identity_auc", "klom_forget", "klom_retain", "klom_test", "compute_ratio")


def test_every_metric_of_the_design_is_declared_with_a_direction_and_a_definition():
    for key in SECTION_5 + SECTION_5B:
        m = get_metric(key)
        assert m.key == key and m.label and m.unit and len(m.definition) > 30
        assert m.direction in (HIGHER, LOWER, CLOSEST)
    assert get_metric("forgetting_score").label != get_metric("mia_accuracy").label  # never confused
    assert get_metric("identity_dprime").sample_keys == ("identity_n_genuine", "identity_n_impostor")


def test_every_declared_sample_size_has_words_and_every_direction_says_what_is_better():
    assert {k for m in REGISTRY.values() for k in m.sample_keys} == set(SAMPLE_SIZES)
    assert get_metric("test_acc").better == "higher is better" and get_metric("nomus").better == CLOSEST


RESULT = ModelResult("finetune", {"epochs": 1}, 0, 2.0, 0.1,
                     {"test_acc": 0.9, "top2_acc": 0.95, "forget_acc": 0.1, "unseen_acc": 0.2, "mia_accuracy": 0.55,
                      "forgetting_score": 0.05, "nomus": 0.9, "gap_to_retrained": 0.02, "compute_ratio": 0.0123})


def test_the_tables_read_labels_order_and_digits_from_the_registry():
    assert KEYS == list(TABLE_KEYS) and HEADINGS == [REGISTRY[k].label for k in TABLE_KEYS]
    assert RESULT.value("seconds") == 2.0 and RESULT.value("test_acc") == 0.9 and RESULT.value("klom_forget") is None
    table = format_table([RESULT])
    assert "compute ratio" in table and "0.0123" in table and "forgetting |MIA-0.5|" in table
    assert "time ratio" in summary_table([RESULT, replace(RESULT, seed=1)], markdown=True)
    assert to_csv([RESULT]).splitlines()[0].startswith("method,seed,test_acc,top2_acc")


def test_format_verdict_prints_the_summary_and_every_check():
    verdict = {"forgotten": False, "level": "basic", "n_models": 1, "summary": "Not forgotten: x.",
               "checks": [{"name": "recognition", "pass": False, "text": "recognised in 7 of 7"},
                          {"name": "membership", "pass": None, "text": "cannot tell"}]}
    text = format_verdict(verdict, "finetune")
    assert text.splitlines()[0] == "verdict of finetune (basic level): NOT FORGOTTEN. Not forgotten: x."
    assert "[FAIL] recognition: recognised in 7 of 7" in text and "[ n/a] membership" in text
    assert "stored before verdicts" in format_verdict(None)
