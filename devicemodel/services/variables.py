"""The variables of a charge point: reported, read and set.

Values come as neutral dataclasses (snake_case, no OCPP payloads): the
OCPP adapter translates NotifyReport, GetVariables and SetVariables.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from stations.services.security import REDACTED

from ..choices import AttributeType, Mutability, SetStatus
from ..models import DeviceVariable, VariableAttribute


@dataclass(frozen=True)
class VariableKey:
    """Which variable: component (name, instance, EVSE, connector) and variable (name, instance)."""

    component: str
    variable: str
    component_instance: str = ""
    evse_id: int | None = None
    connector_id: int | None = None
    variable_instance: str = ""

    def lookup(self) -> dict:
        return {
            "component": self.component,
            "component_instance": self.component_instance,
            "evse_id": self.evse_id,
            "connector_id": self.connector_id if self.evse_id is not None else None,
            "name": self.variable,
            "instance": self.variable_instance,
        }


@dataclass(frozen=True)
class Characteristics:
    data_type: str
    unit: str = ""
    min_limit: float | None = None
    max_limit: float | None = None
    values_list: str = ""
    supports_monitoring: bool | None = None


@dataclass(frozen=True)
class AttributeReport:
    type: str = AttributeType.ACTUAL
    value: str | None = None
    mutability: str = Mutability.READ_WRITE
    persistent: bool = False
    constant: bool = False


@dataclass(frozen=True)
class ReportedVariable:
    key: VariableKey
    attributes: tuple[AttributeReport, ...] = ()
    characteristics: Characteristics | None = None


@dataclass(frozen=True)
class ReadValue:
    """An attribute value the charger returned for GetVariables (status Accepted)."""

    key: VariableKey
    value: str | None
    attribute_type: str = AttributeType.ACTUAL


@dataclass(frozen=True)
class SetOutcome:
    """The value we asked to set and the charger's answer for it."""

    key: VariableKey
    value: str
    status: str
    attribute_type: str = AttributeType.ACTUAL


def _variable(*, charge_point_pk: int, key: VariableKey) -> DeviceVariable:
    variable, _ = DeviceVariable.objects.get_or_create(
        charge_point_id=charge_point_pk, **key.lookup()
    )
    return variable


def _stored_value(value: str | None, mutability: str) -> str | None:
    """A write-only attribute (a password) is never stored in clear."""
    if mutability == Mutability.WRITE_ONLY and value is not None:
        return REDACTED
    return value


@transaction.atomic
def variables_report(
    *, charge_point_pk: int, variables: Iterable[ReportedVariable], request_id: int | None
) -> int:
    """Store what a report says of each variable: characteristics and attributes. Count them."""
    count = 0
    for reported in variables:
        variable = _variable(charge_point_pk=charge_point_pk, key=reported.key)
        characteristics = reported.characteristics
        if characteristics is not None:
            variable.data_type = characteristics.data_type
            variable.unit = characteristics.unit
            variable.min_limit = characteristics.min_limit
            variable.max_limit = characteristics.max_limit
            variable.values_list = characteristics.values_list
            variable.supports_monitoring = characteristics.supports_monitoring
        variable.report_request_id = request_id
        variable.save()
        for attribute in reported.attributes:
            VariableAttribute.objects.update_or_create(
                variable=variable,
                type=attribute.type,
                defaults={
                    "value": _stored_value(attribute.value, attribute.mutability),
                    "mutability": attribute.mutability,
                    "persistent": attribute.persistent,
                    "constant": attribute.constant,
                },
            )
        count += 1
    return count


@transaction.atomic
def variable_values_read(*, charge_point_pk: int, values: Iterable[ReadValue]) -> None:
    """Store the values a GetVariables returned (a variable not reported before is added)."""
    for read in values:
        variable = _variable(charge_point_pk=charge_point_pk, key=read.key)
        attribute, created = VariableAttribute.objects.get_or_create(
            variable=variable, type=read.attribute_type, defaults={"value": read.value}
        )
        if not created:
            attribute.value = _stored_value(read.value, attribute.mutability)
            attribute.save(update_fields=["value", "updated_at"])


@transaction.atomic
def variable_values_set(*, charge_point_pk: int, outcomes: Iterable[SetOutcome]) -> None:
    """Record the answer to each value set; an accepted one becomes the stored value.

    RebootRequired is accepted too: the value is stored and marked as
    applying after the next boot. A variable the charger does not know is
    not added to its device model.
    """
    now = timezone.now()
    for outcome in outcomes:
        accepted = outcome.status in (SetStatus.ACCEPTED, SetStatus.REBOOT_REQUIRED)
        if accepted:
            variable = _variable(charge_point_pk=charge_point_pk, key=outcome.key)
        else:
            variable = DeviceVariable.objects.filter(
                charge_point_id=charge_point_pk, **outcome.key.lookup()
            ).first()
            if variable is None:
                continue
        attribute, _ = VariableAttribute.objects.get_or_create(
            variable=variable, type=outcome.attribute_type
        )
        attribute.set_status = outcome.status
        attribute.set_at = now
        if accepted:
            attribute.value = _stored_value(outcome.value, attribute.mutability)
            attribute.reboot_required = outcome.status == SetStatus.REBOOT_REQUIRED
        attribute.save()
