"""The handshake failure throttle: per address, per id pattern, in-process and over Redis."""

from __future__ import annotations

import asyncio
import time

import pytest

from csms_project import testing
from ocpp_consumer import auth_throttle
from ocpp_consumer.auth_throttle import HandshakeThrottle, address_key

REAL_CHARGER = "192.0.2.10"


@pytest.fixture
def limits(settings):
    settings.REDIS_URL = ""
    settings.OCPP_AUTH_FAILURE_LIMIT = 3
    settings.OCPP_AUTH_FAILURE_ID_LIMIT = 5
    settings.OCPP_AUTH_FAILURE_WINDOW = 300
    return settings


async def fail(throttle, address, charge_point_id="CP-A", times=1):
    for _ in range(times):
        await throttle.failed(address=address, charge_point_id=charge_point_id)


async def test_an_address_is_refused_at_the_limit_for_every_id(limits):
    throttle = HandshakeThrottle()
    await fail(throttle, "198.51.100.1", times=2)
    assert await throttle.refusal(address="198.51.100.1", charge_point_id="CP-A") is None
    await fail(throttle, "198.51.100.1")
    assert await throttle.refusal(address="198.51.100.1", charge_point_id="CP-A")
    assert await throttle.refusal(address="198.51.100.1", charge_point_id="CP-OTHER")


async def test_a_guesser_never_locks_out_the_real_charger(limits):
    throttle = HandshakeThrottle()
    for attacker in range(20):  # far past both limits, from many addresses
        await fail(throttle, f"198.51.100.{attacker}", times=3)
    assert await throttle.refusal(address=REAL_CHARGER, charge_point_id="CP-A") is None


async def test_under_attack_an_id_refuses_addresses_that_failed_but_not_clean_ones(limits):
    throttle = HandshakeThrottle()
    for attacker in range(4):
        await fail(throttle, f"198.51.100.{attacker}")
    # 4 failures for the id: below the id limit, each address may try again.
    assert await throttle.refusal(address="198.51.100.0", charge_point_id="CP-A") is None
    await fail(throttle, "198.51.100.4")
    # 5: the id is under attack. One failure is enough to be refused for it ...
    assert await throttle.refusal(address="198.51.100.0", charge_point_id="CP-A")
    # ... but not for another id, and never for an address with no failure.
    assert await throttle.refusal(address="198.51.100.0", charge_point_id="CP-B") is None
    assert await throttle.refusal(address="198.51.100.99", charge_point_id="CP-A") is None
    assert await throttle.refusal(address=REAL_CHARGER, charge_point_id="CP-A") is None


async def test_ids_count_ignoring_case(limits):
    throttle = HandshakeThrottle()
    for attacker, spelling in enumerate(["CP-A", "cp-a", "Cp-A", "cP-a", "CP-a"]):
        await fail(throttle, f"198.51.100.{attacker}", charge_point_id=spelling)
    assert await throttle.refusal(address="198.51.100.0", charge_point_id="CP-A")


async def test_failures_expire_with_the_window(limits):
    limits.OCPP_AUTH_FAILURE_WINDOW = 1
    throttle = HandshakeThrottle()
    await fail(throttle, "198.51.100.1", times=3)
    assert await throttle.refusal(address="198.51.100.1", charge_point_id="CP-A")
    await asyncio.sleep(1.1)
    assert await throttle.refusal(address="198.51.100.1", charge_point_id="CP-A") is None


def test_an_ipv6_host_counts_as_its_64():
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:bbbb::9")
    assert address_key("2001:db8:1:2::1") != address_key("2001:db8:1:3::1")
    assert address_key("::ffff:192.0.2.1") == address_key("192.0.2.1") == "192.0.2.1"
    assert address_key("") == ""  # no peer address (a Unix socket): one bucket


async def test_one_ipv6_host_rotating_addresses_is_still_one_address(limits):
    throttle = HandshakeThrottle()
    for host in range(3):
        await fail(throttle, f"2001:db8:1:2::{host + 1}")
    assert await throttle.refusal(address="2001:db8:1:2::ffff", charge_point_id="CP-B")


# --- shared over Redis --------------------------------------------------------------


@pytest.fixture
def redis_server(tmp_path, limits):
    with testing.private_redis(tmp_path) as server:
        limits.REDIS_URL = server.url
        yield server


@pytest.mark.e2e
async def test_two_processes_share_the_counts_over_redis(redis_server, limits):
    node_1, node_2 = HandshakeThrottle(), HandshakeThrottle()
    await fail(node_1, "198.51.100.1", times=3)
    assert await node_2.refusal(address="198.51.100.1", charge_point_id="CP-A")
    for attacker in range(2, 4):
        await fail(node_1 if attacker % 2 else node_2, f"198.51.100.{attacker}")
    # 3 + 2 failures for CP-A across both nodes: the id limit (5) is reached.
    assert await node_2.refusal(address="198.51.100.2", charge_point_id="CP-A")
    assert await node_1.refusal(address=REAL_CHARGER, charge_point_id="CP-A") is None


@pytest.mark.e2e
async def test_redis_down_fails_open_to_local_counts_and_recovers(
    redis_server, limits, monkeypatch
):
    monkeypatch.setattr(auth_throttle, "REDIS_RETRY_AFTER", 0.2)
    node_1, node_2 = HandshakeThrottle(), HandshakeThrottle()
    await fail(node_1, "198.51.100.1", times=3)
    redis_server.stop()

    started = time.monotonic()
    # Never raises; this process's own counts still refuse what it saw ...
    assert await node_1.refusal(address="198.51.100.1", charge_point_id="CP-A")
    # ... the other node knows nothing now, and lets the handshake be checked.
    assert await node_2.refusal(address="198.51.100.1", charge_point_id="CP-A") is None
    await fail(node_2, "198.51.100.7")  # recorded locally, no exception
    assert time.monotonic() - started < 3 * auth_throttle.REDIS_TIMEOUT * 2

    # Back after an outage Redis is empty (no persistence here): local counts
    # and new shared failures add up again.
    redis_server.start()
    await asyncio.sleep(0.3)
    await fail(node_1, "198.51.100.8", times=3)
    assert await node_2.refusal(address="198.51.100.8", charge_point_id="CP-A")


async def test_expired_addresses_do_not_pile_up_in_memory(limits, monkeypatch):
    monkeypatch.setattr(auth_throttle, "LOCAL_SWEEP_KEYS", 10)
    limits.OCPP_AUTH_FAILURE_WINDOW = 0.05
    throttle = HandshakeThrottle()
    for attacker in range(6):  # 6 addresses + 1 id: 7 keys
        await fail(throttle, f"198.51.100.{attacker}")
    await asyncio.sleep(0.1)
    for attacker in range(6, 12):  # passing 10 keys sweeps the expired ones
        await fail(throttle, f"198.51.100.{attacker}")
    assert len(throttle.local._failures) <= 7
