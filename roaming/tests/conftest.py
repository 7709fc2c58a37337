import pytest

from roaming.choices import PartyRole, PartyStatus
from roaming.credential_tokens import authorization_header, token_hash
from roaming.models import Party
from roaming.subscribers import wanted_cache_clear


@pytest.fixture(autouse=True)
def _our_identity(settings):
    settings.OCPI_COUNTRY_CODE = "NL"
    settings.OCPI_PARTY_ID = "CSM"
    settings.OCPI_BASE_URL = ""
    # The peer eMSP of the tests listens on 127.0.0.1.
    settings.OCPI_ALLOW_PRIVATE_URLS = True


@pytest.fixture(autouse=True)
def _fresh_push_wanted_cache():
    """Whether partners take pushes is cached per process: not across tests."""
    wanted_cache_clear()
    yield
    wanted_cache_clear()


@pytest.fixture
def registered_party(db):
    """A partner registered already, and the Authorization header of its token C."""
    token_c = "peer-token-c-0123456789"
    party = Party.objects.create(
        name="Peer",
        country_code="DE",
        party_id="EMS",
        role=PartyRole.EMSP,
        status=PartyStatus.REGISTERED,
        incoming_token_hash=token_hash(token_c),
    )
    return party, authorization_header(token_c)
