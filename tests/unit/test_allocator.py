"""The worker's glibc malloc settings: applied, and an operator's MALLOC_* variable wins."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pipeline.allocator import SETTINGS, tune_allocator

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")


def _run(code: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_every_setting_is_applied_in_a_fresh_process() -> None:
    code = "from pipeline.allocator import tune_allocator; print(sorted(tune_allocator().items()))"
    applied = _run(code, {"PATH": "/usr/bin:/bin"})
    assert applied == str(sorted((name, value) for name, (_, value) in SETTINGS.items()))


def test_a_variable_set_by_the_operator_is_left_alone() -> None:
    applied = tune_allocator({"MALLOC_ARENA_MAX": "8"})
    assert "MALLOC_ARENA_MAX" not in applied
    assert set(applied) == set(SETTINGS) - {"MALLOC_ARENA_MAX"}
