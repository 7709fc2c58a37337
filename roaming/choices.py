"""The enumerations of roaming, in OCPI's spelling where OCPI has one."""

from django.db import models
from django.utils.translation import gettext_lazy as _

# The one OCPI version this system speaks.
OCPI_VERSION = "2.2.1"


class PartyRole(models.TextChoices):
    """OCPI Role: what a partner is in the roaming landscape."""

    EMSP = "EMSP", _("eMobility service provider (eMSP)")
    HUB = "HUB", _("Roaming hub")
    CPO = "CPO", _("Charge point operator (CPO)")
    NAP = "NAP", _("National access point (NAP)")
    NSP = "NSP", _("Navigation service provider (NSP)")
    SCSP = "SCSP", _("Smart charging service provider (SCSP)")
    OTHER = "OTHER", _("Other")


class PartyStatus(models.TextChoices):
    """Where a partner is in the credentials handshake."""

    # Token A issued; the partner has not registered yet.
    PENDING = "pending", _("Waiting for the partner to register")
    REGISTERED = "registered", _("Registered")
    # Either side ended the connection; no automated traffic any more.
    UNREGISTERED = "unregistered", _("Unregistered")


class Direction(models.TextChoices):
    INCOMING = "in", _("Partner to us")
    OUTGOING = "out", _("Us to partner")


class ModuleId(models.TextChoices):
    """OCPI ModuleID: the modules a version's endpoints name."""

    CDRS = "cdrs", "CDRs"
    CHARGING_PROFILES = "chargingprofiles", _("Charging profiles")
    COMMANDS = "commands", _("Commands")
    CREDENTIALS = "credentials", _("Credentials")
    HUB_CLIENT_INFO = "hubclientinfo", _("Hub client info")
    LOCATIONS = "locations", _("Locations")
    SESSIONS = "sessions", _("Sessions")
    TARIFFS = "tariffs", _("Tariffs")
    TOKENS = "tokens", _("Tokens")


class InterfaceRole(models.TextChoices):
    SENDER = "SENDER", _("Sender")
    RECEIVER = "RECEIVER", _("Receiver")
