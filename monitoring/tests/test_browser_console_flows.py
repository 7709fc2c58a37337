"""The operator's console flows in headless Chromium, against a real Daphne (issue 20).

Simulated OCPP 1.6 charge points (browser.StationThread) answer every
command as a real one does and then act on it: an unlock frees the cable,
a remote start starts a session, a remote stop ends it. Each flow is driven
by clicks as an operator makes them, and checked on both ends: what the
page says, and what the charge point received and did.

Skipped only when Debian's chromium / chromium-driver are not installed.
Screenshots land in var/test-artifacts/screenshots/; UPDATE_SCREENSHOTS=1
also refreshes docs/screenshots/.
"""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.hashers import make_password
from django.db.models import Sum
from django.utils import timezone
from ocpp.v16.enums import ChargePointErrorCode, ChargePointStatus

from billing.models import Invoice
from billing.services import station_energy_rollup
from ocpp_consumer.models import Command
from stations.choices import SessionStatus
from stations.models import ChargePoint, Transaction

from . import browser_network as network
from .browser import (
    StationThread,
    chromium_paths,
    desktop_viewport,
    log_in,
    phone_viewport,
    save_screenshot,
    screenshot_down_to,
    wait_for,
)
from .browser_pages import (
    DASHBOARD,
    alert_shown,
    click,
    fault,
    faulted_count,
    idtag_suggestions,
    open_dashboard,
    outcome,
    outcome_class,
    present,
    running,
    steady,
    text_at,
    text_of,
    wait_live,
)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        chromium_paths() is None, reason="chromium and chromium-driver not installed"
    ),
]

PASSWORD = "console-flows-pw-1"
# The charge points of the 10,000 that went offline with a faulted connector.
FAULTED_AT_SCALE = (17, 2_500, 5_001, 7_777, 9_998)


@pytest.fixture
def operator(browser, server, django_user_model):
    """An operator signed in to the console."""
    # Hashed as the server verifies it (the tests' own hasher may be a cheap one).
    django_user_model.objects.create(
        username="operator",
        password=make_password(PASSWORD, hasher="pbkdf2_sha256"),
        is_staff=True,
        is_superuser=True,
    )
    log_in(browser, server, "operator", PASSWORD)
    yield browser
    # Close the dashboard's socket first: Daphne would wait for it to stop.
    browser.get("about:blank")


@pytest.fixture
def station(server):
    """Connects simulated charge points by id; closes them at the end."""
    stations = []

    def connect(charge_point_id, statuses=None, connectors=2):
        charger = StationThread(server, charge_point_id, connectors=connectors)
        stations.append(charger)
        charger.connect(statuses)
        return charger

    yield connect
    for charger in stations:
        charger.close()
    # Let the server record the disconnections before it is stopped (a commit
    # hook still running at shutdown holds Daphne until it is killed).
    ids = [charger.charge_point_id for charger in stations]
    wait_for(lambda: not ChargePoint.objects.filter(charge_point_id__in=ids, is_online=True))
    time.sleep(0.3)


@pytest.fixture
def fleet(station):
    """A small network as an operator sees it on a working day.

    Two stations; two live charge points with a session each (energy and
    cost so far), quiet ones (one offline and faulted), sessions finished
    and invoiced earlier today, a Celery worker alive.
    """
    network.worker_alive()
    network.tariff_default()
    sites = network.stations()
    network.quiet_charge_points(sites)
    network.id_tags(("FLEET-0042", "Tuk-tuk fleet, car 42"), ("APP-7731", "app user"))
    network.registered("BKK-CENTRAL-01", sites[0])
    network.registered("BKK-CENTRAL-02", sites[0])
    network.registered_long_ago()
    central_1 = station("BKK-CENTRAL-01")
    central_2 = station("BKK-CENTRAL-02")
    central_1.start_session(2, "FLEET-0042", started_ago=timedelta(minutes=38))
    central_1.deliver(2, 6_870, 10_900)
    central_2.start_session(1, "APP-7731", started_ago=timedelta(minutes=12))
    central_2.deliver(1, 2_180, 10_950)
    earlier = timezone.now() - timedelta(minutes=150)
    cp = ChargePoint.objects.get(charge_point_id="BKK-CENTRAL-03")
    network.invoice_sessions(
        [
            network.ended_session(cp, connector_id=1, id_tag="FLEET-0042", start=earlier,
                                  minutes=52, wh=9_450),
            network.ended_session(cp, connector_id=2, id_tag="APP-7731", start=earlier,
                                  minutes=31, wh=5_120),
        ]
    )  # fmt: skip
    return central_1, central_2


# --- 1. A faulted connector, found on the dashboard and unlocked -------------------------


def test_a_faulted_connector_is_unlocked_from_the_dashboard(operator, server, fleet):
    central_1, _central_2 = fleet
    open_dashboard(operator, server)
    assert faulted_count(operator) == 1  # the offline one, which no button can reach
    assert present(operator, fault("CNX-AIRPORT-03", 1) + " .badge-offline")
    assert not present(operator, fault("CNX-AIRPORT-03", 1) + " form")

    # The cable lock fails while the dashboard is open: the fault shows up at once.
    central_1.status(
        1, ChargePointStatus.faulted, ChargePointErrorCode.connector_lock_failure, "Cable stuck"
    )
    unlock = fault("BKK-CENTRAL-01", 1) + ' form[data-quick="unlock"] button'
    wait_for(lambda: present(operator, unlock))
    wait_for(lambda: faulted_count(operator) == 2)
    time.sleep(0.3)  # let the live redraw settle for the picture
    save_screenshot(screenshot_down_to(operator, "#sessions"), "dashboard.png")

    click(operator, unlock)  # the one click from the dashboard
    assert outcome(operator) == (
        'BKK-CENTRAL-01, connector 1: UnlockConnector: {"status": "Unlocked"}'
    )
    assert "success" in outcome_class(operator)
    assert operator.current_url == server + DASHBOARD
    assert central_1.client.received_of("UnlockConnector") == [{"connector_id": 1}]

    # The cable is out: the charger reports the connector free, the problem goes away.
    central_1.settle()
    wait_for(lambda: not present(operator, fault("BKK-CENTRAL-01", 1)))
    wait_for(lambda: faulted_count(operator) == 1)
    command = Command.objects.get(action="UnlockConnector")
    assert (command.outcome, command.source, command.requested_by.username) == (
        "Unlocked",
        "admin",
        "operator",
    )


def test_the_dashboard_fits_a_phone(operator, server, fleet):
    central_1, _central_2 = fleet
    central_1.status(
        1, ChargePointStatus.faulted, ChargePointErrorCode.connector_lock_failure, "Cable stuck"
    )
    phone_viewport(operator)
    try:
        open_dashboard(operator, server)
        layout = operator.execute_script(
            """
            const top = id => document.getElementById(id).getBoundingClientRect().top;
            const unlock = document.querySelector(arguments[0]).getBoundingClientRect();
            return {
              width: window.innerWidth,
              scrollWidth: document.documentElement.scrollWidth,
              tops: ['problems', 'money', 'sessions', 'grid-section'].map(top),
              unlockRight: unlock.right,
              unlockWidth: unlock.width,
            };
            """,
            fault("BKK-CENTRAL-01", 1) + ' form[data-quick="unlock"] button',
        )
        assert layout["width"] == 390
        # Nothing scrolls sideways, what needs attention comes first, its buttons fit.
        assert layout["scrollWidth"] <= layout["width"]
        assert layout["tops"] == sorted(layout["tops"])
        assert 0 < layout["unlockWidth"] and layout["unlockRight"] <= layout["width"]
        save_screenshot(operator.get_screenshot_as_png(), "dashboard-phone.png")
    finally:
        desktop_viewport(operator)


# --- 2. A running session, stopped from the dashboard ------------------------------------


def test_a_running_session_is_stopped_from_the_dashboard(operator, server, fleet):
    _central_1, central_2 = fleet
    session = Transaction.objects.get(charge_point__charge_point_id="BKK-CENTRAL-02")
    open_dashboard(operator, server)
    assert "APP-7731" in text_at(operator, running(session.pk))
    cost = text_at(operator, running(session.pk) + ' [data-role="cost"]')
    assert cost.endswith(" THB") and Decimal(cost.split()[0].replace(",", "")) > 0

    click(operator, running(session.pk) + ' form[data-quick="stop"] button')  # click 1
    alert = wait_for(lambda: alert_shown(operator))
    assert alert.text == "Stop this session?"
    alert.accept()  # click 2
    assert outcome(operator) == (
        f'BKK-CENTRAL-02, session {session.pk}: RemoteStopTransaction: {{"status": "Accepted"}}'
    )
    assert central_2.client.received_of("RemoteStopTransaction") == [{"transaction_id": session.pk}]

    # The charger stops it (StopTransaction): the session ends and leaves the list.
    central_2.settle()
    session.refresh_from_db()
    assert (session.status, session.stop_reason) == (SessionStatus.ENDED, "Remote")
    assert session.energy_wh == 2_180
    wait_for(lambda: not present(operator, running(session.pk)))
    wait_for(lambda: text_of(operator, "sessions-count") == "1")
    operator.get(f"{server}/admin/stations/transaction/{session.pk}/change/")
    assert "Remote" in operator.find_element("id", "content").text


# --- 3. A remote start with a picked id tag, from the typed form ---------------------------


def test_a_session_is_started_with_a_picked_id_tag(operator, server, station):
    from selenium.webdriver.support.ui import Select

    network.id_tags(
        ("FLEET-0042", "Tuk-tuk fleet, car 42"),
        ("FLEET-0043", "Tuk-tuk fleet, car 43"),
        ("VISITOR-9", "Anna, visitor card"),
    )
    network.registered("BKK-CENTRAL-07", network.stations()[0])
    network.registered_long_ago()
    charger = station("BKK-CENTRAL-07")
    card = charger.start_session(1, "VISITOR-9")  # a driver's card on connector 1
    charge_point = ChargePoint.objects.get(charge_point_id="BKK-CENTRAL-07")
    page = f"{server}/admin/stations/chargepoint/{charge_point.pk}/change/"
    operator.get(page)
    operator.find_element("css selector", '.object-tools a[href$="/command/"]').click()
    Select(operator.find_element("id", "choose-action-select")).select_by_value(
        "RemoteStartTransaction"
    )  # submits itself: the typed form of that command
    tag = wait_for(lambda: operator.find_elements("id", "typed_idTag"))[0]
    connector = Select(operator.find_element("id", "typed_connectorId"))
    assert [o.text for o in connector.options][1:] == ["#1: Charging", "#2: Available"]
    connector.select_by_value("2")
    submit = operator.find_element("css selector", "#send-command-typed input[type=submit]")

    # A blank id tag is refused by the browser...
    submit.click()
    assert operator.execute_script("return arguments[0].validity.valueMissing", tag)
    assert "action=RemoteStartTransaction" in operator.current_url
    # ... and, past the browser (a tag of spaces, no client check), by the server.
    operator.execute_script("arguments[0].removeAttribute('required')", tag)
    tag.send_keys("   ")
    operator.find_element("css selector", "#send-command-typed input[type=submit]").click()
    error = wait_for(lambda: operator.find_elements("css selector", ".field-idTag .errorlist"))
    assert error[0].text == "This field is required."
    assert (
        not Command.objects.exists() and charger.client.received_of("RemoteStartTransaction") == []
    )

    # The id tag search: typing part of a note offers the matching tag.
    operator.get(operator.current_url)  # a fresh form
    Select(operator.find_element("id", "typed_connectorId")).select_by_value("2")
    tag = operator.find_element("id", "typed_idTag")
    tag.send_keys("anna")
    wait_for(lambda: idtag_suggestions(operator) == ["VISITOR-9"])
    tag.clear()
    tag.send_keys("fleet")
    wait_for(lambda: idtag_suggestions(operator) == ["FLEET-0042", "FLEET-0043"])
    tag.clear()
    tag.send_keys(idtag_suggestions(operator)[1])  # picked from the suggestions
    assert not operator.find_elements("css selector", "#send-command-typed .errorlist")
    save_screenshot(screenshot_down_to(operator, "#expert-mode"), "typed-command.png")
    operator.find_element("css selector", "#send-command-typed input[type=submit]").click()
    assert outcome(operator) == 'BKK-CENTRAL-07: RemoteStartTransaction: {"status": "Accepted"}'
    assert operator.current_url == page
    assert charger.client.received_of("RemoteStartTransaction") == [
        {"id_tag": "FLEET-0043", "connector_id": 2}
    ]

    # The charger starts the session it was asked for.
    charger.settle()
    session = Transaction.objects.exclude(pk=card).get(
        charge_point=charge_point, status=SessionStatus.RUNNING
    )
    assert (session.id_tag, session.connector.connector_id) == ("FLEET-0043", 2)
    command = Command.objects.get(action="RemoteStartTransaction")
    assert command.outcome == "Accepted"

    # Connector 2 is now taken: the charger rejects a second start there (amber, not green).
    operator.get(f"{page.removesuffix('change/')}command/?action=RemoteStartTransaction")
    Select(operator.find_element("id", "typed_connectorId")).select_by_value("2")
    operator.find_element("id", "typed_idTag").send_keys("FLEET-0042")
    operator.find_element("css selector", "#send-command-typed input[type=submit]").click()
    rejected = outcome(operator)
    assert rejected == 'BKK-CENTRAL-07: RemoteStartTransaction: {"status": "Rejected"}'
    assert "warning" in outcome_class(operator)

    # The driver on connector 1 asks to be stopped: the Stop of its session, on the same page.
    click(operator, f'#quick-actions tr[data-transaction="{card}"] button')
    assert outcome(operator, replacing=rejected) == (
        f'BKK-CENTRAL-07, session {card}: RemoteStopTransaction: {{"status": "Accepted"}}'
    )
    charger.settle()
    assert Transaction.objects.get(pk=card).status == SessionStatus.ENDED

    # The history tells each outcome at a glance.
    operator.get(f"{server}/admin/ocpp_consumer/command/")
    badges = [
        (badge.get_attribute("data-verdict"), badge.text)
        for badge in operator.find_elements("css selector", "#result_list .badge")
    ]
    assert badges == [
        ("accepted", "Accepted"),  # the stop
        ("rejected", "Rejected"),
        ("accepted", "Accepted"),
    ]
    save_screenshot(screenshot_down_to(operator, "#changelist"), "command-history.png")


# --- 4. The revenue tile adds up the invoices -------------------------------------------------


def test_the_revenue_tile_is_the_sum_of_todays_invoices(operator, server, station):
    network.worker_alive()
    network.tariff_default()
    sites = network.stations()
    network.quiet_charge_points(sites)
    history = network.month_history(sites)
    network.id_tags(("FLEET-0042", "car 42"), ("APP-7731", "app user"))
    network.registered("BKK-CENTRAL-01", sites[0])
    network.registered_long_ago()
    charger = station("BKK-CENTRAL-01")
    for connector_id, tag, minutes, wh in (
        (1, "FLEET-0042", 95, 12_400),
        (2, "APP-7731", 70, 7_250),
    ):
        charger.start_session(connector_id, tag, started_ago=timedelta(minutes=minutes))
        charger.deliver(connector_id, wh, 7_400)
        charger.stop_session(connector_id)
    sessions = Transaction.objects.filter(charge_point__charge_point_id="BKK-CENTRAL-01")
    assert sorted(sessions.values_list("energy_wh", flat=True)) == [7_250, 12_400]
    today = network.invoice_sessions(sessions)
    station_energy_rollup()  # as Celery beat does every hour
    expected = sum(invoice.total for invoice in today)
    assert expected > 0 and {invoice.currency for invoice in today} == {"THB"}

    open_dashboard(operator, server)
    assert text_at(operator, '#revenue-today .amount[data-currency="THB"]') == (
        f"{expected:,.2f} THB"
    )
    month = sum((invoice.total for invoice in history), expected)
    assert text_at(operator, '#revenue-month .amount[data-currency="THB"]') == f"{month:,.2f} THB"

    # The tile leads to exactly those invoices.
    click(operator, '[data-money="revenue-today"] a')
    wait_for(lambda: "/admin/billing/invoice/" in operator.current_url)
    rows = operator.find_elements("css selector", "#result_list tbody tr")
    assert len(rows) == len(today)

    # The month's report agrees, and splits it by station and day.
    open_dashboard(operator, server)
    operator.find_element("id", "link-revenue-report").click()
    report = wait_for(
        lambda: operator.find_elements("css selector", '#revenue-totals [data-currency="THB"]')
    )
    assert report[0].find_element("css selector", ".tile-value").text == f"{month:.2f} THB"
    assert Invoice.objects.aggregate(total=Sum("total"))["total"] == month
    day = timezone.localdate().isoformat()
    cells = operator.find_elements("css selector", f'#revenue-days tr[data-day="{day}"] td')
    assert cells[2].text == f"{expected:.2f}"
    save_screenshot(screenshot_down_to(operator, "#revenue-stations"), "revenue-report.png")


# --- 5. At scale: 10,000 charge points --------------------------------------------------------


def test_at_ten_thousand_charge_points_a_fault_is_unlocked_in_two_clicks(operator, server, station):
    network.worker_alive()
    network.id_tags(("FLEET-0042", "car 42"))
    ids = network.grid_of(10_000, faulted=FAULTED_AT_SCALE)
    assert ChargePoint.objects.count() == 10_000
    network.registered_long_ago()
    live = ids[4_321]  # online, charging on #2, then its cable lock fails on #1
    charger = station(live)
    charger.start_session(2, "FLEET-0042", started_ago=timedelta(minutes=20))
    charger.deliver(2, 3_600, 11_000)
    charger.status(1, ChargePointStatus.faulted, ChargePointErrorCode.connector_lock_failure)

    operator.get(server + "/admin/")
    click(operator, f'#user-tools a[href="{DASHBOARD}"]')  # click 1: "Network dashboard"
    wait_live(operator)
    assert faulted_count(operator) == 6
    assert text_at(operator, "#grid-count") == "10000"
    assert text_at(operator, "#sessions-count") == "1"
    newest = steady(
        lambda: operator.find_element(
            "css selector", '[data-problem="faulted"] .problem-row'
        ).get_attribute("data-charge-point")
    )
    assert wait_for(newest) == live  # the newest fault comes first
    click(operator, fault(live, 1) + ' form[data-quick="unlock"] button')  # click 2
    assert outcome(operator) == f'{live}, connector 1: UnlockConnector: {{"status": "Unlocked"}}'
    assert charger.client.received_of("UnlockConnector") == [{"connector_id": 1}]
    charger.settle()
    wait_for(lambda: faulted_count(operator) == 5)

    # The grid's search finds one charge point among the 10,000.
    search = operator.find_element("css selector", '#grid-search input[name="q"]')
    search.send_keys(live)
    search.submit()
    wait_for(lambda: text_of(operator, "grid-count") == "1")
    cards = operator.find_elements("css selector", "#grid [data-cp]")
    assert [card.get_attribute("data-id") for card in cards] == [live]

    # The faulted charge points that are left, listed from the panel: the offline five.
    click(operator, '[data-problem="faulted"] a[data-role="charge-points"]')
    wait_for(lambda: "connector_status=Faulted" in operator.current_url)
    listed = operator.find_elements("css selector", "#result_list tbody tr th a")
    faulted = [ids[index] for index in FAULTED_AT_SCALE]
    assert sorted(link.text for link in listed) == faulted
