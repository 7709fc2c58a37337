"""The limit schedule and the time-of-use signal: one kind of table, replaced as a whole."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from loadmanagement import services
from loadmanagement.models import LimitScheduleEntry, TouSignalEntry
from stations.models import Station

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(microsecond=0)


@pytest.fixture
def station():
    return Station.objects.create(name="Depot")


def schedule(station, *spans):
    items = [services.ScheduleItem(NOW + a, NOW + b, 5_000) for a, b in spans]
    return services.limit_schedule_replace(station_id=station.pk, items=items)


def signal(station, *spans):
    items = [services.SignalItem(NOW + a, NOW + b, Decimal("0.25")) for a, b in spans]
    return services.tou_signal_replace(station_id=station.pk, items=items)


H = timedelta(hours=1)


@pytest.mark.parametrize(
    ("replace", "model"), [(schedule, LimitScheduleEntry), (signal, TouSignalEntry)]
)
def test_what_has_passed_is_kept_and_the_rest_replaced(station, replace, model):
    replace(station, (-2 * H, -H), (H, 2 * H))
    replace(station, (2 * H, 3 * H), (3 * H, 4 * H))
    spans = [(e.starts_at - NOW, e.ends_at - NOW) for e in model.objects.all()]
    assert spans == [(-2 * H, -H), (2 * H, 3 * H), (3 * H, 4 * H)]  # ordered by start


@pytest.mark.parametrize(
    ("replace", "model"), [(schedule, LimitScheduleEntry), (signal, TouSignalEntry)]
)
def test_an_entry_ending_before_it_starts_is_named_and_nothing_is_replaced(station, replace, model):
    replace(station, (H, 2 * H))
    with pytest.raises(ValidationError) as raised:
        replace(station, (H, 2 * H), (3 * H, 3 * H))
    assert raised.value.message_dict == {"items[1]": ["Must be after starts_at."]}
    assert model.objects.count() == 1  # the caller's transaction is rolled back


def test_the_model_rule_holds_outside_the_services_too(station):
    entry = TouSignalEntry(starts_at=NOW, ends_at=NOW - H, value=Decimal("1"))
    with pytest.raises(ValidationError) as raised:
        entry.full_clean(exclude=["site"])
    assert "ends_at" in raised.value.message_dict
