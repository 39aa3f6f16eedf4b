"""The method every unlearning method is measured against: "Retrained for the same compute", training from scratch
on the retain set stopped at a given compute (mu_core/methods/retrain_budget.py). It is a yardstick, not an
unlearning method: its budget is the compute it is compared at, so it gets no preset from the tuning, and it is
never recommended. Kept apart from the method's module so that the plots can name it without importing torch."""
BASELINE = "retrain_budget"
