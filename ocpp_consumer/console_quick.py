"""Quick actions: one button, the right OCPP request for the charge point's version.

The console's buttons next to a connector (Unlock, Reset, Make available /
inoperative) and a running session (Stop) name what the operator wants;
`quick_command` turns it into the action and payload of the charge point's
OCPP version, which go through the one command path (command_send) like
any other command. Which buttons a connector shows depends on its status
(`connector_quick_buttons`).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from stations.choices import ConnectorStatus

from .framing import V201

UNLOCK = "unlock"
RESET_SOFT = "reset_soft"
RESET_HARD = "reset_hard"
STOP = "stop"
MAKE_AVAILABLE = "make_available"
MAKE_INOPERATIVE = "make_inoperative"

QUICK_LABELS = {
    UNLOCK: _("Unlock"),
    RESET_SOFT: _("Reset"),
    RESET_HARD: _("Hard reset"),
    STOP: _("Stop"),
    MAKE_AVAILABLE: _("Make available"),
    MAKE_INOPERATIVE: _("Make inoperative"),
}
QUICK_TITLES = {
    UNLOCK: _("Unlock the cable of this connector"),
    RESET_SOFT: _("Restart the whole charge point once its sessions have ended (soft reset)"),
    RESET_HARD: _("Restart the whole charge point now, ending its sessions (hard reset)"),
    STOP: _("Stop this session remotely"),
    MAKE_AVAILABLE: _("Let drivers use this connector again"),
    MAKE_INOPERATIVE: _("Take this connector out of service"),
}
# Asked to confirm (console_commands.js): what ends sessions at once.
CONFIRM = {RESET_HARD: _("Restart the charge point now, ending every running session?")}

# Nothing plugged in: there is no cable to unlock.
_NO_CABLE = frozenset({ConnectorStatus.AVAILABLE, ConnectorStatus.RESERVED})


class QuickActionError(ValueError):
    """A quick action that cannot be sent as asked; `field` names the input at fault."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class QuickButton:
    quick: str
    label: str
    title: str
    confirm: str = ""


def connector_quick_buttons(*, connector_id: int, status: str) -> list[QuickButton]:
    """The buttons a connector shows in its status.

    Unlock for a connector with a cable (not while charging: Stop first);
    Reset (and Hard reset) for a fault; Make available when unavailable,
    else Make inoperative. Connector 0 is the charge point itself: no unlock.
    """
    wanted: list[str] = []
    if connector_id > 0 and status not in _NO_CABLE and status != ConnectorStatus.CHARGING:
        wanted.append(UNLOCK)
    if status == ConnectorStatus.FAULTED:
        wanted += [RESET_SOFT, RESET_HARD]
    wanted.append(MAKE_AVAILABLE if status == ConnectorStatus.UNAVAILABLE else MAKE_INOPERATIVE)
    return [
        QuickButton(quick, str(QUICK_LABELS[quick]), str(QUICK_TITLES[quick]),
                    str(CONFIRM.get(quick, "")))
        for quick in wanted
    ]  # fmt: skip


def quick_command(
    *,
    quick: str,
    version: str,
    connector_id: int | None = None,
    transaction_id: int | None = None,
    ocpp_transaction_id: str = "",
    plug_id: int | None = None,
) -> tuple[str, dict]:
    """(action, payload) doing `quick` on a charge point speaking `version`.

    `transaction_id` is our session id (the 1.6 transactionId),
    `ocpp_transaction_id` the charger's own (2.0.1); `plug_id` the connector
    of a 2.0.1 EVSE to unlock (1 when unknown).
    """
    v201 = version == V201
    if quick == UNLOCK:
        if not connector_id:
            raise QuickActionError("connector_id", str(_("Choose the connector to unlock.")))
        if v201:
            return "UnlockConnector", {"evseId": connector_id, "connectorId": plug_id or 1}
        return "UnlockConnector", {"connectorId": connector_id}
    if quick in (RESET_SOFT, RESET_HARD):
        # 2.0.1 OnIdle waits for running sessions to end, like a 1.6 soft reset.
        kind = {
            (RESET_SOFT, False): "Soft",
            (RESET_HARD, False): "Hard",
            (RESET_SOFT, True): "OnIdle",
            (RESET_HARD, True): "Immediate",
        }[(quick, v201)]
        return "Reset", {"type": kind}
    if quick in (MAKE_AVAILABLE, MAKE_INOPERATIVE):
        status = "Operative" if quick == MAKE_AVAILABLE else "Inoperative"
        if v201:
            payload: dict = {"operationalStatus": status}
            if connector_id:  # else the whole charging station
                payload["evse"] = {"id": connector_id}
            return "ChangeAvailability", payload
        return "ChangeAvailability", {"connectorId": connector_id or 0, "type": status}
    if quick == STOP:
        if transaction_id is None:
            raise QuickActionError("transaction", str(_("Choose the session to stop.")))
        if v201:
            if not ocpp_transaction_id:
                raise QuickActionError(
                    "transaction",
                    str(_("The charger has not named this session: it cannot be stopped.")),
                )
            return "RequestStopTransaction", {"transactionId": ocpp_transaction_id}
        return "RemoteStopTransaction", {"transactionId": transaction_id}
    raise QuickActionError("quick", str(_("Unknown quick action.")))


def plug_to_unlock(plug_statuses: dict | None) -> int | None:
    """The plug of a 2.0.1 EVSE to unlock: the one in use (or faulted), else the only one."""
    plugs = {}
    for key, status in (plug_statuses or {}).items():
        try:
            plugs[int(key)] = status
        except (TypeError, ValueError):
            continue
    for wanted in ("Occupied", "Faulted"):
        in_use = sorted(plug for plug, status in plugs.items() if status == wanted)
        if in_use:
            return in_use[0]
    return min(plugs) if plugs else None
