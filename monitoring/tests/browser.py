"""Helpers of the browser tests: headless Chromium, a simulated charge point in a thread."""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
import time
from pathlib import Path

import websockets
from ocpp.routing import on
from ocpp.v16 import ChargePoint as OcppClient
from ocpp.v16 import call, call_result
from ocpp.v16.enums import Action, ResetStatus

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
