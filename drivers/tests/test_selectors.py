"""The authorization decision for id tags."""

from datetime import timedelta

import pytest
from django.utils import timezone

from drivers.choices import AuthorizationStatus
from drivers.models import IdTag
from drivers.selectors import idtag_authorize, idtag_get

pytestmark = pytest.mark.django_db


def test_unknown_tag_is_invalid():
    IdTag.objects.create(id_tag="KNOWN")
    authorization = idtag_authorize(id_tag="UNKNOWN")
    assert authorization.status == AuthorizationStatus.INVALID
    assert authorization.tag is None
    assert authorization.expiry_date is None
    assert authorization.parent_id_tag is None


def test_accepted_tag():
    tag = IdTag.objects.create(id_tag="TAG-1")
    authorization = idtag_authorize(id_tag="TAG-1")
    assert authorization.status == AuthorizationStatus.ACCEPTED
    assert authorization.tag == tag


def test_blocked_tag():
    IdTag.objects.create(id_tag="TAG-1", status=AuthorizationStatus.BLOCKED)
    assert idtag_authorize(id_tag="TAG-1").status == AuthorizationStatus.BLOCKED


def test_blocked_tag_stays_blocked_after_expiry():
    past = timezone.now() - timedelta(days=1)
    IdTag.objects.create(id_tag="TAG-1", status=AuthorizationStatus.BLOCKED, expiry_date=past)
    assert idtag_authorize(id_tag="TAG-1").status == AuthorizationStatus.BLOCKED


def test_accepted_tag_past_its_expiry_date_is_expired():
    past = timezone.now() - timedelta(minutes=1)
    IdTag.objects.create(id_tag="TAG-1", expiry_date=past)
    authorization = idtag_authorize(id_tag="TAG-1")
    assert authorization.status == AuthorizationStatus.EXPIRED
    assert authorization.expiry_date == past


def test_expiry_is_decided_at_the_given_time():
    now = timezone.now()
    IdTag.objects.create(id_tag="TAG-1", expiry_date=now + timedelta(days=1))
    assert idtag_authorize(id_tag="TAG-1", now=now).status == AuthorizationStatus.ACCEPTED
    later = now + timedelta(days=2)
    assert idtag_authorize(id_tag="TAG-1", now=later).status == AuthorizationStatus.EXPIRED


def test_accepted_with_future_expiry_and_parent():
    parent = IdTag.objects.create(id_tag="FLEET")
    expiry = timezone.now() + timedelta(days=30)
    IdTag.objects.create(id_tag="TAG-1", parent=parent, expiry_date=expiry)
    authorization = idtag_authorize(id_tag="TAG-1")
    assert authorization.status == AuthorizationStatus.ACCEPTED
    assert authorization.parent_id_tag == "FLEET"
    assert authorization.expiry_date == expiry


@pytest.mark.parametrize("asked", ["abc-123", "ABC-123", "Abc-123"])
def test_lookup_is_case_insensitive(asked):
    tag = IdTag.objects.create(id_tag="aBc-123")
    assert idtag_get(id_tag=asked) == tag
    authorization = idtag_authorize(id_tag=asked)
    assert authorization.status == AuthorizationStatus.ACCEPTED
    assert authorization.tag == tag


def test_idtag_get_unknown_is_none():
    assert idtag_get(id_tag="NOPE") is None
