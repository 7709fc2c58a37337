"""A whole charging network, generated: the data set for measuring the console and the API at scale.

`manage.py generate_network` (the entry point) fills an empty database with
stations, charge points, connectors, drivers and id tags, tariffs, ended
sessions with meter values and invoices, running sessions, status
notifications, commands and a message journal spread over the retention
period. Rows are streamed with COPY on PostgreSQL (executemany on SQLite,
for small smoke-test sizes), never saved one by one through the ORM, so that
10,000 charge points, 1,000,000 sessions and 100,000,000 journal rows take
minutes rather than days. The same seed gives the same network.

It lives in ocpp_consumer because it writes every layer's tables, the
protocol's own (journal, commands) included, and only an adapter may import
them all (docs/ARCHITECTURE.md).
"""

from .generate import network_generate
from .spec import NetworkSpec

__all__ = ["NetworkSpec", "network_generate"]
