"""A charge point's configuration keys as it reported or accepted them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction

from ..models import ConfigurationKey
from .security import REDACTED, SECRET_CONFIGURATION_KEYS, security_configuration_changed


@dataclass(frozen=True)
class ConfigurationValue:
    """One key as the charge point reported it (`value` None: it has no value)."""

    key: str
    value: str | None = None
    readonly: bool = False


@transaction.atomic
def configuration_keys_record(
    *,
    charge_point_pk: int,
    keys: Iterable[ConfigurationValue],
    unknown_keys: Iterable[str] = (),
) -> None:
    """Keep the keys a charge point reported, and mark the ones it does not know."""
    for item in keys:
        ConfigurationKey.objects.update_or_create(
            charge_point_id=charge_point_pk,
            key=item.key,
            defaults={"value": item.value, "readonly": item.readonly, "is_known": True},
        )
    for key in unknown_keys:
        ConfigurationKey.objects.update_or_create(
            charge_point_id=charge_point_pk,
            key=key,
            defaults={"value": None, "is_known": False},
        )


def configuration_key_changed(*, charge_point_pk: int, key: str, value: str) -> None:
    """Record a change the charge point accepted; apply it if it concerns security.

    A secret value (the AuthorizationKey) is stored masked.
    """
    security_configuration_changed(charge_point_pk=charge_point_pk, key=key, value=value)
    ConfigurationKey.objects.update_or_create(
        charge_point_id=charge_point_pk,
        key=key,
        defaults={
            "value": REDACTED if key in SECRET_CONFIGURATION_KEYS else value,
            "is_known": True,
        },
    )
