"""The memory probe's pure parts: who owns an allocation, and the summary."""

from __future__ import annotations

import sysconfig

from bench import memory_probe
from bench.servers import PROJECT

SITE = sysconfig.get_paths()["purelib"]
STDLIB = sysconfig.get_paths()["stdlib"]


def test_an_allocation_belongs_to_its_library_or_the_project():
    assert memory_probe.owner_of(f"{SITE}/channels_redis/core.py") == "channels-redis"
    assert memory_probe.owner_of(f"{SITE}/channels/utils.py") == "channels"
    assert memory_probe.owner_of(f"{SITE}/daphne/server.py") == "daphne"
    assert memory_probe.owner_of(f"{SITE}/twisted/web/http.py") == "twisted"
    assert memory_probe.owner_of(f"{PROJECT}/ocpp_consumer/consumer.py") == "project"
    assert memory_probe.owner_of(f"{STDLIB}/asyncio/queues.py") is None  # its caller decides


def test_the_summary_is_per_connection():
    before = {"rss_kib": 1000, "types": {"list": 10, "Task": 1}}
    after = {"rss_kib": 3000, "types": {"list": 410, "Task": 101, "dict": 50}}
    result = {"config": "pg", "env": {}, "connected": 100, "before": before, "after": after}
    summary = memory_probe.summarise(result)
    assert summary["rss_kib_per_connection"] == 20.0
    assert summary["objects_per_connection"] == {"list": 4.0, "Task": 1.0, "dict": 0.5}
    assert "traced_by_owner" not in summary  # --no-trace
