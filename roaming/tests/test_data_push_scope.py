"""A data push run builds only the locations that may differ from a partner's copy.

Building every location each run cost about 3 s per 1,000 stations
(roaming.data_push_scope decides what a run compares).
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from roaming import data_push
from roaming.data_push import data_changes_push
from roaming.data_push_scope import partner_marks_clear
from stations.models import ChargePoint, Connector, Station

from . import test_data_push
from .test_data_push import LOCATIONS, a_station, pushes_since, register

pytestmark = pytest.mark.django_db(transaction=True)

peer = test_data_push.peer
operator = test_data_push.operator

STATIONS = 200


@pytest.fixture
def built(monkeypatch):
    """The ids of the locations a run builds (the real builder, watched)."""
    ids = []
    build = data_push.location_object

    def watched(station, **kwargs):
        ids.append(str(station.pk))
        return build(station, **kwargs)

    monkeypatch.setattr(data_push, "location_object", watched)
    partner_marks_clear()
    yield ids
    partner_marks_clear()


def test_with_one_station_changed_a_run_builds_one_location(peer, operator, built):
    stations = [a_station(f"S{n}", charge_point_id=f"CP-{n}") for n in range(STATIONS)]
    yesterday = timezone.now() - timedelta(days=1)
    for model in (Station, ChargePoint, Connector):
        model.objects.update(updated_at=yesterday)
    party = register(peer, operator)
    pulled, _ = peer.get_all(peer.cpo_endpoints[("locations", "SENDER")])
    assert len(pulled) == STATIONS  # the partner's first sync, by GET
    peer.get_all(peer.cpo_endpoints[("tariffs", "SENDER")])
    data_changes_push()  # the first run of this worker compares every location once
    assert len(built) == STATIONS
    assert peer.pushes == []

    changed = stations[17]
    changed.name = "Station by the lake"
    changed.save()
    built.clear()
    data_changes_push()
    assert built == [str(changed.pk)]
    assert pushes_since(peer, 0) == [("PUT", f"{LOCATIONS}/{changed.pk}")]

    # A charge point deleted leaves no row that changed: the partner's copy tells.
    emptied = stations[42]
    ChargePoint.objects.filter(station=emptied).delete()
    built.clear()
    assert data_changes_push()[party.pk]["PUT"] >= 1
    # The station saved a moment ago is compared again while within the margin (late commits).
    assert sorted(built) == sorted([str(changed.pk), str(emptied.pk)])
    base = f"{LOCATIONS}/{emptied.pk}"
    assert all(path == base or path.startswith(f"{base}/") for _, path in pushes_since(peer, 1))
    location = peer.locations[f"NL/CSM/{emptied.pk}"]
    assert [evse["status"] for evse in location["evses"]] == ["REMOVED"]

    built.clear()
    mark = len(peer.pushes)
    data_changes_push()
    assert built == [str(changed.pk)]
    assert peer.pushes[mark:] == []
