"""Helpers of the browser tests: headless Chromium, a simulated charge point in a thread."""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import websockets
from ocpp.routing import after, on
from ocpp.v16 import ChargePoint as OcppClient
from ocpp.v16 import call, call_result
from ocpp.v16.enums import (
    Action,
    AvailabilityStatus,
    AvailabilityType,
    ChargePointErrorCode,
    ChargePointStatus,
    Reason,
    RemoteStartStopStatus,
    ResetStatus,
    UnlockStatus,
)

from csms_project.testing import BASE_DIR

ARTIFACTS = BASE_DIR / "var" / "test-artifacts" / "screenshots"
COMMITTED = BASE_DIR / "docs" / "screenshots"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--lang=en-US",
    "--window-size=1440,1100",
)


def chromium_paths() -> tuple[str, str] | None:
    """(browser, driver) of Debian's chromium + chromium-driver, or None."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


def start_chromium(user_data_dir: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, driver = chromium_paths()
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={user_data_dir}")  # a fresh profile
    return webdriver.Chrome(service=Service(executable_path=driver), options=options)


def save_screenshot(png: bytes, name: str) -> Path:
    """Keep a screenshot as a test artifact; UPDATE_SCREENSHOTS=1 also refreshes docs/."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    path.write_bytes(png)
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        COMMITTED.mkdir(parents=True, exist_ok=True)
        (COMMITTED / name).write_bytes(png)
    return path


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout} s")
        time.sleep(interval)


class SimulatedChargePoint(OcppClient):
    """Answers Reset with Accepted and remembers the request."""

    resets: list

    @on(Action.reset)
    def on_reset(self, type, **kwargs):  # noqa: A002 - the OCPP field is named "type"
        self.resets.append(type)
        return call_result.Reset(status=ResetStatus.accepted)


class ChargerThread:
    """A charge point client (the `ocpp` package over `websockets`) on its own event loop.

    Selenium blocks; the charge point must keep answering meanwhile.
    """

    def __init__(self, base_url: str, charge_point_id: str):
        self.url = f"{base_url.replace('http', 'ws')}/ocpp/{charge_point_id}"
        self.charge_point_id = charge_point_id
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.client: SimulatedChargePoint | None = None

    def run(self, coroutine, timeout: float = 30.0):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def connect(self) -> None:
        async def connect():
            self.ws = await websockets.connect(self.url, subprotocols=["ocpp1.6"])
            self.client = SimulatedChargePoint(self.charge_point_id, self.ws, response_timeout=15)
            self.client.resets = []
            self.listener = asyncio.get_running_loop().create_task(self.client.start())
            await self.client.call(
                call.BootNotification(charge_point_vendor="ACME", charge_point_model="Wallbox 22")
            )

        self.run(connect())

    def call(self, payload):
        return self.run(self.client.call(payload))

    def close(self) -> None:
        async def close():
            self.listener.cancel()
            await self.ws.close()

        try:
            self.run(close(), timeout=10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=10)


# --- A charge point that acts on commands, as a real one does -------------------------


def ocpp_now(delta: timedelta = timedelta(0)) -> str:
    """An OCPP timestamp (UTC, "Z"), `delta` from now."""
    moment = datetime.now(UTC).replace(microsecond=0) + delta
    return moment.isoformat().replace("+00:00", "Z")


class StationSimulator(SimulatedChargePoint):
    """An OCPP 1.6 charge point that answers and then does what it was asked.

    UnlockConnector releases the cable (a session on it stops, a lock fault
    clears), RemoteStartTransaction starts a session with the given idTag
    (StartTransaction, Charging), RemoteStopTransaction stops it
    (StopTransaction, Finishing), ChangeAvailability takes connectors out of
    or back into service (Scheduled while a session runs), Reset stops the
    sessions and boots again. Every request from the CSMS is kept in
    `received` as (action, payload); what follows an answer runs as its own
    task (the `ocpp` package runs `@after` coroutines so), errors in `errors`.
    """

    def prepare(self, connectors: int) -> None:
        self.resets = []
        self.received: list[tuple[str, dict]] = []
        self.errors: list[BaseException] = []
        self.statuses = {n: ChargePointStatus.available for n in range(1, connectors + 1)}
        self.meters = {n: 1_000_000 * n for n in self.statuses}  # energy registers (Wh)
        self.sessions: dict[int, int] = {}  # connector -> transactionId
        self.follow_ups: set[asyncio.Task] = set()

    def received_of(self, action: str) -> list[dict]:
        return [payload for name, payload in self.received if name == action]

    def _follow_up(self, coroutine) -> None:
        async def guarded():
            try:
                await coroutine
            except Exception as exc:  # kept for the test to see, not lost in a task
                self.errors.append(exc)

        task = asyncio.get_running_loop().create_task(guarded())
        self.follow_ups.add(task)
        task.add_done_callback(self.follow_ups.discard)

    # --- what the charge point sends ---------------------------------------------------

    async def report(self, connector_id, status, error=ChargePointErrorCode.no_error, info=None):
        if connector_id in self.statuses:
            self.statuses[connector_id] = status
        await self.call(
            call.StatusNotification(
                connector_id=connector_id,
                error_code=error,
                status=status,
                info=info,
                timestamp=ocpp_now(),
            )
        )

    async def start_session(self, connector_id: int, id_tag: str, started_ago=timedelta(0)) -> int:
        await self.report(connector_id, ChargePointStatus.preparing)
        answer = await self.call(
            call.StartTransaction(
                connector_id=connector_id,
                id_tag=id_tag,
                meter_start=self.meters[connector_id],
                timestamp=ocpp_now(-started_ago),
            )
        )
        self.sessions[connector_id] = answer.transaction_id
        await self.report(connector_id, ChargePointStatus.charging)
        return answer.transaction_id

    async def deliver(self, connector_id: int, energy_wh: int, power_w: int) -> None:
        """The meter advances by `energy_wh`; one MeterValues sample reports it."""
        self.meters[connector_id] += energy_wh
        await self.call(
            call.MeterValues(
                connector_id=connector_id,
                transaction_id=self.sessions.get(connector_id),
                meter_value=[
                    {
                        "timestamp": ocpp_now(),
                        "sampled_value": [
                            {
                                "value": str(self.meters[connector_id]),
                                "measurand": "Energy.Active.Import.Register",
                                "unit": "Wh",
                            },
                            {
                                "value": str(power_w),
                                "measurand": "Power.Active.Import",
                                "unit": "W",
                            },
                        ],
                    }
                ],
            )
        )

    async def stop_session(self, connector_id: int, reason=Reason.local) -> None:
        transaction_id = self.sessions.pop(connector_id)
        await self.call(
            call.StopTransaction(
                meter_stop=self.meters[connector_id],
                timestamp=ocpp_now(),
                transaction_id=transaction_id,
                reason=reason,
            )
        )
        await self.report(connector_id, ChargePointStatus.finishing)

    # --- what the CSMS asks --------------------------------------------------------------

    @on(Action.unlock_connector)
    def on_unlock(self, connector_id, **kwargs):
        self.received.append(("UnlockConnector", {"connector_id": connector_id}))
        if connector_id not in self.statuses:
            return call_result.UnlockConnector(status=UnlockStatus.not_supported)
        return call_result.UnlockConnector(status=UnlockStatus.unlocked)

    @after(Action.unlock_connector)
    def after_unlock(self, connector_id, **kwargs):
        if connector_id in self.statuses:
            self._follow_up(self._unlocked(connector_id))

    async def _unlocked(self, connector_id: int) -> None:
        if connector_id in self.sessions:  # 1.6: an unlock ends the session on it
            await self.stop_session(connector_id, Reason.unlock_command)
        # The cable is out: the connector is free again (a lock fault clears with it).
        await self.report(connector_id, ChargePointStatus.available)

    @on(Action.remote_start_transaction)
    def on_remote_start(self, id_tag, connector_id=None, **kwargs):
        self.received.append(
            ("RemoteStartTransaction", {"id_tag": id_tag, "connector_id": connector_id, **kwargs})
        )
        chosen = self._free_connector(connector_id)
        status = (
            RemoteStartStopStatus.rejected if chosen is None else RemoteStartStopStatus.accepted
        )
        return call_result.RemoteStartTransaction(status=status)

    @after(Action.remote_start_transaction)
    def after_remote_start(self, id_tag, connector_id=None, **kwargs):
        chosen = self._free_connector(connector_id)
        if chosen is not None:
            self._follow_up(self.start_session(chosen, id_tag))

    def _free_connector(self, connector_id: int | None) -> int | None:
        free = (ChargePointStatus.available, ChargePointStatus.preparing)
        wanted = [connector_id] if connector_id else sorted(self.statuses)
        for number in wanted:
            if self.statuses.get(number) in free and number not in self.sessions:
                return number
        return None

    @on(Action.remote_stop_transaction)
    def on_remote_stop(self, transaction_id, **kwargs):
        self.received.append(("RemoteStopTransaction", {"transaction_id": transaction_id}))
        known = transaction_id in self.sessions.values()
        status = RemoteStartStopStatus.accepted if known else RemoteStartStopStatus.rejected
        return call_result.RemoteStopTransaction(status=status)

    @after(Action.remote_stop_transaction)
    def after_remote_stop(self, transaction_id, **kwargs):
        for connector_id, running in list(self.sessions.items()):
            if running == transaction_id:
                self._follow_up(self.stop_session(connector_id, Reason.remote))

    @on(Action.change_availability)
    def on_change_availability(self, connector_id, type, **kwargs):  # noqa: A002 - OCPP's name
        self.received.append(("ChangeAvailability", {"connector_id": connector_id, "type": type}))
        affected = self._affected(connector_id)
        if affected is None:
            return call_result.ChangeAvailability(status=AvailabilityStatus.rejected)
        if type == AvailabilityType.inoperative and any(n in self.sessions for n in affected):
            # A session runs: it goes out of service once the session ends.
            return call_result.ChangeAvailability(status=AvailabilityStatus.scheduled)
        return call_result.ChangeAvailability(status=AvailabilityStatus.accepted)

    @after(Action.change_availability)
    def after_change_availability(self, connector_id, type, **kwargs):  # noqa: A002
        status = {
            AvailabilityType.inoperative: ChargePointStatus.unavailable,
            AvailabilityType.operative: ChargePointStatus.available,
        }[type]
        for number in self._affected(connector_id) or ():
            if number not in self.sessions:
                self._follow_up(self.report(number, status))

    def _affected(self, connector_id: int) -> list[int] | None:
        if connector_id == 0:
            return sorted(self.statuses)
        return [connector_id] if connector_id in self.statuses else None

    @on(Action.reset)
    def on_reset(self, type, **kwargs):  # noqa: A002 - the OCPP field is named "type"
        self.resets.append(type)
        self.received.append(("Reset", {"type": type}))
        return call_result.Reset(status=ResetStatus.accepted)

    @after(Action.reset)
    def after_reset(self, type, **kwargs):  # noqa: A002
        self._follow_up(self._reboot(Reason.soft_reset if type == "Soft" else Reason.hard_reset))

    async def _reboot(self, reason) -> None:
        for connector_id in list(self.sessions):
            await self.stop_session(connector_id, reason)
        await self.call(
            call.BootNotification(charge_point_vendor="ACME", charge_point_model="Wallbox 22")
        )
        for connector_id in sorted(self.statuses):
            await self.report(connector_id, ChargePointStatus.available)


class StationThread(ChargerThread):
    """A StationSimulator on its own event loop; reports its connectors after booting."""

    def __init__(self, base_url: str, charge_point_id: str, connectors: int = 2):
        super().__init__(base_url, charge_point_id)
        self.connectors = connectors

    def connect(self, statuses: dict | None = None) -> None:
        async def connect():
            self.ws = await websockets.connect(self.url, subprotocols=["ocpp1.6"])
            self.client = StationSimulator(self.charge_point_id, self.ws, response_timeout=15)
            self.client.prepare(self.connectors)
            self.listener = asyncio.get_running_loop().create_task(self.client.start())
            await self.client.call(
                call.BootNotification(charge_point_vendor="ACME", charge_point_model="Wallbox 22")
            )
            for number in sorted(self.client.statuses):
                await self.client.report(number, (statuses or {}).get(number, "Available"))

        self.run(connect())

    def status(self, connector_id: int, status, error=ChargePointErrorCode.no_error, info=None):
        self.run(self.client.report(connector_id, status, error, info))

    def start_session(self, connector_id: int, id_tag: str, started_ago=timedelta(0)) -> int:
        return self.run(self.client.start_session(connector_id, id_tag, started_ago))

    def deliver(self, connector_id: int, energy_wh: int, power_w: int) -> None:
        self.run(self.client.deliver(connector_id, energy_wh, power_w))

    def stop_session(self, connector_id: int) -> None:
        self.run(self.client.stop_session(connector_id))

    def settle(self, timeout: float = 15.0) -> None:
        """Wait until what the charge point does after its answers is done."""

        async def settled():
            while self.client.follow_ups:
                await asyncio.gather(*list(self.client.follow_ups), return_exceptions=True)

        self.run(settled(), timeout)
        if self.client.errors:
            raise AssertionError(f"the simulated charge point failed: {self.client.errors!r}")


def log_in(browser, base_url: str, username: str, password: str) -> None:
    """Sign in to the console as `username` (a fresh session)."""
    browser.delete_all_cookies()
    browser.get(f"{base_url}/admin/login/?next=/admin/")
    browser.find_element("id", "id_username").send_keys(username)
    browser.find_element("id", "id_password").send_keys(password)
    browser.find_element("css selector", "input[type=submit]").click()
    wait_for(lambda: "/admin/login/" not in browser.current_url)


def phone_viewport(browser, width: int = 390, height: int = 844) -> None:
    """Show pages as a phone does: a mobile viewport of `width` CSS pixels, 2 device pixels each."""
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 2, "mobile": True},
    )


def desktop_viewport(browser) -> None:
    browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def screenshot_down_to(browser, css: str, margin: int = 16) -> bytes:
    """A PNG of the page from its top down to the bottom of the element `css` selects.

    Taller than the window when need be (the page is laid out beyond the
    viewport for the picture), so that a picture shows a whole section.
    """
    bottom = browser.execute_script(
        "const box = document.querySelector(arguments[0]).getBoundingClientRect();"
        "return Math.ceil(box.bottom + window.scrollY);",
        css,
    )
    width = browser.execute_script("return document.documentElement.clientWidth")
    shot = browser.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": width, "height": bottom + margin, "scale": 1},
        },
    )
    return base64.b64decode(shot["data"])
