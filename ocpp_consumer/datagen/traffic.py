"""What crossed the sockets: status notifications, commands and the message journal."""

from __future__ import annotations

import json
import random
from bisect import bisect_right
from collections.abc import Iterator
from pathlib import Path

from stations.choices import ChargePointErrorCode, ConnectorStatus
from stations.models import ConnectorStatusLog

from ..models import Command, CommandStatus, Direction, JournalEntry
from .loader import copy_text
from .tables import Table

# What charge points and the Central System send each other, with how often (weight) and
# the payloads of the CALL and its answer: their size matters here, not their truth.
MESSAGES = json.loads((Path(__file__).parent / "messages.json").read_text(encoding="utf-8"))
ERRORS_FROM_US = (
    "FormationViolation",
    "PropertyConstraintViolation",
    "OccurrenceConstraintViolation",
    "SecurityError",
)
ERRORS_FROM_CHARGER = ("NotImplemented", "NotSupported", "InternalError", "GenericError")
SHARE_FROM_CENTRAL_SYSTEM = 0.03
SHARE_CALL_ERROR = 0.003
SHARE_UNANSWERED = 0.001
SHARE_UNPARSABLE = 0.0001
IN, OUT = str(Direction.IN), str(Direction.OUT)  # the stored values, "in" and "out"
NULL = "\\N"  # COPY text's NULL


class Catalogue:
    """One version's messages, as COPY text and as values, with the draw of one by weight."""

    def __init__(self, messages: dict):
        self.incoming = [_message(m) for m in messages["from_charge_point"]]
        self.outgoing = [_message(m) for m in messages["from_central_system"]]
        self.in_weights = _cumulative(messages["from_charge_point"])
        self.out_weights = _cumulative(messages["from_central_system"])


def _message(item: dict) -> tuple[str, str, str]:
    compact = {"separators": (",", ":")}
    return (
        item["action"],
        json.dumps(item["call"], **compact),
        json.dumps(item["answer"], **compact),
    )


def _cumulative(items: list[dict]) -> list[int]:
    total, out = 0, []
    for item in items:
        total += item["weight"]
        out.append(total)
    return out


CATALOGUES = {version: Catalogue(messages) for version, messages in MESSAGES.items()}


def journal_frames(*, spec, network, now: float) -> Iterator[tuple]:
    """(charge point pk, direction, message type, unique id, action, payload JSON text,
    error code, raw, epoch) in time order, CALLs followed by their answers."""
    rng = random.Random(f"{spec.seed}-journal")
    random_float, bits = rng.random, rng.getrandbits
    pks, versions = network.charge_point_pks, network.charge_point_versions
    count = len(pks)
    begin = now - spec.journal_days * 86400
    # About two rows a pair (a few CALLs go unanswered): the last ones are held at the end.
    step = (now - begin - 1) / max((spec.journal_rows + 1) // 2, 1)
    rows = pair = 0
    counters = [0] * count
    while rows < spec.journal_rows and count:
        at = min(begin + pair * step, now - 1)
        pair += 1
        index = int(random_float() * count)
        cp = pks[index]
        catalogue = CATALOGUES[versions[index]]
        roll = random_float()
        if roll < SHARE_UNPARSABLE:
            rows += 1
            yield (cp, IN, None, "", "", None, "", '[2,"17",Heartbeat]', at)
            continue
        if random_float() < 0.7:  # most firmware: UUIDs; the rest a counter
            x = bits(128)
            uid = f"{x:032x}"
            uid = f"{uid[:8]}-{uid[8:12]}-{uid[12:16]}-{uid[16:20]}-{uid[20:]}"
        else:
            counters[index] += 1
            uid = str(counters[index])
        from_us = roll < SHARE_FROM_CENTRAL_SYSTEM
        if from_us:
            weights, messages = catalogue.out_weights, catalogue.outgoing
            call_dir, answer_dir, codes = OUT, IN, ERRORS_FROM_CHARGER
        else:
            weights, messages = catalogue.in_weights, catalogue.incoming
            call_dir, answer_dir, codes = IN, OUT, ERRORS_FROM_US
        action, call, answer = messages[bisect_right(weights, random_float() * weights[-1])]
        rows += 1
        yield (cp, call_dir, 2, uid, action, call, "", "", at)
        if rows >= spec.journal_rows:
            return
        answer_roll = random_float()
        if answer_roll < SHARE_UNANSWERED:
            continue
        answered = at + 0.01 + random_float() * 0.3
        rows += 1
        if answer_roll < SHARE_UNANSWERED + SHARE_CALL_ERROR:
            code = codes[int(random_float() * len(codes))]
            payload = '{"description":"payload does not match the schema"}'
            yield (cp, answer_dir, 4, uid, action, payload, code, "", answered)
        else:
            yield (cp, answer_dir, 3, uid, action, answer, "", "", answered)


JOURNAL_COLUMNS = (
    "charge_point_id",
    "direction",
    "message_type",
    "unique_id",
    "action",
    "payload",
    "error_code",
    "raw",
    "timestamp",
)


def journal_build(*, spec, loader, network, now: float) -> int:
    frames = journal_frames(spec=spec, network=network, now=now)
    stamp = loader.timestamp
    if loader.postgresql:
        # Pre-formatted COPY text: a quarter faster than row tuples at 10^8 rows. The
        # payloads are a few templates: each is escaped once.
        escaped: dict[str | None, str] = {None: NULL}

        def text(value):
            found = escaped.get(value)
            if found is None:
                found = escaped[value] = copy_text(value)
            return found

        lines = (
            f"{cp}\t{direction}\t{NULL if kind is None else kind}\t{uid}\t{action}\t"
            f"{text(payload)}\t{code}\t{text(raw)}\t{stamp(at)}\n"
            for cp, direction, kind, uid, action, payload, code, raw, at in frames
        )
        return loader.load_text(JournalEntry, JOURNAL_COLUMNS, lines, label="journal rows")
    rows = (
        (cp, direction, kind, uid, action, payload, code, raw, stamp(at))
        for cp, direction, kind, uid, action, payload, code, raw, at in frames
    )
    return loader.load(JournalEntry, JOURNAL_COLUMNS, rows, label="journal rows")


# --- Status notifications and commands ---------------------------------------------

STATUS_CYCLE = (
    ConnectorStatus.PREPARING,
    ConnectorStatus.CHARGING,
    ConnectorStatus.SUSPENDED_EV,
    ConnectorStatus.FINISHING,
    ConnectorStatus.AVAILABLE,
)


def status_log_build(*, spec, loader, network, now: float) -> int:
    rng = random.Random(f"{spec.seed}-status")
    stamp = loader.timestamp
    table = Table(
        ConnectorStatusLog,
        ("id", "connector", "status", "error_code", "info", "timestamp", "received_at"),
        now=stamp(now),
    )
    first = loader.next_id(ConnectorStatusLog)
    connectors = network.connectors
    begin = now - spec.journal_days * 86400
    step = (now - begin) / max(spec.status_log_rows, 1)

    def rows():
        for index in range(spec.status_log_rows if connectors else 0):
            at = begin + index * step
            connector = connectors[int(rng.random() * len(connectors))]
            fault = rng.random() < 0.01
            status = ConnectorStatus.FAULTED if fault else STATUS_CYCLE[index % len(STATUS_CYCLE)]
            error = ChargePointErrorCode.GROUND_FAILURE if fault else ChargePointErrorCode.NO_ERROR
            yield table.row(
                first + index, connector.pk, status, error, "", stamp(at - 0.4), stamp(at)
            )

    written = loader.load(ConnectorStatusLog, table.columns, rows())
    return written


def commands_build(*, spec, loader, network, now: float, operator_pk: int | None) -> int:
    rng = random.Random(f"{spec.seed}-commands")
    stamp = loader.timestamp
    table = Table(
        Command,
        (
            "id",
            "charge_point",
            "action",
            "payload",
            "status",
            "requested_by",
            "source",
            "unique_id",
            "response",
            "error_code",
            "error_description",
            "created_at",
            "sent_at",
            "answered_at",
            "outcome",
        ),
        now=stamp(now),
    )
    first = loader.next_id(Command)
    pks, versions = network.charge_point_pks, network.charge_point_versions
    begin = now - spec.journal_days * 86400
    step = (now - begin) / max(spec.commands, 1)

    def rows():
        for index in range(spec.commands):
            at = begin + index * step
            which = int(rng.random() * len(pks))
            catalogue = CATALOGUES[versions[which]]
            weights = catalogue.out_weights
            action, call, answer = catalogue.outgoing[
                bisect_right(weights, rng.random() * weights[-1])
            ]
            roll = rng.random()
            source = "api" if roll < 0.6 else "admin" if roll < 0.75 else "system"
            requested_by = operator_pk if source == "admin" else None
            status, response, outcome, error, sent, answered = _command_outcome(rng, answer, at)
            if now - at < 60 and rng.random() < 0.5:
                status, response, outcome, sent, answered = CommandStatus.SENT, None, "", at, None
            yield table.row(
                first + index,
                pks[which],
                action,
                call,
                status,
                requested_by,
                source,
                f"{rng.getrandbits(128):032x}",
                response,
                error,
                "" if not error else "The charge point could not process the request.",
                stamp(at),
                None if sent is None else stamp(sent),
                None if answered is None else stamp(answered),
                outcome,
            )

    written = loader.load(Command, table.columns, rows())
    return written


def _command_outcome(rng, answer: str, at: float):
    roll = rng.random()
    if roll < 0.04:
        return CommandStatus.OFFLINE, None, "", "", None, None
    if roll < 0.07:
        return CommandStatus.TIMED_OUT, None, "", "", at + 0.05, None
    if roll < 0.085:
        return CommandStatus.FAILED, None, "", "NotSupported", at + 0.05, at + 0.4
    status = json.loads(answer).get("status", "")
    if status == "Accepted" and rng.random() < 0.08:
        answer, status = '{"status":"Rejected"}', "Rejected"
    return CommandStatus.ANSWERED, answer, status, "", at + 0.05, at + 0.3 + rng.random()
