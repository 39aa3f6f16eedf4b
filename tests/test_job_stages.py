"""mu_core.jobs.Stages: one progress, with one ETA, over stages that count their own steps."""
from mu_core.jobs import Stages
from mu_core.training import Progress


def test_stages_report_steps_fraction_and_eta_over_the_whole_job():
    got: list[Progress] = []
    stages = Stages({"Training Retrained": 10, "Training Original": 20}, got.append)
    stages(Progress("Training Retrained, epoch 1/2", 5, 10))
    stages(Progress("Training Original, epoch 2/2", 20, 20))
    stages(Progress("Evaluating", 1, 3))
    assert [(p.step, p.total) for p in got] == [(5, 30), (30, 30), (1, 3)]
    assert got[0].stage == "Training Retrained, epoch 1/2" and got[0].eta_s > 0 and got[1].eta_s == 0
    assert got[2].eta_s is None  # a stage it was not told of passes through unchanged
