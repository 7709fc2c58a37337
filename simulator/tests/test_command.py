"""`manage.py simulate`: options, progress, report, exit codes and Ctrl-C."""

from __future__ import annotations

import io
import json
import re
import signal
import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from simulator import ConfigError, Simulation, SimulationConfig
from simulator.management.commands.simulate import Command as SimulateCommand

from .fakes import (
    csms_in_thread,
    default_answer,
    wait_until,
)

# --- the management command -----------------------------------------------------------


def test_the_command_needs_no_database_and_prints_progress_and_report(tmp_path):
    # No django_db mark: pytest-django fails the test on any query.
    assert SimulateCommand.requires_system_checks == []
    path = tmp_path / "report.json"
    out, err = io.StringIO(), io.StringIO()
    with csms_in_thread() as csms:
        call_command(
            "simulate",
            *("--url", csms.url, "--charge-points", "2", "--connectors", "1"),
            *("--duration", "1.6", "--heartbeat-interval", "0.3", "--sessions-per-hour", "0"),
            *("--id-prefix", "CP 7/", "--id-start", "41", "--json", str(path)),
            stdout=out,
            stderr=err,
        )
    report = json.loads(path.read_text())
    assert report["connections"]["handshakes_ok"] == report["connections"]["connected_at_end"] == 2
    assert report["sent"]["BootNotification"]["answered"] == 2
    assert report["sent"]["Heartbeat"]["answered"] >= 4
    assert report["totals"]["errors"] == 0
    assert report["ended_by"] == "duration"
    # Ids are numbered from --id-start and percent-encoded in the URL, decoded by the server.
    assert set(csms.connects) == {"CP 7/00041", "CP 7/00042"}
    text = out.getvalue()
    assert "BootNotification" in text and "Heartbeat" in text and "Overall:" in text
    progress = [line for line in err.getvalue().splitlines() if "connected" in line]
    assert progress and "connected 2/2" in progress[-1]


BAD_OPTIONS = [
    (["--charge-points", "0"], "--charge-points must be at least 1"),
    (["--url", "http://127.0.0.1/ocpp/"], "--url must be a ws:// or wss:// URL"),
    (["--url", "ws://127.0.0.1/ocpp/?token=1"], "--url must not carry a query"),
    (["--connectors", "0"], "--connectors must be between 1 and 100"),
    (["--duration", "-1"], "--duration must be at least 0"),
    (["--ramp", "0"], "--ramp must be greater than 0"),
    (["--meter-interval", "0"], "--meter-interval must be greater than 0"),
    (["--session-minutes", "-5"], "--session-minutes must be greater than 0"),
    (["--sessions-per-hour", "-1"], "--sessions-per-hour must be at least 0"),
    (
        ["--rate", "100", "--heartbeat-interval", "30"],
        "--rate and --heartbeat-interval exclude each other",
    ),
    (["--rate", "0"], "--rate must be greater than 0"),
    (["--id-tag", "A" * 21], "an idTag has 1 to 20 characters"),
    (["--id-tag", "TAG,,OTHER"], "an idTag has 1 to 20 characters"),
    (
        ["--id-tag", "SIXTEEN-CHARS-ID", "--id-tag-count", "100000"],
        "an idTag has 1 to 20 characters",
    ),
    (["--password", "", "--charge-points", "1"], "--password must not be empty"),
    (["--password", "secret-secret-16", "--id-prefix", "A:"], "must not contain ':'"),
    (["--id-prefix", "X" * 60], "--id-prefix is too long"),
    (
        ["--backoff-base", "10", "--backoff-cap", "1"],
        "--backoff-cap must not be below --backoff-base",
    ),
    (
        ["--json", "/nonexistent-folder/report.json"],
        "--json: cannot write into /nonexistent-folder",
    ),
    (["--mix", "0.3"], "--mix needs --ocpp-version mixed"),
    (["--ocpp-version", "mixed", "--mix", "2"], "--mix must be between 0 and 1"),
]


@pytest.mark.parametrize(("args", "message"), BAD_OPTIONS)
def test_bad_options_are_refused_with_a_clear_message(args, message):
    # A short duration: were an option let through, the test fails instead of hanging.
    base = ("--url", "ws://127.0.0.1:9/ocpp/", "--duration", "0.5", "--quiet")
    with pytest.raises(CommandError, match=re.escape(message)):
        call_command("simulate", *base, *args, stdout=io.StringIO())


def test_bad_options_exit_non_zero_from_the_shell():
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "simulate",
            "--url",
            "ws://127.0.0.1:9/",
            "--charge-points",
            "0",
        ],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "--charge-points must be at least 1" in result.stderr
    assert result.stdout == ""


def test_config_validation_is_the_library_s_too():
    with pytest.raises(ConfigError, match="--charge-points"):
        Simulation(SimulationConfig(url="ws://127.0.0.1:9/", charge_points=-3))
    config = SimulationConfig(url="ws://h:1/ocpp", id_tags=("T",), id_tag_count=3)
    assert config.url_for("CP 1") == "ws://h:1/ocpp/CP%201"
    assert config.all_id_tags() == ["T0001", "T0002", "T0003"]


def test_ctrl_c_ends_the_run_cleanly_and_a_second_one_skips_the_session_wait(tmp_path):
    """First SIGINT: stop sessions (here StopTransaction is never answered); second: go."""

    def answer(charge_point_id, action, payload, csms):
        if action == "StopTransaction":
            return None
        return default_answer(charge_point_id, action, payload, csms)

    path = tmp_path / "report.json"
    with csms_in_thread(answer=answer) as csms:
        process = subprocess.Popen(
            [
                *(sys.executable, "manage.py", "simulate", "--url", csms.url, "--quiet"),
                *("--charge-points", "2", "--connectors", "1", "--sessions-per-hour", "36000"),
                *("--session-minutes", "60", "--call-timeout", "60", "--stop-timeout", "60"),
                *("--id-tag", "TAG-A,TAG-B", "--json", str(path)),
            ],
            cwd=settings.BASE_DIR,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            wait_until(lambda: csms.actions().count("StartTransaction") == 2, timeout=30)
            process.send_signal(signal.SIGINT)
            wait_until(lambda: csms.actions().count("StopTransaction") == 2)
            time.sleep(0.3)
            process.send_signal(signal.SIGINT)
            out, err = process.communicate(timeout=15)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()

    assert process.returncode == 0, err
    assert "ended: interrupted" in out
    assert "Note: 2 session(s) still open when the run ended" in out
    assert "connected" not in err  # --quiet: no progress line
    report = json.loads(path.read_text())
    assert report["ended_by"] == "interrupted"
    assert report["sent"]["StopTransaction"]["sent"] == 2
    assert report["sessions"]["started"] == 2 and report["sessions"]["completed"] == 0
