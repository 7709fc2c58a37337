"""This CSMS's side of `manage.py simulate`: the fleet registered before it connects.

`simulation_prepare` directly, and through the command (which calls it for a
URL on this machine and never for another CSMS).
"""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from drivers.models import IdTag
from ocpp_consumer.simulation import simulation_prepare
from stations.models import ChargePoint

pytestmark = pytest.mark.django_db


def registration(*ids: str) -> dict[str, str]:
    return dict(
        ChargePoint.objects.filter(charge_point_id__in=ids).values_list(
            "charge_point_id", "registration_status"
        )
    )


def test_creates_what_is_missing_accepted_and_says_so():
    lines = simulation_prepare(
        charge_point_ids=["SIM-00001", "SIM-00002"], id_tags=["SIMTAG0001", "SIMTAG0002"]
    )
    assert lines == [
        "charge points: created 2 (SIM-00001, SIM-00002), registered Accepted",
        "id tags: created 2 (SIMTAG0001, SIMTAG0002), Accepted",
    ]
    assert registration("SIM-00001", "SIM-00002") == {
        "SIM-00001": "Accepted",
        "SIM-00002": "Accepted",
    }
    assert set(IdTag.objects.values_list("id_tag", "status")) == {
        ("SIMTAG0001", "Accepted"),
        ("SIMTAG0002", "Accepted"),
    }


def test_uses_what_exists_accepts_pending_and_keeps_an_operators_refusals():
    ChargePoint.objects.create(charge_point_id="SIM-00001", registration_status="Accepted")
    ChargePoint.objects.create(charge_point_id="SIM-00002", registration_status="Pending")
    ChargePoint.objects.create(charge_point_id="SIM-00003", registration_status="Rejected")
    IdTag.objects.create(id_tag="simtag")  # id tags ignore case
    IdTag.objects.create(id_tag="BLOCKED", status="Blocked")

    lines = simulation_prepare(
        charge_point_ids=["SIM-00001", "SIM-00002", "SIM-00003"], id_tags=["SIMTAG", "BLOCKED"]
    )

    assert lines == [
        "charge points: used 1 that exist, Accepted (SIM-00001)",
        "charge points: accepted 1 that were Pending (SIM-00002)",
        "charge points: left 1 as an operator set them, they will not charge: SIM-00003 (Rejected)",
        "id tags: used 1 that exist (simtag)",
        "id tags: 1 exist but are not Accepted (left as they are): BLOCKED (Blocked)",
    ]
    assert registration("SIM-00002", "SIM-00003") == {
        "SIM-00002": "Accepted",
        "SIM-00003": "Rejected",
    }
    assert IdTag.objects.count() == 2


def test_one_password_for_the_fleet_is_hashed_once_and_checks_on_each():
    simulation_prepare(
        charge_point_ids=["SIM-00001", "SIM-00002", "SIM-00003"],
        id_tags=["SIMTAG"],
        password="sixteen-chars-pw",
    )
    for charge_point in ChargePoint.objects.all():
        assert charge_point.check_password("sixteen-chars-pw")


def simulate(*args: str) -> str:
    """The command for a moment against a closed port (the set-up is what counts): its stderr."""
    err = io.StringIO()
    call_command(
        "simulate", *args, "--duration", "0.01", "--quiet", stdout=io.StringIO(), stderr=err
    )
    return err.getvalue()


def test_the_command_sets_up_a_local_csms_with_one_tag_per_connector():
    out = simulate("--url", "ws://127.0.0.1:9/ocpp/", "--charge-points", "3", "--connectors", "2")
    assert "CSMS set-up: charge points: created 3 (SIM-00001, SIM-00002, SIM-00003)" in out
    assert "CSMS set-up: id tags: created 6 (SIMTAG0001 ... SIMTAG0006), Accepted" in out
    assert IdTag.objects.count() == 6


def test_the_command_keeps_named_tags_and_leaves_other_csms_alone():
    out = simulate("--url", "ws://127.0.0.1:9/ocpp/", "--id-tag", "MINE")
    assert "id tags: created 1 (MINE)" in out
    assert simulate("--url", "ws://127.0.0.1:9/ocpp/", "--no-setup") == ""
    assert simulate("--url", "ws://192.0.2.1:9/ocpp/", "--charge-points", "2") == ""
    assert ChargePoint.objects.count() == 1
