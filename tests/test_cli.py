"""The command lines: ``python -m etcd_recipes jobs ...`` against a real etcd, and the demo."""

from __future__ import annotations

import subprocess
import sys

import pytest

from etcd_recipes import Client
from etcd_recipes.cli.jobs import main as jobs


def run_jobs(endpoints: list[str], prefix: str, *args: str) -> int:
    return jobs(["--endpoints", ",".join(endpoints), "--prefix", prefix, *args])


def test_jobs_cli_manages_definitions(
    etcd_endpoints: list[str],
    etcd_client: Client,
    etcd_key_prefix: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    prefix = etcd_key_prefix + "job/"
    scheduler = etcd_client.scheduler(prefix)
    assert run_jobs(etcd_endpoints, prefix, "add", "backup", "@every 30s", "--command", "true") == 0
    assert [job.name for job in scheduler.jobs()] == ["backup"]
    assert run_jobs(etcd_endpoints, prefix, "pause", "backup") == 0
    assert scheduler.get_job("backup").paused
    assert run_jobs(etcd_endpoints, prefix, "resume", "backup") == 0
    assert not scheduler.get_job("backup").paused
    capsys.readouterr()
    assert run_jobs(etcd_endpoints, prefix, "ls") == 0
    listing = capsys.readouterr().out
    assert "backup" in listing and "@every 30s" in listing
    assert run_jobs(etcd_endpoints, prefix, "history", "backup") == 0
    assert run_jobs(etcd_endpoints, prefix, "rm", "backup") == 0
    assert scheduler.jobs() == []


def test_jobs_cli_refuses_bad_definitions_and_writes_nothing(
    etcd_endpoints: list[str],
    etcd_client: Client,
    etcd_key_prefix: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    prefix = etcd_key_prefix + "job/"
    code = run_jobs(etcd_endpoints, prefix, "add", "bad", "not a cron", "--command", "true")
    assert code != 0
    assert "bad" in capsys.readouterr().err.lower()
    code = run_jobs(
        etcd_endpoints, prefix, "add", "tz", "@hourly", "--command", "true", "--tz", "Mars/Base"
    )
    assert code != 0
    assert etcd_client.get(prefix, prefix=True).kvs == ()


def test_demo_runs_against_a_given_etcd(etcd_endpoints: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "etcd_recipes", "demo", "--endpoints", ",".join(etcd_endpoints)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    for line in ("If/Then/Else on /hi", "DELETE /job/v3/1", "fencing token", "demo finished"):
        assert line in result.stdout
