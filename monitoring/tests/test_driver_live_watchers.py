"""Who watches the live channel: this process exactly, the cluster through Redis, never blocking."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest

from csms_project import testing
from monitoring.driver_live import watchers
from monitoring.driver_live.consumer import Ledger
from monitoring.driver_live.sessions import power_w
from monitoring.driver_live.watchers import ALL, WatcherRegistry


@pytest.fixture
def in_process_layer(settings):
    settings.REDIS_URL = ""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


def test_without_redis_only_this_process_counts(in_process_layer):
    registry = WatcherRegistry()
    assert not registry.anyone()
    registry.add(7)
    registry.add(7)
    assert registry.anyone()
    assert registry.watched_among({7, 8, ALL}) == {7}
    registry.remove(7)
    assert registry.watched_among({7}) == {7}  # one socket of 7 is still open
    registry.remove(7)
    assert not registry.anyone()
    assert registry._thread is None  # no Redis: no thread either


@pytest.fixture
def shared_redis(tmp_path, settings, monkeypatch):
    monkeypatch.setattr(watchers, "READ_SECONDS", 0.05)
    monkeypatch.setattr(watchers, "RETRY_AFTER_SECONDS", 0.2)
    with testing.private_redis(tmp_path) as server:
        settings.REDIS_URL = server.url
        settings.CHANNEL_LAYERS = {
            "default": {
                "BACKEND": "channels_redis.core.RedisChannelLayer",
                "CONFIG": {"hosts": [server.url], "prefix": f"watchers-{time.monotonic_ns()}"},
            }
        }
        yield server


def eventually(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.fixture
def two_processes(shared_redis):
    """Two registries: two processes, as far as Redis knows."""
    here, elsewhere = WatcherRegistry(), WatcherRegistry()
    yield here, elsewhere
    here.stop()
    elsewhere.stop()


@pytest.mark.e2e
def test_processes_learn_of_each_others_watchers_through_redis(two_processes):
    here, elsewhere = two_processes
    assert not elsewhere.anyone()
    here.add(42)
    assert eventually(elsewhere.anyone)
    assert elsewhere.watched_among({41, 42, ALL}) == {42}
    here.add(ALL)
    assert eventually(lambda: elsewhere.watched_among({ALL}) == {ALL})


@pytest.mark.e2e
def test_a_redis_outage_never_blocks_and_means_nobody_elsewhere(shared_redis, two_processes):
    here, elsewhere = two_processes
    here.add(42)
    assert eventually(elsewhere.anyone)
    shared_redis.stop()
    started = time.monotonic()
    assert eventually(lambda: not elsewhere.anyone())
    assert elsewhere.watched_among({42}) == set()
    assert here.anyone() and here.watched_among({42}) == {42}  # its own sockets still count
    assert time.monotonic() - started < 3
    shared_redis.start()  # an empty Redis: the watcher is published again
    assert eventually(elsewhere.anyone)
    assert elsewhere.watched_among({42}) == {42}


@pytest.mark.e2e
def test_watchers_lost_without_an_error_are_published_again(shared_redis, two_processes):
    """A restart between two rounds (or a flush) shows no error: the set's emptiness tells."""
    from redis import Redis

    here, elsewhere = two_processes
    here.add(42)
    assert eventually(elsewhere.anyone)
    Redis.from_url(shared_redis.url).flushall()
    # Well before the periodic republication (PUBLISH_SECONDS, 20 s).
    assert eventually(lambda: elsewhere.watched_among({42}) == {42}, timeout=3)


# --- the figures and the ledger --------------------------------------------------------------

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def session(**readings) -> SimpleNamespace:
    fields = dict(
        live_power_value=None,
        live_power_unit=None,
        live_power_at=None,
        live_register_value=None,
        live_register_unit=None,
        live_register_at=None,
        previous_register_value=None,
        previous_register_unit=None,
        previous_register_at=None,
    )
    fields.update(readings)
    return SimpleNamespace(**fields)


def test_power_is_the_latest_reading_unless_older_than_the_energy():
    latest = dict(
        live_register_value=Decimal("12.5"), live_register_unit="kWh", live_register_at=T0
    )
    assert power_w(session()) is None
    measured = session(
        live_power_value=Decimal("7.4"), live_power_unit="kW", live_power_at=T0, **latest
    )
    assert power_w(measured) == 7_400
    stale = session(
        live_power_value=Decimal("7400"),
        live_power_unit="W",
        live_power_at=T0 - timedelta(minutes=5),
        previous_register_value=Decimal("10000"),
        previous_register_unit="Wh",
        previous_register_at=T0 - timedelta(minutes=15),
        **latest,
    )
    assert power_w(stale) == 10_000  # 2.5 kWh in 15 minutes
    assert power_w(session(**latest)) is None  # one reading: no rate yet
    reset = session(
        previous_register_value=Decimal("20"),
        previous_register_unit="kWh",
        previous_register_at=T0 - timedelta(minutes=1),
        **latest,
    )
    assert power_w(reset) is None  # the meter went backwards (a reset): unknown


def test_the_ledger_never_repeats_and_nothing_follows_the_stop():
    ledger = Ledger()
    started = {"type": "session.started", "transaction": 1}
    update = {
        "type": "session.updated",
        "transaction": 1,
        "energy_wh": 10,
        "power_w": 5,
        "cost_so_far": "0.01",
    }
    assert ledger.admit(started) and not ledger.admit(started)
    assert ledger.admit(update) and not ledger.admit(dict(update))
    assert ledger.admit({**update, "energy_wh": 20})
    stopped = {"type": "session.stopped", "transaction": 1}
    assert ledger.admit(stopped) and not ledger.admit(stopped)
    assert not ledger.admit({**update, "energy_wh": 30})
    assert not ledger.admit(started)
    invoice = {"type": "invoice.issued", "transaction": 1, "invoice": 9}
    assert ledger.admit(invoice) and not ledger.admit(invoice)
