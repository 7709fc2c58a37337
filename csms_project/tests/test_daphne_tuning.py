"""A plain `daphne csms_project.asgi:application` listens ready for a reconnect storm."""

import subprocess

import pytest

from csms_project import daphne_tuning, testing


def test_endpoints_get_a_backlog_unless_they_have_one():
    assert daphne_tuning.with_backlog("tcp:port=8000:interface=0.0.0.0", 1024) == (
        "tcp:port=8000:interface=0.0.0.0:backlog=1024"
    )
    assert daphne_tuning.with_backlog("tcp:8000:backlog=64", 1024) == "tcp:8000:backlog=64"
    assert daphne_tuning.with_backlog("unix:/run/csms.sock", 1024) == "unix:/run/csms.sock"


def test_short_handshake_timeouts_are_raised():
    from daphne.server import Server

    daphne_tuning.install()
    server = Server(
        application=None,
        endpoints=["tcp:port=0:interface=127.0.0.1"],
        websocket_connect_timeout=5,
        websocket_handshake_timeout=5,
    )
    assert server.websocket_connect_timeout == daphne_tuning.CONNECT_TIMEOUT
    assert server.websocket_handshake_timeout == daphne_tuning.CONNECT_TIMEOUT
    assert server.endpoints == [
        f"tcp:port=0:interface=127.0.0.1:backlog={daphne_tuning.LISTEN_BACKLOG}"
    ]


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_plain_daphne_listens_with_the_large_backlog(tmp_path):
    with testing.daphne_node(testing.process_env(), tmp_path) as base_url:
        port = base_url.rsplit(":", 1)[1]
        listening = subprocess.run(
            ["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True, check=True
        ).stdout.split()
    # ss shows the listen backlog as Send-Q (the kernel caps it at somaxconn).
    assert int(listening[2]) == min(daphne_tuning.LISTEN_BACKLOG, _somaxconn())


def _somaxconn() -> int:
    with open("/proc/sys/net/core/somaxconn") as f:
        return int(f.read())
