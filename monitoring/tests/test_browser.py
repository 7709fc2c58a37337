"""The console in headless Chromium against a real Daphne (issue 7's acceptance).

Skipped only when Debian's chromium / chromium-driver are not installed.
Screenshots land in var/test-artifacts/screenshots/ (UPDATE_SCREENSHOTS=1
also refreshes docs/screenshots/).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.hashers import make_password
from django.utils import timezone
from ocpp.v16 import call
from ocpp.v16.enums import ChargePointErrorCode, ChargePointStatus
from selenium.webdriver.support.ui import Select

from stations.models import ChargePoint, Connector, Station, Transaction

from .browser import (
    ChargerThread,
    chromium_paths,
    save_screenshot,
    wait_for,
)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        chromium_paths() is None, reason="chromium and chromium-driver not installed"
    ),
]

PASSWORD = "browser-test-pw-1"
# What an operator accepts as "at once"; the issue asks for within a second.
LIVE_UPDATE_SECONDS = 1.0


@pytest.fixture
def operator(browser, server, django_user_model):
    """An operator logged in to the console."""
    # Hashed as the server verifies it (the tests' own hasher may be a cheap one).
    django_user_model.objects.create(
        username="operator",
        password=make_password(PASSWORD, hasher="pbkdf2_sha256"),
        is_staff=True,
        is_superuser=True,
    )
    browser.delete_all_cookies()
    browser.get(server + "/admin/login/?next=/admin/")
    browser.find_element("id", "id_username").send_keys("operator")
    browser.find_element("id", "id_password").send_keys(PASSWORD)
    browser.find_element("css selector", "input[type=submit]").click()
    wait_for(lambda: "/admin/login/" not in browser.current_url)
    return browser


@pytest.fixture
def charger(server):
    chargers = []

    def connect(charge_point_id):
        charger = ChargerThread(server, charge_point_id)
        chargers.append(charger)
        charger.connect()
        return charger

    yield connect
    for charger in chargers:
        charger.close()


def status(connector_id, value, error=ChargePointErrorCode.no_error):
    return call.StatusNotification(connector_id=connector_id, error_code=error, status=value)


def badge(browser, charge_point_id):
    """The data-status of connector 1 on the card of this charge point, if shown."""
    return browser.execute_script(
        """
        const link = [...document.querySelectorAll('#grid .cp-name')]
          .find(a => a.textContent === arguments[0]);
        const badge = link && link.closest('[data-cp]').querySelector('[data-connector="1"]');
        return badge ? badge.dataset.status : null;
        """,
        charge_point_id,
    )


def populate_network():
    """A few other charge points, so that the dashboard looks like a network."""
    site = Station.objects.create(name="Depot North", city="Bangkok", country="TH")
    now = timezone.now()
    rows = [
        ("BKK-01", True, ["Charging", "Available"]),
        ("BKK-02", True, ["Available", "Preparing"]),
        ("BKK-03", True, ["SuspendedEV", "Finishing"]),
        ("BKK-04", False, ["Unavailable"]),
        ("BKK-05", True, ["Faulted", "Available"]),
    ]
    for charge_point_id, online, statuses in rows:
        cp = ChargePoint.objects.create(
            charge_point_id=charge_point_id, station=site, is_online=online, last_heartbeat=now
        )
        for number, value in enumerate(statuses, start=1):
            Connector.objects.create(
                charge_point=cp,
                connector_id=number,
                status=value,
                error_code="GroundFailure" if value == "Faulted" else "NoError",
                info="RCD tripped" if value == "Faulted" else "",
                status_timestamp=now,
            )


def test_dashboard_shows_a_connector_start_charging_without_reloading(operator, server, charger):
    populate_network()
    operator.get(server + "/admin/dashboard/")
    wait_for(
        lambda: operator.find_element("id", "live-state").get_attribute("data-state") == "live"
    )
    operator.execute_script("window.notReloaded = true;")

    cp = charger("CP-BROWSER")  # appears on the grid live, then reports its connector
    cp.call(status(1, ChargePointStatus.available))
    wait_for(lambda: badge(operator, "CP-BROWSER") == "Available")

    started = time.monotonic()
    cp.call(status(1, ChargePointStatus.charging))
    wait_for(lambda: badge(operator, "CP-BROWSER") == "Charging", timeout=5, interval=0.02)
    elapsed = time.monotonic() - started
    assert elapsed < LIVE_UPDATE_SECONDS, f"the dashboard took {elapsed:.2f} s"
    assert operator.execute_script("return window.notReloaded === true;")
    # The totals follow too (debounced recount).
    wait_for(
        lambda: operator.find_element("css selector", '[data-count-status="Charging"]').text == "2"
    )
    assert operator.find_element("id", "count-online").text == "5"
    time.sleep(0.3)  # let the badge colours settle for the picture
    save_screenshot(operator.get_screenshot_as_png(), "dashboard-live.png")


def test_reset_from_the_charge_point_page_shows_the_answer(operator, server, charger):
    cp = charger("CP-RESET")
    charge_point = ChargePoint.objects.get(charge_point_id="CP-RESET")
    operator.get(f"{server}/admin/stations/chargepoint/{charge_point.pk}/change/")
    assert "badge-online" in operator.page_source
    operator.find_element("css selector", '.object-tools a[href$="/command/"]').click()
    # The typed form of the action the page opened with: Reset, its type a choice.
    typed = wait_for(lambda: operator.find_elements("id", "send-command-typed"))[0]
    assert typed.get_attribute("data-action") == "Reset"
    Select(operator.find_element("id", "typed_type")).select_by_value("Soft")
    operator.find_element("css selector", "#send-command-typed input[type=submit]").click()
    message = wait_for(
        lambda: operator.find_elements("css selector", ".messagelist li.success"), timeout=20
    )[0]
    assert message.text == 'CP-RESET: Reset: {"status": "Accepted"}'
    assert cp.client.resets == ["Soft"]


def test_transaction_page_charts_energy_and_power(operator, server, charger):
    cp = charger("CP-CHART")
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=45)
    stamp = lambda at: at.isoformat().replace("+00:00", "Z")  # noqa: E731
    started = cp.call(
        call.StartTransaction(
            connector_id=1, id_tag="TAG-CHART", meter_start=100_000, timestamp=stamp(start)
        )
    )
    energy, samples = 100_000, []
    for minute in range(0, 45, 3):
        kw = 11.0 if minute < 30 else max(1.4, 11.0 - (minute - 27) * 0.8)  # taper at the end
        energy += int(kw * 1000 * 3 / 60)
        samples.append(
            {
                "timestamp": stamp(start + timedelta(minutes=minute + 3)),
                "sampled_value": [
                    {
                        "value": str(energy),
                        "measurand": "Energy.Active.Import.Register",
                        "unit": "Wh",
                    },
                    {
                        "value": str(round(kw * 1000)),
                        "measurand": "Power.Active.Import",
                        "unit": "W",
                    },
                ],
            }
        )
    cp.call(
        call.MeterValues(connector_id=1, transaction_id=started.transaction_id, meter_value=samples)
    )
    cp.call(
        call.StopTransaction(
            meter_stop=energy,
            timestamp=stamp(start + timedelta(minutes=46)),
            transaction_id=started.transaction_id,
        )
    )
    transaction = Transaction.objects.get(pk=started.transaction_id)
    assert transaction.energy_wh == energy - 100_000
    operator.get(f"{server}/admin/stations/transaction/{transaction.pk}/change/")
    chart = operator.find_element("css selector", "svg.meter-chart")
    assert len(chart.find_elements("css selector", "polyline")) == 2
    assert "Power (kW)" in chart.get_attribute("innerHTML")
    operator.execute_script("arguments[0].scrollIntoView({block: 'center'});", chart)
    save_screenshot(chart.screenshot_as_png, "transaction-chart.png")


def test_operator_switches_the_console_to_thai(operator, server):
    from selenium.webdriver.support.ui import Select

    operator.get(server + "/admin/")  # served with a CSP that forbids inline script
    Select(operator.find_element("css selector", "#language-switch select")).select_by_value("th")
    wait_for(lambda: operator.find_element("tag name", "html").get_attribute("lang") == "th")
    assert "แดชบอร์ดเครือข่าย" in operator.find_element("id", "user-tools").text
    Select(operator.find_element("css selector", "#language-switch select")).select_by_value("en")
    wait_for(lambda: operator.find_element("tag name", "html").get_attribute("lang") == "en")
