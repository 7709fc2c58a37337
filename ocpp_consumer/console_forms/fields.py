"""One form field per schema leaf, with the widget an operator expects.

Generic by type (enums are choices, date-times are pickers, integers and
numbers are typed, arrays of objects are JSON), and three roles picked by
their place in the request, whatever the version spells them:

- a connector (1.6 connectorId) or EVSE (2.0.1 evseId, evse.id): a choice
  among the charge point's reported connectors, with their status;
- an id tag (1.6 idTag, 2.0.1 idToken.idToken): never blank, with
  suggestions from the id tag register (a datalist the page's script
  fills from a staff-only search);
- a session (transactionId): suggestions from the charge point's running
  sessions, as the version numbers them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..framing import V16, V201
from .schema import Leaf, description_text, enum_values

INT32_MAX = 2**31 - 1
IDTAG_DATALIST = "console-idtag-options"
SESSION_DATALIST = "console-session-options"
# Longer text gets a text area (certificates, data, message contents).
LONG_TEXT = 255
DATETIME_INPUT_FORMATS = ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S"]

CONNECTOR, ID_TAG, SESSION = "connector", "id_tag", "session"

_CONNECTOR_PATHS = {
    V16: {("connectorId",)},
    # 2.0.1 UnlockConnector's connectorId is a plug of the EVSE: a number, not a pick.
    V201: {("evseId",), ("evse", "id"), ("chargingProfileCriteria", "evseId")},
}
# Where connector (EVSE) 0 means "the whole charge point".
_WHOLE_CHARGE_POINT = {
    V16: {
        "ChangeAvailability",
        "ClearChargingProfile",
        "GetCompositeSchedule",
        "ReserveNow",
        "SetChargingProfile",
    },
    V201: {
        "ClearChargingProfile",
        "GetChargingProfiles",
        "GetCompositeSchedule",
        "SetChargingProfile",
    },
}
_ID_TAG_PATHS = {
    V16: {("idTag",), ("parentIdTag",)},
    V201: {("idToken", "idToken"), ("groupIdToken", "idToken")},
}


@dataclass(frozen=True)
class CommandContext:
    """What the form knows of the charge point it is for."""

    version: str
    action: str
    # (connector id, "#1 Available") of the reported connectors (EVSEs) above 0.
    connectors: list[tuple[int, str]] = field(default_factory=list)
    # (transactionId as the version names it, a label) of its running sessions.
    sessions: list[tuple[str, str]] = field(default_factory=list)
    idtag_search_url: str = ""
    # Initial values the charge point's records suggest, by schema path
    # (ReserveNow: the next free reservation id).
    initial: dict[tuple[str, ...], object] = field(default_factory=dict)


def leaf_role(leaf: Leaf, version: str) -> str | None:
    if leaf.path in _CONNECTOR_PATHS.get(version, ()):
        return CONNECTOR
    if leaf.path in _ID_TAG_PATHS.get(version, ()):
        return ID_TAG
    if leaf.path[-1] == "transactionId":
        return SESSION
    return None


_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z0-9]+")
_ACRONYMS = {"evse": "EVSE", "ocpp": "OCPP", "csms": "CSMS", "url": "URL", "apn": "APN",
             "vpn": "VPN", "sim": "SIM", "id": "id", "ev": "EV", "v2g": "V2G"}  # fmt: skip


def humanize(name: str) -> str:
    """chargingProfilePurpose -> "Charging profile purpose"; evseId -> "EVSE id"."""
    words = [_ACRONYMS.get(word.lower(), word.lower()) for word in _WORD.findall(name)]
    if not words:
        return name
    first = words[0]
    return " ".join([first if first.isupper() else first.capitalize(), *words[1:]])


def leaf_field(leaf: Leaf, *, context: CommandContext, required: bool) -> forms.Field:
    """The form field of a leaf; `required` says whether the form must have it filled."""
    role = leaf_role(leaf, context.version)
    schema = leaf.schema
    help_text = description_text(schema)
    if role == CONNECTOR and schema.get("type") == "integer":
        built = _connector_field(leaf, context=context, required=required)
    elif role == ID_TAG:
        built = _id_tag_field(leaf, context=context, required=required)
    elif role == SESSION:
        built = _session_field(leaf, required=required)
    else:
        built = _typed_field(schema, required=required)
        built.label = humanize(leaf.path[-1])
    if help_text and not built.help_text:
        built.help_text = help_text
    return built


def _connector_field(leaf: Leaf, *, context: CommandContext, required: bool) -> forms.Field:
    whole = context.action in _WHOLE_CHARGE_POINT.get(context.version, ())
    label = _("EVSE") if context.version == V201 else _("Connector")
    if not context.connectors:  # none reported yet: the operator types the number
        return forms.IntegerField(
            label=label, required=required, min_value=0 if whole else 1, max_value=INT32_MAX
        )
    choices: list[tuple[object, str]] = [] if required else [("", _("— (not given)"))]
    if whole:
        choices.append((0, _("0: the whole charge point")))
    choices += context.connectors
    return forms.TypedChoiceField(
        label=label, choices=choices, coerce=int, empty_value=None, required=required
    )


def _id_tag_field(leaf: Leaf, *, context: CommandContext, required: bool) -> forms.Field:
    label = _("Group id tag") if leaf.path[0] in ("parentIdTag", "groupIdToken") else _("Id tag")
    attrs = {
        "list": IDTAG_DATALIST,
        "autocomplete": "off",
        "class": "vTextField console-idtag",
        "data-idtag-search": context.idtag_search_url,
        "placeholder": _("type to search the id tags"),
    }
    # strip: a tag of spaces is a blank tag, refused as one.
    return forms.CharField(
        label=label,
        required=required,
        strip=True,
        max_length=leaf.schema.get("maxLength"),
        widget=forms.TextInput(attrs=attrs),
    )


def _session_field(leaf: Leaf, *, required: bool) -> forms.Field:
    attrs = {"list": SESSION_DATALIST, "autocomplete": "off"}
    label = _("Session (transactionId)")
    if leaf.schema.get("type") == "integer":  # 1.6: our transaction id
        return forms.IntegerField(
            label=label,
            required=required,
            min_value=0,
            max_value=INT32_MAX,
            widget=forms.NumberInput(attrs=attrs),
        )
    return forms.CharField(  # 2.0.1: the charger's own transactionId
        label=label,
        required=required,
        max_length=leaf.schema.get("maxLength"),
        widget=forms.TextInput(attrs={**attrs, "class": "vTextField"}),
    )


def _typed_field(schema: dict, *, required: bool) -> forms.Field:
    kind = schema.get("type")
    values = enum_values(schema)
    if values is not None and kind == "string":
        blank = [] if required else [("", "—")]
        return forms.ChoiceField(choices=blank + [(v, v) for v in values], required=required)
    if kind == "string" and schema.get("format") == "date-time":
        return OcppDateTimeField(required=required)
    if kind == "string":
        return _text_field(schema, required=required)
    if kind == "integer":
        # No OCPP request to a charger carries a negative integer (ids,
        # durations, counts, levels): refusing one here is refusing a typo.
        return forms.IntegerField(required=required, min_value=0, max_value=INT32_MAX)
    if kind == "number":
        step = "0.1" if schema.get("multipleOf") == 0.1 else "any"
        return OcppNumberField(required=required, widget=forms.NumberInput(attrs={"step": step}))
    if kind == "boolean":
        return OcppBooleanField(required=required)
    if kind == "array":
        return _array_field(schema, required=required)
    return JsonValueField(required=required)  # a value of any type (2.0.1 DataTransfer data)


def _text_field(schema: dict, *, required: bool) -> forms.CharField:
    max_length = schema.get("maxLength")
    if max_length is not None and max_length <= LONG_TEXT:
        return forms.CharField(
            required=required,
            max_length=max_length,
            widget=forms.TextInput(attrs={"class": "vTextField"}),
        )
    rows = 10 if (max_length or 0) >= 1000 else 4
    return forms.CharField(
        required=required,
        max_length=max_length,
        widget=forms.Textarea(attrs={"rows": rows, "cols": 80, "class": "vLargeTextField"}),
    )


def _array_field(schema: dict, *, required: bool) -> forms.Field:
    items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
    values = enum_values(items)
    if values is not None:
        return forms.MultipleChoiceField(
            choices=[(v, v) for v in values],
            required=required,
            widget=forms.CheckboxSelectMultiple,
        )
    if items.get("type") in ("string", "integer"):
        return LinesField(required=required, integers=items.get("type") == "integer")
    return JsonValueField(required=required, array=True)


class OcppDateTimeField(forms.DateTimeField):
    """A date-time picker (the operator's time zone); sent as OCPP UTC ("...Z")."""

    widget = forms.DateTimeInput(
        attrs={"type": "datetime-local", "step": "1"}, format="%Y-%m-%dT%H:%M:%S"
    )
    input_formats = DATETIME_INPUT_FORMATS

    def clean(self, value):
        moment = super().clean(value)
        if moment is None:
            return None
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment)
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def local_now(*, plus_seconds: int = 0) -> datetime:
    """The initial value of a required date-time: now (in the operator's zone), to the minute."""
    moment = timezone.localtime() + timedelta(seconds=plus_seconds)
    return moment.replace(second=0, microsecond=0, tzinfo=None)


class OcppNumberField(forms.DecimalField):
    """A decimal as typed (no binary rounding: limits are multiples of 0.1), sent as a number."""

    def clean(self, value):
        number = super().clean(value)
        if number is None:
            return None
        return int(number) if number == number.to_integral_value() else float(number)

    def prepare_value(self, value):
        return Decimal(str(value)) if isinstance(value, float) else value


class OcppBooleanField(forms.TypedChoiceField):
    def __init__(self, *, required: bool, **kwargs):
        # A blank first even when required: a yes/no the operator did not
        # pick (CustomerInformation's "clear") must not default to "yes".
        super().__init__(
            choices=[("", "—"), ("true", _("yes")), ("false", _("no"))],
            coerce=lambda value: value == "true",
            empty_value=None,
            required=required,
            **kwargs,
        )

    def prepare_value(self, value):
        return {True: "true", False: "false"}.get(value, value)


class LinesField(forms.CharField):
    """A list of strings or integers, one per line."""

    widget = forms.Textarea(attrs={"rows": 3, "cols": 40})

    def __init__(self, *, integers: bool = False, **kwargs):
        self.integers = integers
        kwargs.setdefault("help_text", _("One value per line."))
        super().__init__(**kwargs)

    def prepare_value(self, value):
        return "\n".join(str(item) for item in value) if isinstance(value, list) else value

    def clean(self, value):
        text = super().clean(value)
        lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
        if not self.integers:
            return lines
        try:
            return [int(line) for line in lines]
        except ValueError:
            raise ValidationError(_("Enter whole numbers, one per line."), code="invalid") from None


class JsonValueField(forms.JSONField):
    """A JSON sub-field: an array of objects, or a value of any type."""

    def __init__(self, *, array: bool = False, **kwargs):
        self.array = array
        kwargs.setdefault(
            "widget",
            forms.Textarea(attrs={"rows": 6, "cols": 80, "class": "vLargeTextField console-json"}),
        )
        kwargs.setdefault("help_text", _("JSON, as in the OCPP message."))
        super().__init__(**kwargs)

    def prepare_value(self, value):
        if value is None:
            return ""  # an empty box, not "null"
        if isinstance(value, list | dict):
            return json.dumps(value, indent=2)
        return super().prepare_value(value)

    def clean(self, value):
        cleaned = super().clean(value)
        if self.array and cleaned is not None and not isinstance(cleaned, list):
            raise ValidationError(_("Enter a JSON list ([...])."), code="invalid")
        return cleaned
