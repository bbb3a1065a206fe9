"""The per-area time summary that ends every test run (tests/timing_summary.py)."""

from __future__ import annotations

import subprocess
import sys

from scripts.stack import ROOT
from tests.timing_summary import area


def test_areas_are_folders_or_the_capability_a_file_is_named_after():
    assert area("tests/test_benefits_matching.py::test_x[sqlite]") == "benefits"
    assert area("tests/test_employment_code_api.py::test_y") == "employment_code"
    assert area("tests/actions/test_policy.py::test_z") == "actions"
    assert area("tests/e2e/test_make_run.py::test_run") == "e2e"


def test_a_run_ends_with_the_time_per_area():
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "tests/test_idcard.py", "tests/test_timing_summary.py::"
         "test_areas_are_folders_or_the_capability_a_file_is_named_after"],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:]
    summary = done.stdout.split("time per area", 1)[1]
    lines = {line.split()[0]: line for line in summary.splitlines()[1:] if line.strip()}
    assert {"idcard", "timing", "(all)"} <= set(lines), summary
    assert " tests " in lines["idcard"] and lines["idcard"].rstrip().endswith(" s")
