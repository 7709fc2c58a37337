"""Isolation for the end-to-end tests, whose simulated chargers run in this process."""

import pytest
from ocpp import messages


@pytest.fixture(autouse=True)
def _fresh_ocpp_client_validators(request):
    """Give the `ocpp` client its own schema validators for the test, then put ours back.

    `ocpp.messages.get_validator` caches one validator per action whatever its
    `parse_float`: once our framing (command validation in an earlier test of
    this process) cached SetChargingProfile with float numbers, the client's
    Decimal payloads fail against `multipleOf` and it never answers.
    """
    if request.node.get_closest_marker("e2e") is None:
        yield
        return
    saved = dict(messages._validators)
    messages._validators.clear()
    yield
    messages._validators.clear()
    messages._validators.update(saved)
