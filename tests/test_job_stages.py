"""mu_core.jobs.Stages: one progress, with one ETA, over stages that count their own steps, one after the other or
side by side."""
from mu_core.jobs import STAGE_SEPARATOR, Stages
from mu_core.training import Progress


def test_stages_one_after_the_other_report_steps_fraction_and_eta_over_the_whole_job():
    got: list[Progress] = []
    stages = Stages({"Training Retrained": 10, "Training Original": 20}, got.append)
    stages(Progress("Training Retrained, epoch 1/2", 5, 10))
    stages(Progress("Training Retrained, epoch 2/2", 10, 10))
    stages(Progress("Training Original, epoch 2/2", 20, 20))
    stages(Progress("Evaluating", 1, 3))
    assert [(p.step, p.total) for p in got] == [(5, 30), (10, 30), (30, 30), (1, 3)]
    assert got[0].stage == "Training Retrained, epoch 1/2" and got[0].eta_s > 0 and got[2].eta_s == 0
    assert got[3].eta_s is None  # a stage it was not told of passes through unchanged


def test_stages_side_by_side_add_their_steps_and_name_every_stage_under_way():
    got: list[Progress] = []
    stages = Stages({"Training Retrained": 10, "Training Original": 20}, got.append)
    stages(Progress("Training Retrained, epoch 1/2", 3, 10))
    stages(Progress("Training Original, epoch 1/4", 4, 20))
    stages(Progress("Training Retrained, epoch 2/2", 10, 10))
    stages(Progress("Training Original, epoch 3/4", 12, 20))
    assert [p.step for p in got] == [3, 7, 14, 22]
    assert got[1].stage == STAGE_SEPARATOR.join(["Training Retrained, epoch 1/2", "Training Original, epoch 1/4"])
    assert got[2].stage == "Training Original, epoch 1/4"  # Retrained has all its steps
    assert got[3].stage == "Training Original, epoch 3/4"
