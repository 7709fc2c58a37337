"""Getting the CSMS ready for a simulated fleet: its charge points and id tags.

Sessions start only where the CSMS accepts the charge point and the id tag.
The simulator is a client of any CSMS and imports none of this project's
code; a project that can prepare itself names, in the SIMULATOR_PREPARE
setting, a function that registers the fleet in its own database:

    prepare(charge_point_ids=[...], id_tags=[...], password=None) -> list[str]

(the lines returned say what it created and what it used). `manage.py
simulate` calls it when the URL is on this machine (the CSMS of this folder,
as `bin/run` serves it), or when asked with --setup; --no-setup skips it.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.module_loading import import_string

from .config import SimulationConfig

LOCAL_NAMES = {"localhost", "localhost.localdomain", "0.0.0.0", ""}


class PrepareError(RuntimeError):
    """The CSMS could not be prepared (no setting, or its function failed)."""


def preparer() -> Callable[..., list[str]] | None:
    """The project's preparing function, or None for a CSMS that offers none."""
    path = getattr(settings, "SIMULATOR_PREPARE", "")
    return import_string(path) if path else None


def url_is_local(url: str) -> bool:
    """Whether the URL points at this machine (a loopback address or its own name)."""
    host = (urlsplit(url).hostname or "").lower()
    if host in LOCAL_NAMES or host in {socket.gethostname().lower(), socket.getfqdn().lower()}:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def should_prepare(config: SimulationConfig, asked: bool | None) -> bool:
    """--setup (True), --no-setup (False), or by default: a local URL and a preparer."""
    if asked is not None:
        return asked
    return url_is_local(config.url) and bool(getattr(settings, "SIMULATOR_PREPARE", ""))


def fleet_prepare(config: SimulationConfig) -> list[str]:
    """Register the fleet's charge points and id tags; the lines say what was done.

    Raises PrepareError when there is nothing to call or the call failed.
    """
    try:
        prepare = preparer()
    except ImportError as exc:
        raise PrepareError(f"SIMULATOR_PREPARE cannot be imported: {exc}") from exc
    if prepare is None:
        raise PrepareError("this project names no SIMULATOR_PREPARE function")
    try:
        return prepare(
            charge_point_ids=[config.charge_point_id(n) for n in range(config.charge_points)],
            id_tags=config.all_id_tags(),
            password=config.password,
        )
    except Exception as exc:  # its database may not exist here: say so, in one line
        raise PrepareError(f"{type(exc).__name__}: {exc}") from exc
