"""What a simulation run is asked to do, checked before anything connects.

Every option of `manage.py simulate` lands in one frozen `SimulationConfig`;
`validate()` rejects nonsense up front (an hour-long run must not fail at the
end because its report cannot be written).
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from fractions import Fraction
from urllib.parse import quote

from websockets.exceptions import InvalidURI
from websockets.uri import parse_uri

# idTag is an OCPP CiString20.
ID_TAG_MAX_LENGTH = 20
# Chargers are rarely built with more; the limit only catches typos.
MAX_CONNECTORS = 100
# A charge point id is a CiString (the project accepts up to 64 characters).
MAX_CHARGE_POINT_ID_LENGTH = 64
OCPP_VERSIONS = ("1.6", "2.0.1")
MIXED = "mixed"
# The share of 2.0.1 charge points in a mixed fleet unless --mix says otherwise.
DEFAULT_MIX = 0.5


class ConfigError(ValueError):
    """An option that cannot work; the message names it."""


@dataclass(frozen=True)
class SimulationConfig:
    url: str
    charge_points: int = 1
    id_prefix: str = "SIM-"
    id_start: int = 1
    connectors: int = 2
    password: str | None = None
    insecure: bool = False
    duration: float = 0.0
    ramp: float = 50.0
    heartbeat_interval: float | None = None
    sessions_per_hour: float = 2.0
    session_minutes: float = 30.0
    meter_interval: float = 60.0
    id_tags: tuple[str, ...] = ("SIMTAG",)
    id_tag_count: int | None = None
    rate: float | None = None
    seed: int | None = None
    call_timeout: float = 30.0
    connect_timeout: float = 30.0
    backoff_base: float = 1.0
    backoff_cap: float = 60.0
    stop_timeout: float = 10.0
    json_path: str | None = None
    # "1.6", "2.0.1", or "mixed" (then `mix` of the charge points speak 2.0.1).
    ocpp_version: str = "1.6"
    mix: float | None = None

    def validate(self) -> SimulationConfig:
        """Raise ConfigError for the first option that cannot work; return self."""
        try:
            parse_uri(self.url)
        except InvalidURI as exc:
            raise ConfigError(f"--url must be a ws:// or wss:// URL: {exc}") from None
        if "?" in self.url or "#" in self.url:
            raise ConfigError("--url must not carry a query: the charge point id is appended")
        _at_least("--charge-points", self.charge_points, 1)
        _at_least("--id-start", self.id_start, 0)
        if not 1 <= self.connectors <= MAX_CONNECTORS:
            raise ConfigError(f"--connectors must be between 1 and {MAX_CONNECTORS}")
        if len(self.charge_point_id(self.charge_points - 1)) > MAX_CHARGE_POINT_ID_LENGTH:
            raise ConfigError(
                f"--id-prefix is too long: ids may have {MAX_CHARGE_POINT_ID_LENGTH} characters"
            )
        _at_least("--duration", self.duration, 0)
        _positive("--ramp", self.ramp)
        if self.heartbeat_interval is not None:
            _positive("--heartbeat-interval", self.heartbeat_interval)
        _at_least("--sessions-per-hour", self.sessions_per_hour, 0)
        _positive("--session-minutes", self.session_minutes)
        _positive("--meter-interval", self.meter_interval)
        if self.rate is not None:
            _positive("--rate", self.rate)
            if self.heartbeat_interval is not None:
                raise ConfigError("--rate and --heartbeat-interval exclude each other")
        if not self.id_tags:
            raise ConfigError("--id-tag needs at least one id tag")
        if self.id_tag_count is not None:
            _at_least("--id-tag-count", self.id_tag_count, 1)
        for tag in self.all_id_tags():
            if not 1 <= len(tag) <= ID_TAG_MAX_LENGTH:
                raise ConfigError(f"--id-tag {tag!r}: an idTag has 1 to 20 characters")
        if self.password is not None and not self.password:
            raise ConfigError("--password must not be empty")
        if self.password and ":" in self.id_prefix:
            raise ConfigError("--id-prefix must not contain ':' with --password (HTTP Basic)")
        for name in ("call_timeout", "connect_timeout", "backoff_base", "backoff_cap"):
            _positive("--" + name.replace("_", "-"), getattr(self, name))
        if self.backoff_cap < self.backoff_base:
            raise ConfigError("--backoff-cap must not be below --backoff-base")
        _at_least("--stop-timeout", self.stop_timeout, 0)
        if self.ocpp_version not in (*OCPP_VERSIONS, MIXED):
            raise ConfigError(
                f"--ocpp-version must be 1.6, 2.0.1 or mixed (got {self.ocpp_version!r})"
            )
        if self.mix is not None:
            if self.ocpp_version != MIXED:
                raise ConfigError("--mix needs --ocpp-version mixed")
            if not 0 <= self.mix <= 1:
                raise ConfigError(f"--mix must be between 0 and 1 (got {self.mix})")
        if self.json_path:
            folder = os.path.dirname(os.path.abspath(self.json_path))
            if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
                raise ConfigError(f"--json: cannot write into {folder}")
        return self

    @property
    def secure(self) -> bool:
        return self.url.lower().startswith("wss:")

    def charge_point_id(self, index: int) -> str:
        """The id of the index-th charge point (0-based): SIM-00001, SIM-00002..."""
        return f"{self.id_prefix}{self.id_start + index:05d}"

    def all_id_tags(self) -> list[str]:
        """The id tags drivers carry: --id-tag, each numbered 1..N with --id-tag-count."""
        if self.id_tag_count is None:
            return list(self.id_tags)
        width = max(4, len(str(self.id_tag_count)))
        return [
            f"{tag}{number:0{width}d}"
            for tag in self.id_tags
            for number in range(1, self.id_tag_count + 1)
        ]

    def version_for(self, index: int) -> str:
        """The OCPP version the index-th charge point (0-based) speaks.

        In a mixed fleet the 2.0.1 ones are spread evenly, not bunched: the
        index-th is 2.0.1 when floor((index + 1) * mix) passes an integer, so
        `--mix 0.5` alternates (SIM-00001 1.6, SIM-00002 2.0.1...) and
        floor(N * mix) of N charge points speak 2.0.1, whatever N is.
        """
        if self.ocpp_version != MIXED:
            return self.ocpp_version
        share = Fraction(str(DEFAULT_MIX if self.mix is None else self.mix))
        return "2.0.1" if math.floor((index + 1) * share) > math.floor(index * share) else "1.6"

    def version_counts(self) -> dict[str, int]:
        """How many charge points speak each version (only versions with any)."""
        counts: dict[str, int] = {}
        for index in range(self.charge_points):
            version = self.version_for(index)
            counts[version] = counts.get(version, 0) + 1
        return dict(sorted(counts.items()))

    def url_for(self, charge_point_id: str) -> str:
        """The charge point's WebSocket URL: the base, then its percent-encoded id."""
        base = self.url if self.url.endswith("/") else self.url + "/"
        return base + quote(charge_point_id, safe="")

    def public_dict(self) -> dict:
        """The options for the report: never the password."""
        data = asdict(self)
        data["password"] = "********" if self.password else None
        data["id_tags"] = list(self.id_tags)
        return data


def _positive(name: str, value: float) -> None:
    if not value > 0:
        raise ConfigError(f"{name} must be greater than 0 (got {value})")


def _at_least(name: str, value: float, minimum: float) -> None:
    if not value >= minimum:
        raise ConfigError(f"{name} must be at least {minimum} (got {value})")
