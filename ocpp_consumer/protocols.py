"""The OCPP versions spoken at /ocpp/{id}, and how one is chosen per socket.

Framing (OCPP-J), the journal, the command path and the domain are shared;
a Protocol holds what differs: the subprotocol, the handlers of the CALLs a
charge point sends, the schemas' version, and the spelling of error codes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ocpp.v16.enums import Action as Action16
from ocpp.v201.enums import Action as Action201

from stations.choices import RegistrationStatus
from stations.models import ChargePoint

from . import framing
from .handlers import HANDLERS as HANDLERS_16
from .handlers import Handler
from .v201 import handlers as _v201_handlers  # noqa: F401  (registers them)
from .v201.registry import HANDLERS as HANDLERS_201


@dataclass(frozen=True)
class Protocol:
    subprotocol: str
    version: str
    handlers: Mapping[str, Handler]
    # Every action of the version, in either direction: a CALL naming another
    # one is NotImplemented, one of these without a handler NotSupported.
    actions: frozenset[str]
    # Errors are raised with the 1.6 spellings; the wire gets this version's.
    error_spellings: Mapping[str, str]
    # CALLs handled from a charge point that booted and is Pending, besides the boot.
    allowed_while_pending: frozenset[str] = frozenset()

    def wire_code(self, code: str) -> str:
        return self.error_spellings.get(code, code)

    def admits(self, action: str, charge_point: ChargePoint) -> bool:
        """Whether a CALL is handled (else SecurityError) in the charge point's registration.

        Accepted: anything. Otherwise only BootNotification, and while Pending
        what this version allows then (2.0.1: the NotifyReport parts of a
        report the CSMS asked for during onboarding).
        """
        if action == "BootNotification" or charge_point.is_accepted:
            return True
        pending = (
            charge_point.last_boot_at is not None
            and charge_point.registration_status == RegistrationStatus.PENDING
        )
        return pending and action in self.allowed_while_pending


OCPP16 = Protocol(
    subprotocol="ocpp1.6",
    version=framing.V16,
    handlers=HANDLERS_16,
    actions=frozenset(action.value for action in Action16),
    error_spellings={},
)
OCPP201 = Protocol(
    subprotocol="ocpp2.0.1",
    version=framing.V201,
    handlers=HANDLERS_201,
    actions=frozenset(action.value for action in Action201),
    error_spellings={
        "FormationViolation": "FormatViolation",
        "OccurenceConstraintViolation": "OccurrenceConstraintViolation",
    },
    allowed_while_pending=frozenset({"NotifyReport"}),
)
# Newest first: chosen when a charger offers several and none is preferred.
PROTOCOLS = (OCPP201, OCPP16)
BY_VERSION = {protocol.version: protocol for protocol in PROTOCOLS}
SUBPROTOCOLS = tuple(protocol.subprotocol for protocol in PROTOCOLS)


def protocol_supported(offered: Sequence[str]) -> bool:
    return any(protocol.subprotocol in offered for protocol in PROTOCOLS)


def protocol_negotiate(*, offered: Sequence[str], preferred: str = "") -> Protocol | None:
    """The version to speak: the preferred one when offered, else the newest offered."""
    preferred_protocol = BY_VERSION.get(preferred)
    if preferred_protocol is not None and preferred_protocol.subprotocol in offered:
        return preferred_protocol
    for protocol in PROTOCOLS:
        if protocol.subprotocol in offered:
            return protocol
    return None


def protocol_for(version: str) -> Protocol:
    return BY_VERSION.get(version, OCPP16)
