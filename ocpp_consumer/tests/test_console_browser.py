"""Typed commands and quick actions in headless Chromium against a real Daphne.

An operator unlocks a faulted connector from the charge point page (two
clicks from the charge point list), then remote-starts with an id tag
picked from the suggestions, and reads the outcomes in the history.
Skipped only when Debian's chromium / chromium-driver are not installed.
Screenshots land in var/test-artifacts/screenshots/.
"""

from __future__ import annotations

import asyncio

import pytest
import websockets
from django.contrib.auth.hashers import make_password
from ocpp.routing import on
from ocpp.v16 import call, call_result
from ocpp.v16.enums import (
    Action,
    ChargePointErrorCode,
    ChargePointStatus,
    RemoteStartStopStatus,
    UnlockStatus,
)

from csms_project import testing
from drivers.models import IdTag
from monitoring.tests.browser import (
    ChargerThread,
    SimulatedChargePoint,
    chromium_paths,
    save_screenshot,
    start_chromium,
    wait_for,
)
from ocpp_consumer.models import Command
from stations.models import ChargePoint

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        chromium_paths() is None, reason="chromium and chromium-driver not installed"
    ),
]

PASSWORD = "console-commands-pw-1"


class CommandedCharger(SimulatedChargePoint):
    """Fails to unlock (a stuck cable) and accepts remote starts; remembers both."""

    unlocks: list
    starts: list

    @on(Action.unlock_connector)
    def on_unlock(self, connector_id, **kwargs):
        self.unlocks.append(connector_id)
        return call_result.UnlockConnector(status=UnlockStatus.unlock_failed)

    @on(Action.remote_start_transaction)
    def on_remote_start(self, id_tag, **kwargs):
        self.starts.append({"id_tag": id_tag, **kwargs})
        return call_result.RemoteStartTransaction(status=RemoteStartStopStatus.accepted)


class CommandedChargerThread(ChargerThread):
    def connect(self) -> None:
        async def connect():
            self.ws = await websockets.connect(self.url, subprotocols=["ocpp1.6"])
            self.client = CommandedCharger(self.charge_point_id, self.ws, response_timeout=15)
            self.client.resets, self.client.unlocks, self.client.starts = [], [], []
            self.listener = asyncio.get_running_loop().create_task(self.client.start())
            await self.client.call(
                call.BootNotification(charge_point_vendor="ACME", charge_point_model="Wallbox 22")
            )

        self.run(connect())


@pytest.fixture
def server(tmp_path):
    env = testing.process_env(CHANNEL_LAYER_PREFIX=f"cmd-{tmp_path.name}"[:40])
    with testing.daphne_node(env, tmp_path) as base_url:
        yield base_url


@pytest.fixture
def operator(server, tmp_path_factory, django_user_model):
    pytest.importorskip("selenium")
    django_user_model.objects.create(
        username="operator",
        password=make_password(PASSWORD, hasher="pbkdf2_sha256"),
        is_staff=True,
        is_superuser=True,
    )
    browser = start_chromium(tmp_path_factory.mktemp("chromium-profile"))
    browser.set_page_load_timeout(30)
    browser.get(server + "/admin/login/?next=/admin/")
    browser.find_element("id", "id_username").send_keys("operator")
    browser.find_element("id", "id_password").send_keys(PASSWORD)
    browser.find_element("css selector", "input[type=submit]").click()
    wait_for(lambda: "/admin/login/" not in browser.current_url)
    yield browser
    browser.quit()


@pytest.fixture
def charger(server):
    charger = CommandedChargerThread(server, "CP-UI")
    charger.connect()
    yield charger
    charger.close()


def test_unlock_a_fault_then_remote_start_with_a_suggested_tag(operator, server, charger):
    IdTag.objects.create(id_tag="CARD-UI-1", note="fleet car 1")
    charger.call(
        call.StatusNotification(
            connector_id=1,
            error_code=ChargePointErrorCode.connector_lock_failure,
            status=ChargePointStatus.faulted,
        )
    )
    charger.call(
        call.StatusNotification(
            connector_id=2,
            error_code=ChargePointErrorCode.no_error,
            status=ChargePointStatus.available,
        )
    )
    charge_point = ChargePoint.objects.get(charge_point_id="CP-UI")
    page = f"{server}/admin/stations/chargepoint/{charge_point.pk}/change/"

    # Quick action: Unlock next to the faulted connector.
    operator.get(page)
    unlock = operator.find_element("css selector", '#quick-actions button[value="unlock"]')
    save_screenshot(operator.get_screenshot_as_png(), "console-quick-actions.png")
    unlock.click()
    message = wait_for(
        lambda: operator.find_elements("css selector", ".messagelist li.warning"), timeout=20
    )[0]
    assert message.text == 'CP-UI, connector 1: UnlockConnector: {"status": "UnlockFailed"}'
    assert charger.client.unlocks == [1]
    assert operator.current_url == page

    # Typed form: RemoteStartTransaction with a tag picked from the suggestions.
    operator.get(f"{page.removesuffix('change/')}command/?action=RemoteStartTransaction")
    tag = operator.find_element("id", "typed_idTag")
    tag.send_keys("card-ui")
    wait_for(
        lambda: (
            operator.execute_script(
                "return [...document.getElementById('console-idtag-options').options]"
                ".map(o => o.value)"
            )
            == ["CARD-UI-1"]
        )
    )
    tag.clear()
    tag.send_keys("CARD-UI-1")
    save_screenshot(operator.get_screenshot_as_png(), "console-typed-command.png")
    operator.find_element("css selector", "#send-command-typed input[type=submit]").click()
    message = wait_for(
        lambda: operator.find_elements("css selector", ".messagelist li.success"), timeout=20
    )[0]
    assert message.text == 'CP-UI: RemoteStartTransaction: {"status": "Accepted"}'
    assert charger.client.starts == [{"id_tag": "CARD-UI-1", "connector_id": 1}]

    # The history: each outcome as a badge.
    operator.get(f"{server}/admin/ocpp_consumer/command/")
    badges = [
        (b.get_attribute("data-verdict"), b.text)
        for b in operator.find_elements("css selector", "#result_list .badge")
    ]
    assert badges == [("accepted", "Accepted"), ("rejected", "UnlockFailed")]
    save_screenshot(operator.get_screenshot_as_png(), "console-command-outcomes.png")
    assert Command.objects.count() == 2
