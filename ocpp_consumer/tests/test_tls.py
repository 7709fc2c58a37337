"""Security profile 2 over real TLS: Daphne's SSL endpoint, a certificate made here."""

import asyncio
import base64
import ssl

import pytest
import trustme
import websockets

from csms_project import testing
from stations.models import ChargePoint

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

KEY = "0123456789abcdef0123456789abcdef01234567"


def auth(password: str) -> dict:
    token = base64.b64encode(f"TLS-1:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


async def handshake_status(url: str, *, password: str, context=None) -> int:
    try:
        async with websockets.connect(
            url, subprotocols=["ocpp1.6"], additional_headers=auth(password), ssl=context
        ) as ws:
            return 101 if ws.subprotocol == "ocpp1.6" else 0
    except websockets.exceptions.InvalidStatus as exc:
        return exc.response.status_code


def test_profile_2_over_tls_and_refused_over_plain(tmp_path):
    ca = trustme.CA()
    server_cert = ca.issue_cert("localhost", "127.0.0.1")
    cert_file, key_file = tmp_path / "server.pem", tmp_path / "server.key"
    server_cert.cert_chain_pems[0].write_to_path(str(cert_file))
    server_cert.private_key_pem.write_to_path(str(key_file))
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)

    charge_point = ChargePoint(charge_point_id="TLS-1", security_profile=2)
    charge_point.set_password(KEY)
    charge_point.save()

    tls_port = testing.free_port()
    endpoint = f"ssl:{tls_port}:interface=127.0.0.1:privateKey={key_file}:certKey={cert_file}"
    with testing.daphne_node(testing.process_env(), tmp_path, ("-e", endpoint)) as base_url:
        plain_url = base_url.replace("http://", "ws://") + "/ocpp/TLS-1"
        tls_url = f"wss://localhost:{tls_port}/ocpp/TLS-1"

        async def attempts():
            return [
                await handshake_status(tls_url, password=KEY, context=client_context),
                await handshake_status(tls_url, password="wrong-wrong-1", context=client_context),
                await handshake_status(plain_url, password=KEY),
            ]

        statuses = asyncio.run(asyncio.wait_for(attempts(), 30))
    assert statuses == [101, 401, 401]
