"""The dashboard's first page (app.py's frame and the Forget set page) loads without the libraries that only
training, evaluation and the other pages need: torchvision (which loads torch._dynamo), sklearn and scipy each add
seconds to a cached start."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIRST_PAGE = ("dashboard.sidebar", "dashboard.context", "dashboard.gallery", "dashboard.upload")
HEAVY = ("torchvision", "torch._dynamo", "sklearn", "scipy")


def test_first_page_imports_no_training_or_evaluation_libraries():
    code = (f"import sys; import {', '.join(FIRST_PAGE)}; "
            f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == []
