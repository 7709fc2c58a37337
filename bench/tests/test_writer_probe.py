"""The writer probe drives the real durable path and counts what each message costs.

Its query counts are exact (no timing): a change that adds a query to
every StartTransaction or StopTransaction shows here, in CI, before any
benchmark.
"""

from argparse import Namespace

import pytest

from bench.writer_probe import measure
from stations.models import MeterValue, Transaction

pytestmark = pytest.mark.django_db(transaction=True)


def test_every_message_is_written_and_counted():
    result = measure(Namespace(charge_points=3, cycles=2, meter_values=2))
    actions = result["actions"]
    assert {action: row["messages"] for action, row in actions.items()} == {
        "StartTransaction": 6,
        "MeterValues": 12,
        "StopTransaction": 6,
    }
    # Warm-up cycle included: 3 cycles of 3 sessions, each with 2 x 3 sampled values.
    assert Transaction.objects.filter(status="ended", energy_wh=300).count() == 9
    assert MeterValue.objects.count() == 9 * 2 * 3
    # What the durable path costs in round trips (docs/BENCHMARKS.md): a start
    # reads the connector, this start or the running session, the id tag, a
    # concurrent session and the tariffs, inserts the session, and its commit
    # hook looks for a remote start; a stop reads the session and its
    # readings, updates it, looks for its TxProfile and records the outbox
    # event; both ask whether any site is load-managed. BEGIN and COMMIT are
    # shared by the batch (2/3 of a query each with 3 charge points).
    assert actions["StartTransaction"]["queries_per_message"] <= 8.7
    assert actions["StopTransaction"]["queries_per_message"] <= 6.7
    assert actions["MeterValues"]["queries_per_message"] <= 2.7
