"""CONSOLE_CALENDAR: one calendar for the server's dates and the pages' scripts."""

import os
import subprocess
import sys
from datetime import UTC, date, datetime

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.templatetags.static import static
from django.urls import reverse
from django.utils import formats, translation

from api_support.testing import make_charge_point
from csms_project.testing import BASE_DIR
from monitoring.calendars import calendar_validate, intl_calendar
from stations.models import ChargePoint

MAY_DAY = date(2024, 5, 1)


def test_values_and_their_intl_names():
    assert intl_calendar("gregorian") == "gregory"
    assert intl_calendar("buddhist") == "buddhist"
    for wrong in ("lunar", "Gregorian", "gregory", ""):
        with pytest.raises(ImproperlyConfigured, match="CONSOLE_CALENDAR"):
            calendar_validate(wrong)


def test_settings_refuse_an_unknown_calendar():
    env = {**os.environ, "CONSOLE_CALENDAR": "lunar"}
    result = subprocess.run(
        [sys.executable, "-c", "import csms_project.settings"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "CONSOLE_CALENDAR must be gregorian or buddhist" in result.stderr


def test_gregorian_by_default_in_thai_too():
    with translation.override("th"):
        assert "2024" in formats.date_format(MAY_DAY)
        assert "2567" not in formats.date_format(MAY_DAY)


def test_buddhist_years_in_django_formats_while_set(settings):
    settings.CONSOLE_CALENDAR = "buddhist"
    with translation.override("th"):
        assert formats.date_format(MAY_DAY) == "1 พฤษภาคม 2567"
        assert formats.localize(datetime(2024, 5, 1, 9, 30)).startswith("1 พฤษภาคม 2567")
    with translation.override("en"):
        assert formats.date_format(MAY_DAY, "Y y") == "2567 67"
    # Inputs keep Gregorian years: what is typed is what is stored.
    assert formats.localize_input(MAY_DAY) == "2024-05-01"
    settings.CONSOLE_CALENDAR = "gregorian"
    assert formats.date_format(MAY_DAY, "Y") == "2024"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("setting", "attribute"), [("gregorian", "gregory"), ("buddhist", "buddhist")]
)
def test_pages_tell_their_scripts(admin_client, settings, setting, attribute):
    settings.CONSOLE_CALENDAR = setting
    for url in (reverse("admin:index"), reverse("monitoring_dashboard")):
        html = admin_client.get(url).content.decode()
        script = static("console/calendar.js")
        assert f'src="{script}" data-calendar="{attribute}"' in html, url


@pytest.mark.django_db
def test_date_hierarchy_years_follow_the_calendar(admin_client, settings):
    """Django prints a list's year links as bare numbers: they follow too."""
    for number, year in enumerate((2024, 2025)):
        charge_point = make_charge_point(f"CP-{number}")
        ChargePoint.objects.filter(pk=charge_point.pk).update(
            created_at=datetime(year, 5, 1, tzinfo=UTC)
        )
    url = reverse("admin:stations_chargepoint_changelist")
    settings.CONSOLE_CALENDAR = "buddhist"
    html = admin_client.get(url).content.decode()
    assert "created_at__year=2024" in html  # the query keeps the stored year
    assert ">2567</a>" in html
    assert ">2568</a>" in html
    months = admin_client.get(url, {"created_at__year": "2024"}).content.decode()
    assert "May 2567" in months
    assert "&lsaquo; All dates" in months
    settings.CONSOLE_CALENDAR = "gregorian"
    assert ">2024</a>" in admin_client.get(url).content.decode()
