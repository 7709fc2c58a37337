"""The typed command forms: generated from each version's schema, never a blank id tag."""

from __future__ import annotations

import pytest
from django import forms

from ocpp_consumer import commands
from ocpp_consumer.commands.actions_201 import CSMS_ACTIONS
from ocpp_consumer.commands.validation import CS_TO_CP_ACTIONS
from ocpp_consumer.console_forms import CommandContext, TypedCommandForm, grouped_action_choices
from ocpp_consumer.console_forms.fields import OcppDateTimeField, humanize
from ocpp_consumer.framing import V16, V201, validate_request

CONNECTORS = [(1, "#1: Available"), (2, "#2: Faulted")]


def typed(action, version=V16, data=None, **context):
    context.setdefault("connectors", CONNECTORS)
    return TypedCommandForm(
        data, action=action, context=CommandContext(version=version, action=action, **context)
    )


def submitted(form: TypedCommandForm, **values) -> dict:
    """The form's initial values as a browser posts them, overridden by `values`."""
    data = {}
    for name, field in form.fields.items():
        value, widget = form[name].value(), field.widget
        if isinstance(widget, forms.SelectMultiple | forms.CheckboxSelectMultiple):
            data[name] = [str(item) for item in value or []]
        elif isinstance(widget, forms.Select):
            data[name] = "" if value is None else str(value)
        elif (shown := widget.format_value(value)) is not None:
            data[name] = shown
    data.update(values)
    return {key: value for key, value in data.items() if value is not None}


def test_remote_start_16_fields_from_the_schema():
    form = typed("RemoteStartTransaction")
    assert {"connectorId", "idTag", "chargingProfile__chargingProfileId"} <= set(form.fields)
    tag = form.fields["idTag"]
    assert tag.required and tag.max_length == 20
    assert tag.widget.attrs["list"] == "console-idtag-options"
    connector = form.fields["connectorId"]
    assert isinstance(connector, forms.TypedChoiceField)
    # Optional in 1.6; 0 is no connector to start on.
    assert [value for value, _ in connector.choices] == ["", 1, 2]
    purpose = form.fields["chargingProfile__chargingProfilePurpose"]
    assert [value for value, _ in purpose.choices] == [
        "",
        "ChargePointMaxProfile",
        "TxDefaultProfile",
        "TxProfile",
    ]
    # A field of the optional profile is required only once the profile is given.
    assert not form.fields["chargingProfile__stackLevel"].required


@pytest.mark.parametrize("tag", ["", "   ", "\t"])
def test_a_blank_id_tag_is_refused(tag):
    form = typed("RemoteStartTransaction", data={"mode": "typed", "action": "RemoteStartTransaction",
                                                  "connectorId": "1", "idTag": tag})  # fmt: skip
    assert not form.is_valid()
    assert form.errors["idTag"] == ["This field is required."]
    assert form.payload is None


def test_remote_start_payload_is_what_the_schema_wants():
    form = typed("RemoteStartTransaction")
    form = typed("RemoteStartTransaction", data=submitted(form, connectorId="2", idTag=" CARD-7 "))
    assert form.is_valid(), form.errors
    assert form.payload == {"connectorId": 2, "idTag": "CARD-7"}
    validate_request("RemoteStartTransaction", form.payload, V16)


def test_an_optional_object_is_sent_whole_or_not_at_all():
    base = typed("RemoteStartTransaction")
    half = typed(
        "RemoteStartTransaction",
        data=submitted(base, idTag="T", chargingProfile__stackLevel="1"),
    )
    assert not half.is_valid()
    assert half.errors["chargingProfile__chargingProfileId"] == ["This field is required."]
    assert half.errors["chargingProfile__chargingSchedule__chargingRateUnit"] == [
        "This field is required."
    ]
    whole = typed(
        "RemoteStartTransaction",
        data=submitted(
            base,
            idTag="T",
            chargingProfile__chargingProfileId="9",
            chargingProfile__stackLevel="1",
            chargingProfile__chargingProfilePurpose="TxProfile",
            chargingProfile__chargingProfileKind="Relative",
            chargingProfile__chargingSchedule__chargingRateUnit="A",
            chargingProfile__chargingSchedule__chargingSchedulePeriod='[{"startPeriod": 0, "limit": 10.5}]',
        ),
    )
    assert whole.is_valid(), whole.errors
    assert whole.payload["chargingProfile"] == {
        "chargingProfileId": 9,
        "stackLevel": 1,
        "chargingProfilePurpose": "TxProfile",
        "chargingProfileKind": "Relative",
        "chargingSchedule": {
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 10.5}],
        },
    }
    validate_request("RemoteStartTransaction", whole.payload, V16)


def test_a_domain_rule_is_shown_on_its_field():
    """The very validation command_send runs: a TxProfile needs a transaction (1.6)."""
    base = typed("SetChargingProfile")
    form = typed(
        "SetChargingProfile",
        data=submitted(
            base, csChargingProfiles__chargingProfilePurpose="TxProfile", connectorId="0"
        ),
    )
    assert not form.is_valid()
    assert form.errors["connectorId"] == ["a TxProfile needs a connector, not 0"]
    assert form.errors["csChargingProfiles__transactionId"] == ["a TxProfile names its transaction"]


def test_request_start_201_id_token_and_evse():
    form = typed("RequestStartTransaction", V201)
    evse = form.fields["evseId"]
    assert str(evse.label) == "EVSE" and [v for v, _ in evse.choices] == ["", 1, 2]
    assert form.fields["idToken__type"].initial == "ISO14443"
    assert "NoAuthorization" in [v for v, _ in form.fields["idToken__type"].choices]
    # The command path gives the command's own id when none is given.
    assert not form.fields["remoteStartId"].required
    blank = typed("RequestStartTransaction", V201, data=submitted(form, idToken__idToken="  "))
    assert not blank.is_valid()
    assert blank.errors["idToken__idToken"] == ["This field is required."]
    good = typed(
        "RequestStartTransaction", V201, data=submitted(form, idToken__idToken="CARD", evseId="2")
    )
    assert good.is_valid(), good.errors
    assert good.payload == {"evseId": 2, "idToken": {"idToken": "CARD", "type": "ISO14443"}}
    validate_request("RequestStartTransaction", {**good.payload, "remoteStartId": 1}, V201)


def test_no_authorization_sends_an_empty_id_token():
    form = typed("RequestStartTransaction", V201)
    data = submitted(form, idToken__idToken="", idToken__type="NoAuthorization")
    free = typed("RequestStartTransaction", V201, data=data)
    assert free.is_valid(), free.errors
    assert free.payload["idToken"] == {"idToken": "", "type": "NoAuthorization"}


def test_enums_dates_and_numbers_are_typed():
    form = typed("ReserveNow", initial={("reservationId",): 42})
    assert form.fields["reservationId"].initial == 42
    assert isinstance(form.fields["expiryDate"], OcppDateTimeField)
    assert form.fields["expiryDate"].widget.input_type == "datetime-local"
    # ReserveNow may reserve the whole charge point (connector 0).
    assert [v for v, _ in form.fields["connectorId"].choices] == [0, 1, 2]
    posted = typed(
        "ReserveNow",
        data=submitted(form, idTag="T-1", expiryDate="2030-05-01T10:30", connectorId="0"),
        initial={("reservationId",): 42},
    )
    assert posted.is_valid(), posted.errors
    assert posted.payload == {
        "connectorId": 0,
        "expiryDate": "2030-05-01T10:30:00Z",  # the test settings' zone is UTC
        "idTag": "T-1",
        "reservationId": 42,
    }


def test_enum_refuses_a_value_outside_the_schema():
    form = typed("Reset", data={"mode": "typed", "action": "Reset", "type": "Warm"})
    assert not form.is_valid()
    assert "type" in form.errors


def test_without_known_connectors_the_number_is_typed():
    form = typed("UnlockConnector", connectors=[])
    field = form.fields["connectorId"]
    assert isinstance(field, forms.IntegerField) and field.min_value == 1


def test_session_suggestions_and_the_only_running_session_first():
    form = typed("RemoteStopTransaction", sessions=[("17", "session 17")])
    assert form.fields["transactionId"].widget.attrs["list"] == "console-session-options"
    assert form["transactionId"].value() == "17"
    posted = typed("RemoteStopTransaction", data=submitted(form), sessions=[("17", "session 17")])
    assert posted.is_valid() and posted.payload == {"transactionId": 17}
    stop_201 = typed("RequestStopTransaction", V201, sessions=[("tx-a", "a"), ("tx-b", "b")])
    assert stop_201["transactionId"].value() is None  # two running: the operator picks


def test_arrays_of_enums_values_and_objects():
    certificates = typed("GetInstalledCertificateIds", V201)
    assert isinstance(certificates.fields["certificateType"], forms.MultipleChoiceField)
    keys = typed("GetConfiguration", data={"mode": "typed", "action": "GetConfiguration",
                                          "key": "HeartbeatInterval\n\nMeterValueSampleInterval\n"})  # fmt: skip
    assert keys.is_valid() and keys.payload == {
        "key": ["HeartbeatInterval", "MeterValueSampleInterval"]
    }
    variables = typed("SetVariables", V201)
    bad = typed(
        "SetVariables", V201, data=submitted(variables, setVariableData='{"not": "a list"}')
    )
    assert not bad.is_valid() and "setVariableData" in bad.errors
    broken = typed("SetVariables", V201, data=submitted(variables, setVariableData="[{"))
    assert not broken.is_valid() and "setVariableData" in broken.errors


def test_a_required_object_with_optional_fields_only_is_sent_empty():
    form = typed("GetChargingProfiles", V201)
    posted = typed("GetChargingProfiles", V201, data=submitted(form))
    assert posted.is_valid(), posted.errors
    assert posted.payload == {"requestId": 1, "chargingProfile": {}}


def test_nested_objects_are_labelled_by_their_place():
    form = typed("SetDisplayMessage", V201)
    titles = [section.title for section in form.sections()]
    assert titles == ["Message"]
    labels = [str(bound.label) for bound in form.sections()[0].fields]
    assert "Display › EVSE › Id" in labels and "Message › Content" in labels


@pytest.mark.parametrize(
    ("version", "actions"), [(V16, CS_TO_CP_ACTIONS), (V201, CSMS_ACTIONS)], ids=["1.6", "2.0.1"]
)
def test_every_action_has_a_form_whose_example_is_schema_valid(version, actions):
    """Filled with its initial values (plus what only the operator knows), each form's
    payload passes the schema command_send checks."""
    operator_fills = {
        "idTag": "TAG",
        "idToken__idToken": "TAG",
        "transactionId": "1" if version == V16 else "tx-1",
        "reservationId": "3",
        "certificateChain": "-----BEGIN CERTIFICATE-----",
        "certificate": "-----BEGIN CERTIFICATE-----",
        "certificateHashData__issuerNameHash": "aa",
        "certificateHashData__issuerKeyHash": "bb",
        "certificateHashData__serialNumber": "01",
        "log__remoteLocation": "https://logs.example.com/up",
        "firmware__location": "https://fw.example.com/1.bin",
        "firmware__signingCertificate": "-----BEGIN CERTIFICATE-----",
        "firmware__signature": "c2ln",
        "message__message__content": "Welcome",
    }
    for action in sorted(actions):
        form = typed(action, version)
        values = {k: v for k, v in operator_fills.items() if k in form.fields}
        if form.fields.get("idToken__type") and form.fields["idToken__type"].initial is None:
            values.pop("idToken__idToken")  # an optional idToken (CustomerInformation): left out
        posted = typed(action, version, data=submitted(form, **values))
        assert posted.is_valid(), (action, posted.errors)
        payload = dict(posted.payload)
        if action == "RequestStartTransaction":
            payload["remoteStartId"] = 1  # the command path fills it
        commands.command_validate(action=action, payload=payload, version=version)


def test_actions_are_grouped_and_security_is_apart_from_reset():
    groups = dict(grouped_action_choices(V16))
    names = {str(label): [value for value, _ in choices] for label, choices in groups.items()}
    assert "Reset" in names["Availability & reset"]
    assert "InstallCertificate" in names["Security"]
    assert "Reset" not in names["Security"]
    assert names["Sessions"][:2] == ["CancelReservation", "RemoteStartTransaction"]
    offered_201 = {v for _, choices in grouped_action_choices(V201) for v, _ in choices}
    assert offered_201 == CSMS_ACTIONS


def test_humanized_labels():
    assert humanize("chargingProfilePurpose") == "Charging profile purpose"
    assert humanize("evseId") == "EVSE id"
    assert humanize("ocppCsmsUrl") == "OCPP CSMS URL"


@pytest.mark.parametrize(
    ("action", "version", "payload", "field"),
    [
        ("RemoteStartTransaction", V16, {"idTag": "  "}, "idTag"),
        ("ReserveNow", V16, {"connectorId": 1, "expiryDate": "2030-01-01T00:00:00Z",
                             "idTag": "", "reservationId": 1}, "idTag"),
        ("RequestStartTransaction", V201,
         {"remoteStartId": 1, "idToken": {"idToken": " ", "type": "Central"}}, "idToken/idToken"),
    ],
)  # fmt: skip
def test_command_validate_refuses_a_blank_id_tag(action, version, payload, field):
    with pytest.raises(commands.InvalidPayload) as refused:
        commands.command_validate(action=action, payload=payload, version=version)
    assert str(refused.value) == f"{field}: This field may not be blank."


def test_command_validate_takes_an_empty_token_without_authorization():
    commands.command_validate(
        action="RequestStartTransaction",
        payload={"remoteStartId": 1, "idToken": {"idToken": "", "type": "NoAuthorization"}},
        version=V201,
    )
