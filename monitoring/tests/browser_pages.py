"""Reading and clicking the console's pages in the browser tests.

The dashboard redraws its problems, money and sessions with every push: an
element found a moment ago may have been replaced. These helpers read and
click by selector, again until it holds.
"""

from __future__ import annotations

from .browser import wait_for

DASHBOARD = "/admin/dashboard/"
# The outcome messages of the console (the dashboard's alarms are a messagelist too).
MESSAGES = "ul.messagelist:not(#alarms) > li"
ANSWER_SECONDS = 20  # a command waits for the charger's answer


def steady(read):
    """`read` as a wait_for predicate: None (try again) while the page redraws."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException

    def attempt():
        try:
            return read()
        except (NoSuchElementException, StaleElementReferenceException):
            return None

    return attempt


def click(browser, css: str) -> None:
    def attempt():
        browser.find_element("css selector", css).click()
        return True

    wait_for(steady(attempt))


def present(browser, css: str) -> bool:
    return bool(browser.find_elements("css selector", css))


def text_of(browser, element_id: str) -> str | None:
    """The element's text; None while it is not there (a new page loads)."""
    return steady(lambda: browser.find_element("id", element_id).text)()


def text_at(browser, css: str) -> str:
    """The text of the element `css` selects, read once the page holds still."""
    return wait_for(steady(lambda: (browser.find_element("css selector", css).text,)))[0]


def outcome(browser, replacing: str | None = None) -> str:
    """The text of the console's (first) outcome message, once shown.

    `replacing`: the message the page shows before the click whose outcome is
    awaited; until the answer's page replaces it, it is not the outcome.
    """

    def shown() -> str | None:
        text = browser.find_element("css selector", MESSAGES).text
        return None if text == replacing else text

    return wait_for(steady(shown), ANSWER_SECONDS)


def outcome_class(browser) -> str:
    return browser.find_element("css selector", MESSAGES).get_attribute("class")


def wait_live(browser) -> None:
    """Until the dashboard's socket is open (what it shows is then kept current)."""
    wait_for(
        steady(
            lambda: browser.find_element("id", "live-state").get_attribute("data-state") == "live"
        )
    )


def open_dashboard(browser, server: str, query: str = "") -> None:
    browser.get(server + DASHBOARD + query)
    wait_live(browser)


def fault(charge_point_id: str, connector_id: int) -> str:
    """The selector of a connector's row in the problems panel's faulted list."""
    return (
        f'[data-problem="faulted"] .problem-row[data-charge-point="{charge_point_id}"]'
        f'[data-connector="{connector_id}"]'
    )


def faulted_count(browser) -> int | None:
    return steady(
        lambda: int(
            browser.find_element("css selector", '[data-problem="faulted"]').get_attribute(
                "data-count"
            )
        )
    )()


def running(transaction_id: int) -> str:
    return f'#running-sessions tr[data-transaction="{transaction_id}"]'


def alert_shown(browser):
    from selenium.common.exceptions import NoAlertPresentException

    try:
        return browser.switch_to.alert
    except NoAlertPresentException:
        return None


def idtag_suggestions(browser) -> list[str]:
    return browser.execute_script(
        "return [...document.getElementById('console-idtag-options').options].map(o => o.value)"
    )
