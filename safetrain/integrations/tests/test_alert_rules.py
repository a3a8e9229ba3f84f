"""OPS-02, OPS-03: Prometheus' alert rules are valid and the backup alerts fire when they should and only then
(deploy/prometheus/alerts_test.yml, promtool's unit tests). Never skipped: promtool comes with Debian's prometheus."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

RULES = Path(__file__).resolve().parents[3] / "deploy" / "prometheus"
PROMTOOL = shutil.which("promtool")


def promtool(*args: str) -> subprocess.CompletedProcess:
    if not PROMTOOL:
        pytest.fail(
            "promtool is missing: install Debian's prometheus (the alert rules are unproven without it)"
        )
    return subprocess.run([PROMTOOL, *args], cwd=RULES, capture_output=True, text=True, timeout=120)


def test_ops_02_the_alert_rules_are_valid():
    result = promtool("check", "rules", "alerts.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ops_03_the_backup_alerts_fire_when_a_backup_is_missed_or_failed_and_only_then():
    result = promtool("test", "rules", "alerts_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
