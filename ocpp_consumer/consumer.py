"""The WebSocket consumer at /ocpp/{charge_point_id}: OCPP-J framing only.

One consumer instance serves one charge point socket. It handles one frame
at a time (OCPP-J allows one CALL in flight per direction), answers every
CALL exactly once, and never closes the socket because of a bad frame.
"""

from __future__ import annotations

import asyncio
import logging
import time
from http import HTTPStatus

from asgiref.sync import sync_to_async
from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from monitoring.channel_health import ResilientChannelReceiveMixin
from monitoring.logging import bind_charge_point, bind_message, escape_control
from monitoring.metrics import (
    OCPP_CONNECTIONS,
    OCPP_HANDLER_SECONDS,
    OCPP_MESSAGES,
    count_call_error,
    count_frame,
    labelled,
)
from stations import services
from stations.models import ChargePoint
from stations.selectors import chargepoint_same_identity
from stations.services import registration

from . import compat, compat_profiles, errors, framing
from .call_queue import CallQueueMixin
from .channel_resilience import ChargePointGroupMixin
from .handlers import Session
from .handshake import (
    DENIAL_RESPONSE_EXTENSION,
    authentication_failure,
    identity_collision,
    source_address,
    throttle,
)
from .identity import charge_point_group, charge_point_id_from_scope
from .journal import journal
from .models import Direction
from .outage import DatabaseOutageMixin
from .presence import presence
from .protocols import OCPP16, SUBPROTOCOLS, Protocol, protocol_negotiate, protocol_supported

logger = logging.getLogger(__name__)

BOOT_NOTIFICATION = "BootNotification"
# Recording "last seen" on every frame would double the writes per message.
LAST_SEEN_WRITE_INTERVAL = 60.0


def _frame_bytes(text: str) -> int:
    """The frame's size in UTF-8 bytes (encoding only when it could matter)."""
    if len(text) * 4 <= settings.OCPP_MAX_FRAME_BYTES:
        return len(text)
    return len(text.encode("utf-8", "surrogatepass"))


class OcppConsumer(
    DatabaseOutageMixin,
    ResilientChannelReceiveMixin,
    ChargePointGroupMixin,
    CallQueueMixin,
    AsyncWebsocketConsumer,
):
    charge_point_id: str | None = None
    session: Session | None = None
    group_name: str | None = None
    protocol: Protocol = OCPP16

    async def dispatch(self, message):
        """Dispatch without Channels' per-event close_old_connections.

        Channels 4.2+ hops to the ORM thread before every event to close
        stale connections; every ORM call here already goes through
        database_sync_to_async, which does that itself. Skipping the extra
        hop saves a thread round trip per OCPP frame.
        """
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    # --- connection -----------------------------------------------------

    async def connect(self):
        charge_point_id = charge_point_id_from_scope(self.scope)
        bind_charge_point(charge_point_id)
        if charge_point_id is None:
            # The path is the stranger's: escaped, it cannot forge log lines.
            path = escape_control(self.scope.get("path", ""))[:200]
            logger.warning("refused handshake: invalid charge point id in %s", path)
            await self._refuse(HTTPStatus.NOT_FOUND)
            return
        offered = self.scope.get("subprotocols", ())
        if not protocol_supported(offered):
            logger.warning(
                "refused %s: none of %s offered", charge_point_id, ", ".join(SUBPROTOCOLS)
            )
            await self._refuse(HTTPStatus.BAD_REQUEST)
            return
        allowed, known = await self._authenticate(charge_point_id)
        if not allowed:
            return
        preferred = known.ocpp_version_preferred if known is not None else ""
        self.protocol = protocol_negotiate(offered=offered, preferred=preferred)
        try:
            charge_point = await database_sync_to_async(services.chargepoint_connect)(
                charge_point_id=charge_point_id,
                channel_name=self.channel_name,
                known=known,
                ocpp_version=self.protocol.version,
            )
        except services.ChargePointUnknown:
            logger.warning("refused %s: unknown and OCPP_AUTO_REGISTER is off", charge_point_id)
            await self._refuse(HTTPStatus.NOT_FOUND)
            return

        self.charge_point_id = charge_point_id
        self.session = Session(
            charge_point=charge_point,
            channel_name=self.channel_name,
            ocpp_version=self.protocol.version,
        )
        self.call_queue_init()
        self._follow_up_tasks: set[asyncio.Task] = set()
        self.group_name = charge_point_group(charge_point_id)
        self._last_seen_written = time.monotonic()
        # A newer socket wins: tell any older one, on any node, to go (without
        # the channel layer, once it is back: charging does not wait for it).
        await self.group_join_on_connect(connected_at=charge_point.connected_at)
        await self.accept(subprotocol=self.protocol.subprotocol)
        OCPP_CONNECTIONS.inc()
        logger.info("charge point %s connected (OCPP %s)", charge_point_id, self.protocol.version)

    async def _refuse(self, status: HTTPStatus) -> None:
        """Refuse the handshake with an HTTP status where the server can send one."""
        if DENIAL_RESPONSE_EXTENSION in self.scope.get("extensions", {}):
            await self.base_send(
                {"type": f"{DENIAL_RESPONSE_EXTENSION}.start", "status": status, "headers": []}
            )
            await self.base_send({"type": f"{DENIAL_RESPONSE_EXTENSION}.body", "body": b""})
        else:
            await self.close()  # the server answers 403

    async def _authenticate(self, charge_point_id: str) -> tuple[bool, ChargePoint | None]:
        """Apply the charge point's security profile; refuse and record failures.

        Returns whether it may connect, and the charge point if it exists (so
        that connecting does not read it again). An id that equals a
        registered one but for case ("cp-a" next to "CP-A") is refused: it
        would be a second charge point the console shows as the first.
        """
        address = source_address(self.scope)
        refusal = await throttle.refusal(address=address, charge_point_id=charge_point_id)
        if refusal is not None:
            logger.warning("refused %s from %s: %s", charge_point_id, address, refusal)
            await self._refuse(HTTPStatus.TOO_MANY_REQUESTS)
            return False, None
        same_identity = await database_sync_to_async(chargepoint_same_identity)(
            charge_point_id=charge_point_id
        )
        charge_point, look_alike = identity_collision(
            charge_point_id=charge_point_id, same_identity=same_identity
        )
        if look_alike is not None:
            failure = f"id differs only by case from registered {look_alike.charge_point_id}"
            await self._authentication_failed(charge_point_id, address, failure, look_alike)
            await self._refuse(HTTPStatus.CONFLICT)
            return False, None
        # Hashing, no queries: off the shared ORM thread, so a reconnect storm
        # does not stall every other charge point's database work.
        failure = await sync_to_async(authentication_failure, thread_sensitive=False)(
            charge_point=charge_point, charge_point_id=charge_point_id, scope=self.scope
        )
        if failure is None:
            return True, charge_point
        await self._authentication_failed(charge_point_id, address, failure, charge_point)
        await self._refuse(HTTPStatus.UNAUTHORIZED)
        return False, None

    async def _authentication_failed(
        self, charge_point_id: str, address: str, failure: str, charge_point: ChargePoint
    ) -> None:
        """Count the failure for the throttle, log it, and record a security event."""
        await throttle.failed(address=address, charge_point_id=charge_point_id)
        logger.warning("refused %s from %s: %s", charge_point_id, address, failure)
        await database_sync_to_async(services.security_event_record)(
            event_type="FailedToAuthenticate",
            charge_point_pk=charge_point.pk,
            claimed_id=charge_point_id,
            tech_info=failure,
            source_address=address,
        )

    async def disconnect(self, code):
        if self.charge_point_id is None:
            return
        OCPP_CONNECTIONS.dec()
        presence.forget(self.session.charge_point.pk)
        # The database first: the offline mark must not depend on Redis being
        # reachable (in a reconnect storm its pool can be exhausted).
        await database_sync_to_async(services.chargepoint_disconnect)(
            charge_point_id=self.charge_point_id, channel_name=self.channel_name
        )
        await self.group_leave()
        await self.call_queue_close()
        await journal.flush()
        logger.info("charge point %s disconnected (%s)", self.charge_point_id, code)

    # --- frames ------------------------------------------------------------

    async def receive(self, text_data=None, bytes_data=None):
        """Read one frame; whatever it holds, the socket stays open (README, frames).

        The journal gets the frame text itself (`frame`): it measures it, keeps
        a head and a hash of one too large to store, and keeps its budget.
        """
        if text_data is None:
            logger.warning("%s sent a binary frame: ignored", self.charge_point_id)
            return
        self._touch()
        if _frame_bytes(text_data) > settings.OCPP_MAX_FRAME_BYTES:
            self._journal_in(raw=text_data, frame=text_data)
            await self._refuse_oversized(text_data)
            return
        try:
            message = framing.parse_frame(text_data, max_depth=settings.OCPP_MAX_FRAME_DEPTH)
        except framing.UnanswerableFrame as exc:
            self._journal_in(raw=text_data, frame=text_data)
            logger.warning("%s sent an unusable frame (%s): ignored", self.charge_point_id, exc)
            return
        except framing.BadCall as exc:
            self._journal_in(
                raw=text_data, frame=text_data, message_type=2, unique_id=exc.unique_id
            )
            await self._send_error(exc.unique_id, exc.error)
            return
        except framing.BadAnswer as exc:
            logger.warning("%s sent an unusable answer (%s)", self.charge_point_id, exc)
            action = self.resolve_answer(exc.as_call_error())
            self._journal_in(
                raw=text_data,
                frame=text_data,
                message_type=exc.message_type,
                unique_id=exc.unique_id,
                action=action or "",
            )
            return
        bind_message(message.unique_id)
        if isinstance(message, framing.Call):
            self._journal_in(
                message_type=2,
                unique_id=message.unique_id,
                action=message.action,
                payload=message.payload,
                frame=text_data,
            )
            await self._answer(message)
        elif isinstance(message, framing.CallResult):
            action = self.resolve_answer(message)
            self._journal_in(
                message_type=3,
                unique_id=message.unique_id,
                action=action or "",
                payload=message.payload,
                frame=text_data,
            )
        else:
            count_call_error("in", message.code)
            action = self.resolve_answer(message)
            self._journal_in(
                message_type=4,
                unique_id=message.unique_id,
                action=action or "",
                payload=message.details,
                error_code=message.code[:40],
                frame=text_data,
            )

    async def _answer(self, call: framing.Call) -> None:
        action = call.action if call.action in self.protocol.actions else "unknown"
        try:
            with labelled(OCPP_HANDLER_SECONDS, action).time():
                payload = await self._dispatch(call)
        except errors.OCPPError as exc:
            labelled(OCPP_MESSAGES, action, exc.code).inc()
            await self._send_error(call.unique_id, exc, action=call.action)
            return
        except services.ConnectorLimitExceeded as exc:
            error = errors.PropertyConstraintViolationError(str(exc))
            labelled(OCPP_MESSAGES, action, error.code).inc()
            await self._send_error(call.unique_id, error, action=call.action)
            return
        except Exception:
            labelled(OCPP_MESSAGES, action, "InternalError").inc()
            logger.exception(
                "handler failed: charge point %s, message %r, action %s",
                self.charge_point_id,
                call.unique_id,
                call.action,
            )
            error = errors.InternalError("the Central System failed to process it")
            await self._send_error(call.unique_id, error, action=call.action)
            return
        labelled(OCPP_MESSAGES, action, "ok").inc()
        await self.send_frame(
            framing.call_result_frame(call.unique_id, payload),
            message_type=3,
            unique_id=call.unique_id,
            action=call.action,
            payload=payload,
        )
        self._start_follow_ups()

    def _start_follow_ups(self) -> None:
        """Start what the handler left for after its answer (never awaited inline)."""
        jobs, self.session.after_answer[:] = list(self.session.after_answer), []
        for job in jobs:
            task = asyncio.get_running_loop().create_task(self._follow_up(job))
            self._follow_up_tasks.add(task)
            task.add_done_callback(self._follow_up_tasks.discard)

    async def _follow_up(self, job) -> None:
        try:
            await job()
        except Exception:
            logger.exception("follow-up of %s failed", self.charge_point_id)

    async def _dispatch(self, call: framing.Call) -> dict:
        if call.action not in self.protocol.actions:
            raise errors.NotImplementedError(f"unknown action {call.action[:50]!r}")
        handler = self.protocol.handlers.get(call.action)
        if handler is None:
            raise errors.NotSupportedError(f"{call.action} is not supported by this Central System")
        if not self.protocol.admits(call.action, self.session.charge_point):
            raise errors.SecurityError("not accepted: send BootNotification first")
        version = self.protocol.version
        payload = framing.validate_call(call, await self._relaxations(call), version)
        result = await handler(self.session, payload)
        if settings.OCPP_VALIDATE_RESPONSES:
            try:
                framing.validate_result(call.action, result, version)
            except errors.OCPPError as exc:  # our fault, not the charge point's
                logger.error("invalid %s answer for %s: %s", call.action, self.charge_point_id, exc)
                raise errors.InternalError("the Central System built an invalid answer") from exc
        return result

    async def _relaxations(self, call: framing.Call) -> compat.Relaxations:
        """A BootNotification is read with the vendor and model it reports itself."""
        charge_point = self.session.charge_point
        if call.action == BOOT_NOTIFICATION:
            vendor, model = compat_profiles.boot_vendor_and_model(call.payload)
        else:
            vendor, model = charge_point.vendor, charge_point.model
        return await compat_profiles.relaxations_for(
            charge_point_pk=charge_point.pk, vendor=vendor, model=model
        )

    async def send_frame(self, frame: str, **journal_fields) -> None:
        """Send a frame and journal it."""
        count_frame("out", journal_fields.get("message_type"), journal_fields.get("action"))
        journal.record(
            charge_point_pk=self.session.charge_point.pk, direction=Direction.OUT, **journal_fields
        )
        await self.send(frame)

    async def _send_error(self, unique_id, error: errors.OCPPError, action: str = "") -> None:
        code = self.protocol.wire_code(error.code)
        count_call_error("out", code)
        await self.send_frame(
            framing.call_error_frame(unique_id, error, code=code),
            message_type=4,
            unique_id=unique_id,
            action=action[:50] if isinstance(action, str) else "",
            error_code=code,
            payload={"description": error.description},
        )

    def _journal_in(self, **fields) -> None:
        count_frame("in", fields.get("message_type"), fields.get("action"))
        journal.record(
            charge_point_pk=self.session.charge_point.pk, direction=Direction.IN, **fields
        )

    async def _refuse_oversized(self, text_data: str) -> None:
        """Answer a CALL over OCPP_MAX_FRAME_BYTES with GenericError, read without parsing it.

        An oversized answer (CALLRESULT or CALLERROR) fails the command it answers.
        """
        logger.warning(
            "%s sent a %d-character frame: refused", self.charge_point_id, len(text_data)
        )
        head = framing.frame_head(text_data)
        if head is None:
            return
        message_type, unique_id = head
        error = errors.GenericError(
            f"frame exceeds the limit of {settings.OCPP_MAX_FRAME_BYTES} bytes"
        )
        if message_type == 2:
            await self._send_error(unique_id, error)
        else:
            self.resolve_answer(framing.CallError(unique_id, error.code, error.description))

    def _touch(self) -> None:
        """Note "last seen" (written with other charge points'; the frame does not wait)."""
        now = time.monotonic()
        if now - self._last_seen_written >= LAST_SEEN_WRITE_INTERVAL:
            self._last_seen_written = now
            presence.note(
                charge_point_pk=self.session.charge_point.pk, channel_name=self.channel_name
            )

    async def ocpp_registration(self, event):
        """An operator changed the registration (commands.registration): re-read it.

        _dispatch judges every CALL by this consumer's copy of the charge
        point: one rejected (or put back to Pending) while connected must have
        its next messages refused now, not after its next BootNotification.
        """
        if self.session is None:
            return
        await database_sync_to_async(registration.chargepoint_registration_reload)(
            charge_point=self.session.charge_point
        )
