#!/usr/bin/env python3
"""The "trigger server" of OCTT-style CSMS compliance suites, in front of our REST API.

A compliance suite plays the charge point; to make the Central System send a
CALL (RemoteStartTransaction, Reset, ...) it asks an HTTP "trigger server",
as an operator would use the console in a manual OCTT run:

    POST /api/octt/{version}/{station_id}/{kebab-action}    OCPP payload (camelCase)
    POST /api/octt/2.0.1/{station_id}/call/{OcppAction}     OCPP payload (camelCase)
    POST /api/octt/set-basic-auth-password                  {"station_id", "password"}
    POST /api/octt/create-token                             {"token_id", "status"}
    POST /api/octt/{version}/{station_id}/set-pending-boot  {"pending": true|false}
    POST /api/octt/{version}/{station_id}/set-security-profile  {"security_profile": n}

This adapter answers them with our public API only (an operator's token),
so a run checks what an operator can really do:

    commands            POST /api/v1/charge-points/{id}/commands/{kebab-action}/
                        (the body's keys turned into snake_case, at any depth)
    passwords, profile  PATCH /api/v1/charge-points/{id}/
    pending boot        PATCH /api/v1/charge-points/{id}/ registration_status
    id tokens           PATCH (or POST) /api/v1/id-tags/{id_tag}/

Every proxied trigger is answered 200, the way the suites' own reference
servers do: they await some triggers, and an HTTP error there would hide the
assertion the case is about. What the API said is in the body instead:
`{"status", "response"}` as our API answers a command, or
`{"result": "error", "api_status", "detail"}`; each trigger is logged on stderr.

`provision` registers the charge points and id tags a suite expects before a
run. Standard library only: it runs from any Python 3.10+ (see docs/OCTT.md).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

logger = logging.getLogger("octt_trigger")

VERSIONS = ("1.6", "2.0.1")
# Longer than the CSMS's own wait for an answer (OCPP_CALL_TIMEOUT, 30 s), so
# that its 504 arrives here rather than a socket time-out.
DEFAULT_API_TIMEOUT = 40.0

# Spellings the generic rule gets wrong, as the `ocpp` package (and so our
# API's snake_case -> camelCase step) has them.
_SNAKE_SPECIAL = (("ocppCSMSURL", "ocpp_csms_url"), ("V2X", "_v2x"), ("V2G", "_v2g"))
_WORD_START = re.compile(r"(.)([A-Z][a-z]+)")
# A capital ending the name stays joined: bulkSoC -> bulk_soc, as our API reads it.
_LOWER_UPPER = re.compile(r"([a-z0-9])([A-Z])(?=\S)")


def snake_key(name: str) -> str:
    """idTag -> id_tag, chargingProfileId -> charging_profile_id, responderURL -> responder_url."""
    for camel, snake in _SNAKE_SPECIAL:
        name = name.replace(camel, snake)
    return _LOWER_UPPER.sub(r"\1_\2", _WORD_START.sub(r"\1_\2", name)).lower()


def snake_keys(data):
    """An OCPP payload as our API's body: every key in snake_case, values untouched."""
    if isinstance(data, dict):
        return {snake_key(key): snake_keys(value) for key, value in data.items()}
    if isinstance(data, list):
        return [snake_keys(item) for item in data]
    return data


def kebab_case(action: str) -> str:
    """RemoteStartTransaction -> remote-start-transaction (already kebab: unchanged)."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", action).lower()


class BadTrigger(Exception):
    """A trigger request this adapter cannot translate (answered 400 or 404)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@dataclass
class ApiAnswer:
    status: int
    body: object

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class CsmsApi:
    """Our REST API over HTTP with an operator's token."""

    def __init__(self, base_url: str, token: str = "", timeout: float = DEFAULT_API_TIMEOUT):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def login(self, username: str, password: str) -> None:
        answer = self.call("POST", "auth/token/", {"username": username, "password": password})
        if not answer.ok:
            raise SystemExit(f"could not get a token for {username}: {answer.status} {answer.body}")
        self.token = answer.body["token"]

    def call(self, method: str, path: str, body: dict | None = None) -> ApiAnswer:
        url = f"{self.base_url}/api/v1/{path}"
        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Token {self.token}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return ApiAnswer(response.status, _json_or_text(response.read()))
        except urllib.error.HTTPError as exc:
            return ApiAnswer(exc.code, _json_or_text(exc.read()))
        except OSError as exc:  # refused, reset, timed out: the API did not answer
            return ApiAnswer(HTTPStatus.BAD_GATEWAY, {"detail": f"{type(exc).__name__}: {exc}"})


def _json_or_text(raw: bytes):
    try:
        return json.loads(raw.decode() or "null")
    except ValueError:
        return raw.decode(errors="replace")


def _quote(identity: str) -> str:
    return urllib.parse.quote(identity, safe="")


class Trigger:
    """Turns one trigger request into calls of our API; returns (HTTP status, JSON body)."""

    def __init__(self, api: CsmsApi):
        self.api = api

    def handle(self, path: str, body: object) -> tuple[int, dict]:
        if not isinstance(body, dict):
            raise BadTrigger(HTTPStatus.BAD_REQUEST, "send a JSON object")
        parts = [urllib.parse.unquote(part) for part in path.strip("/").split("/")]
        if parts[:2] != ["api", "octt"] or len(parts) < 3:
            raise BadTrigger(HTTPStatus.NOT_FOUND, f"unknown path {path}")
        if parts[2:] == ["set-basic-auth-password"]:
            return self.set_basic_auth_password(body)
        if parts[2:] == ["create-token"]:
            return self.create_token(body)
        if parts[2] not in VERSIONS or len(parts) < 5:
            raise BadTrigger(HTTPStatus.NOT_FOUND, f"unknown path {path}")
        station_id, action = parts[3], parts[4:]
        if action == ["set-pending-boot"]:
            status = "Pending" if body.get("pending", True) else "Accepted"
            return self._reported(self._patch_charge_point(station_id, registration_status=status))
        if action == ["set-security-profile"]:
            profile = body.get("security_profile")
            if not isinstance(profile, int):
                raise BadTrigger(HTTPStatus.BAD_REQUEST, "security_profile: an integer")
            return self._reported(self._patch_charge_point(station_id, security_profile=profile))
        if len(action) == 2 and action[0] == "call":  # the generic form: call/{OcppAction}
            return self.command(station_id, kebab_case(action[1]), body)
        if len(action) == 1:
            return self.command(station_id, action[0], body)
        raise BadTrigger(HTTPStatus.NOT_FOUND, f"unknown path {path}")

    def command(self, station_id: str, kebab_action: str, payload: dict) -> tuple[int, dict]:
        answer = self.api.call(
            "POST",
            f"charge-points/{_quote(station_id)}/commands/{kebab_action}/",
            snake_keys(payload),
        )
        return self._reported(answer)

    def set_basic_auth_password(self, body: dict) -> tuple[int, dict]:
        station_id, password = body.get("station_id"), body.get("password")
        if not isinstance(station_id, str) or not isinstance(password, str):
            raise BadTrigger(HTTPStatus.BAD_REQUEST, "station_id and password: strings")
        return self._reported(self._patch_charge_point(station_id, password=password))

    def create_token(self, body: dict) -> tuple[int, dict]:
        token_id, status = body.get("token_id"), body.get("status")
        if not isinstance(token_id, str) or not isinstance(status, str):
            raise BadTrigger(HTTPStatus.BAD_REQUEST, "token_id and status: strings")
        return self._reported(idtag_put(self.api, id_tag=token_id, status=status))

    def _patch_charge_point(self, station_id: str, **fields) -> ApiAnswer:
        return self.api.call("PATCH", f"charge-points/{_quote(station_id)}/", fields)

    @staticmethod
    def _reported(answer: ApiAnswer) -> tuple[int, dict]:
        if answer.ok:
            body = answer.body if isinstance(answer.body, dict) else {"response": answer.body}
            return HTTPStatus.OK, body
        return HTTPStatus.OK, {
            "result": "error",
            "api_status": answer.status,
            "detail": answer.body,
        }


def idtag_put(api: CsmsApi, *, id_tag: str, status: str) -> ApiAnswer:
    """Create the id tag with this status, or change the status of the existing one."""
    answer = api.call("PATCH", f"id-tags/{_quote(id_tag)}/", {"status": status})
    if answer.status == HTTPStatus.NOT_FOUND:
        answer = api.call("POST", "id-tags/", {"id_tag": id_tag, "status": status})
    return answer


def chargepoint_put(
    api: CsmsApi, *, charge_point_id: str, password: str | None, security_profile: int
) -> ApiAnswer:
    """Register the charge point as Accepted (or bring an existing one to these settings)."""
    fields = {
        "password": password,
        "security_profile": security_profile,
        "registration_status": "Accepted",
    }
    answer = api.call("PATCH", f"charge-points/{_quote(charge_point_id)}/", fields)
    if answer.status == HTTPStatus.NOT_FOUND:
        answer = api.call("POST", "charge-points/", {"charge_point_id": charge_point_id, **fields})
    return answer


def make_handler(trigger: Trigger) -> type[BaseHTTPRequestHandler]:
    class TriggerHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):  # noqa: N802 (BaseHTTPRequestHandler's name)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw.decode() or "{}")
                status, answer = trigger.handle(self.path, body)
            except ValueError:
                status, answer = HTTPStatus.BAD_REQUEST, {"error": "the body is not JSON"}
            except BadTrigger as exc:
                status, answer = exc.status, {"error": str(exc)}
            logger.info("%s %s -> %s %s", self.path, raw.decode(errors="replace"), status, answer)
            self._send(status, answer)

        def do_GET(self):  # noqa: N802
            self._send(HTTPStatus.METHOD_NOT_ALLOWED, {"error": "POST only"})

        def _send(self, status: int, answer: dict) -> None:
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):  # the trigger line above says it all
            pass

    return TriggerHandler


def serve(trigger: Trigger, host: str, port: int) -> ThreadingHTTPServer:
    """A server answering triggers on its own threads (a suite fires several at once)."""
    server = ThreadingHTTPServer((host, port), make_handler(trigger))
    server.daemon_threads = True
    return server


def _pair(text: str) -> tuple[str, str]:
    name, sep, value = text.rpartition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--api", default="http://127.0.0.1:8000", help="the CSMS's base URL")
    parser.add_argument(
        "--token", default=os.environ.get("CSMS_API_TOKEN", ""), help="operator token"
    )
    parser.add_argument("--username", default=os.environ.get("CSMS_API_USERNAME", ""))
    parser.add_argument(
        "--password",
        default=os.environ.get("CSMS_API_PASSWORD", ""),
        help="with --username: get a token (env CSMS_API_PASSWORD)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("serve", help="answer a suite's triggers")
    run.add_argument("--listen", default="127.0.0.1:5001", help="host:port")
    setup = commands.add_parser("provision", help="register a suite's charge points and id tags")
    setup.add_argument(
        "--charge-point",
        action="append",
        default=[],
        type=_pair,
        metavar="ID=PROFILE[:PASSWORD]",
        help="e.g. CP16_SP1=1:a-16-to-40-char-password; profile 0 needs no password",
    )
    setup.add_argument("--id-tag", action="append", default=[], type=_pair, metavar="TAG=STATUS")
    return parser


def _outcome(answer: ApiAnswer) -> str:
    return "ok" if answer.ok else f"refused ({answer.status}): {answer.body}"


def provision(api: CsmsApi, charge_points, id_tags) -> bool:
    ok = True
    for charge_point_id, setting in charge_points:
        profile, _, password = setting.partition(":")
        answer = chargepoint_put(
            api,
            charge_point_id=charge_point_id,
            password=password or None,
            security_profile=int(profile),
        )
        print(f"charge point {charge_point_id}: {_outcome(answer)}")
        ok &= answer.ok
    for id_tag, status in id_tags:
        answer = idtag_put(api, id_tag=id_tag, status=status)
        print(f"id tag {id_tag}: {_outcome(answer)}")
        ok &= answer.ok
    return ok


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    api = CsmsApi(args.api, args.token)
    if args.username:
        api.login(args.username, args.password)
    if not api.token:
        raise SystemExit("an operator token is needed: --token, or --username and --password")
    if args.command == "provision":
        return 0 if provision(api, args.charge_point, args.id_tag) else 1
    host, _, port = args.listen.rpartition(":")
    server = serve(Trigger(api), host or "127.0.0.1", int(port))
    logger.info("trigger server on http://%s:%s -> %s", *server.server_address[:2], api.base_url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
