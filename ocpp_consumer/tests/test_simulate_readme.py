"""The README's `manage.py simulate` line charges, as written, on the product defaults.

Unknown charge points wait as Pending and no id tag exists: the simulator
registers its fleet (Accepted, whoever runs manage.py here is the operator)
and its id tags before connecting. A real Daphne on the embedded default;
the line runs as its own process, only the port changed (and --json added to
read the report).
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys

import pytest

from csms_project import testing
from drivers.models import IdTag
from stations.models import ChargePoint, Transaction

pytestmark = [pytest.mark.e2e, pytest.mark.secure_defaults, pytest.mark.django_db(transaction=True)]


def readme_simulate_line() -> list[str]:
    """The arguments of the README's (first) simulate example."""
    readme = (testing.BASE_DIR / "README.md").read_text()
    line = next(line for line in readme.splitlines() if "manage.py simulate --url" in line)
    words = shlex.split(line)
    return words[words.index("manage.py") + 1 :]


def test_the_readme_line_produces_sessions_on_the_defaults(tmp_path):
    args = readme_simulate_line()
    url = args[args.index("--url") + 1]
    assert re.fullmatch(r"ws://127\.0\.0\.1:8000/ocpp/", url), url
    env = testing.process_env(CELERY_BROKER_URL="memory://")
    env.pop("OCPP_DEFAULT_REGISTRATION_STATUS")  # the product default: Pending
    env.pop("REDIS_URL", None)
    report_path = tmp_path / "report.json"
    with testing.daphne_node(env, tmp_path) as base_url:
        args[args.index("--url") + 1] = url.replace("http", "ws").replace(
            "ws://127.0.0.1:8000", base_url.replace("http", "ws")
        )
        done = subprocess.run(
            [sys.executable, "manage.py", *args, "--quiet", "--json", str(report_path)],
            cwd=testing.BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert done.returncode == 0, done.stderr
    charge_points = int(args[args.index("--charge-points") + 1])
    last = f"SIM-{charge_points:05d}"
    assert (
        f"CSMS set-up: charge points: created {charge_points} (SIM-00001 ... {last}), "
        "registered Accepted" in done.stderr
    )
    tags = charge_points * 2  # one per connector (2 by default)
    assert f"CSMS set-up: id tags: created {tags} (SIMTAG0001 ... SIMTAG{tags:04d})" in done.stderr
    report = json.loads(report_path.read_text())
    assert report["boots_not_accepted"] == {}
    assert report["connections"]["connected_at_end"] == charge_points
    assert report["sessions"]["started"] >= 1, report["sessions"]
    assert report["sessions"]["refused"] == 0, report["sessions_refused"]
    assert report["sessions"]["no_free_id_tag"] == 0
    assert ChargePoint.objects.filter(registration_status="Accepted").count() == charge_points
    assert IdTag.objects.count() == tags
    assert Transaction.objects.count() == report["sessions"]["started"]
