"""Real-time authorization costs our own drivers' tags nothing (roaming.realtime_candidates).

The hook runs for every Authorize and start of every charger: an id tag that
is no partner's asked token is known from memory, so the hook neither hops
to a thread (it completes without ever waiting) nor queries.
"""

import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from django.test.utils import CaptureQueriesContext

from drivers.choices import AuthorizationStatus
from drivers.models import IdTag
from drivers.remote_authorities import remote_authorities_concerned
from ocpp_consumer.remote_authorization import idtag_refresh_before_deciding
from roaming.models import RoamingToken
from roaming.realtime_candidates import realtime_candidates_drop
from roaming.tokens import token_patch, token_store

from .test_tokens import token

pytestmark = pytest.mark.django_db(transaction=True)

OWN = "OWN-CARD-1"
PARTNERS = "PARTNER-CARD-1"


@pytest.fixture
def tags(registered_party):
    party, _ = registered_party
    IdTag.objects.create(id_tag=OWN, status=AuthorizationStatus.ACCEPTED)
    token_store(party=party, data=token(PARTNERS, whitelist="ALLOWED_OFFLINE"))
    realtime_candidates_drop()
    yield
    realtime_candidates_drop()


def completes_at_once(coroutine) -> bool:
    """A thread hop suspends the coroutine: one done at its first step made none."""
    try:
        coroutine.send(None)
    except StopIteration:
        return True
    coroutine.close()
    return False


def refresh(id_tag: str) -> None:
    async_to_sync(idtag_refresh_before_deciding)(charge_point_pk=1, id_tag=id_tag)


def test_an_own_tag_makes_no_thread_hop_and_no_query(tags):
    refresh(OWN)  # the first one loads what is asked in real time, in its thread
    with CaptureQueriesContext(connection) as queries:
        for value in (OWN, OWN.lower(), "NOT-KNOWN-AT-ALL"):
            hook = idtag_refresh_before_deciding(charge_point_pk=1, id_tag=value)
            assert completes_at_once(hook), value
    assert queries.captured_queries == []


def test_a_partners_asked_token_is_still_refreshed(tags):
    refresh(OWN)
    assert remote_authorities_concerned(PARTNERS.lower())
    # The partner offers no real-time authorization: ALLOWED_OFFLINE falls back
    # to the pushed token, which the refresh writes over a stale status.
    IdTag.objects.filter(id_tag=PARTNERS).update(status=AuthorizationStatus.BLOCKED)
    refresh(PARTNERS)
    assert IdTag.objects.get(id_tag=PARTNERS).status == AuthorizationStatus.ACCEPTED


def test_a_token_changed_in_this_process_is_seen_at_once(tags):
    refresh(OWN)
    stored = RoamingToken.objects.get(uid=PARTNERS)
    token_patch(token=stored, data={"whitelist": "ALWAYS", "last_updated": "2026-12-02T10:00:00Z"})
    refresh(OWN)
    assert not remote_authorities_concerned(PARTNERS)
    token_patch(token=stored, data={"whitelist": "NEVER", "last_updated": "2026-12-03T10:00:00Z"})
    assert remote_authorities_concerned(PARTNERS)
