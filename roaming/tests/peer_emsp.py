"""An OCPI 2.2.1 eMSP for the tests, written from the specification, not from our code.

It imports nothing of the project: a real HTTP server on 127.0.0.1 in a
thread (http.server) with its versions, version details and credentials
endpoints, and a client side that runs the credentials handshake as the
Sender and reads a CPO's paginated modules. Tokens travel as OCPI 2.2.1
asks: "Authorization: Token <base64(token)>".
"""

from __future__ import annotations

import base64
import json
import secrets
import socket
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def encode_token(token: str) -> str:
    return "Token " + base64.b64encode(token.encode()).decode()


def decode_token(header: str | None) -> str | None:
    if not header or not header.startswith("Token "):
        return None
    try:
        return base64.b64decode(header[6:], validate=True).decode()
    except ValueError:
        return None


def call(method: str, url: str, token: str | None, body=None, raw: bytes | None = None):
    """One HTTP request; (HTTP status, headers, parsed JSON body or None)."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(url, data=data, method=method)
    if token is not None:
        request.add_header("Authorization", encode_token(token))
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            status, headers, text = answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as exc:
        status, headers, text = exc.code, dict(exc.headers), exc.read()
    try:
        parsed = json.loads(text) if text else None
    except ValueError:
        parsed = None
    return status, headers, parsed


class PeerEmsp:
    """The eMSP: start(), then register_with(...) or give_token_a() to a CPO; stop()."""

    country_code = "DE"
    party_id = "EMS"

    def __init__(self, *, offered_versions=("2.2.1",)):
        self.offered_versions = offered_versions
        self.token_b = secrets.token_urlsafe(24)  # the CPO calls us with it
        self.token_a = secrets.token_urlsafe(24)  # for a CPO that registers with us
        self.token_for_cpo_after_registration = None
        self.token_c = None  # the CPO's token for us, after the handshake
        self.cpo_credentials = None
        self.received: list[tuple[str, str, str | None]] = []
        self.tokens: list[dict] = []  # served by our Tokens Sender interface
        self.tokens_page_size = 2
        self.locations: dict[str, dict] = {}  # pushed to our Locations Receiver, by URL path
        self.tariffs: dict[str, dict] = {}  # pushed to our Tariffs Receiver, by URL path
        # Every PUT, PATCH and DELETE to our Locations and Tariffs Receivers: (method, path, body).
        self.pushes: list[tuple[str, str, dict | None]] = []
        self.refused_location_ids: set[str] = set()  # answered 400 (2001), as a picky eMSP may
        self.sessions: dict[str, dict] = {}  # pushed to our Sessions Receiver, by URL path
        self.cdrs: dict[tuple[str, str, str], dict] = {}  # posted CDRs, by owner and id
        self.cdr_posts = 0
        self.lose_next_cdr_answer = False  # store the next CDR, then drop the connection
        # CommandResults posted to our response_urls, by the reference in the URL.
        self.command_results: dict[str, list[dict]] = {}
        # Real-time authorization (Tokens Sender, POST .../{uid}/authorize): our answer per
        # token uid (an AuthorizationInfo without the token), the requests received, and
        # how long we take to answer (a slow eMSP).
        self.authorizations: dict[str, dict] = {}
        self.authorize_requests: list[dict] = []
        self.authorize_delay = 0.0
        self.server = None
        self.thread = None

    # --- server side ---------------------------------------------------------------

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/ocpi"

    @property
    def versions_url(self) -> str:
        return f"{self.base_url}/versions"

    def start(self, port: int = 0) -> PeerEmsp:
        peer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_GET(self):
                peer._handle(self, "GET")

            def do_POST(self):
                peer._handle(self, "POST")

            def do_PUT(self):
                peer._handle(self, "PUT")

            def do_PATCH(self):
                peer._handle(self, "PATCH")

            def do_DELETE(self):
                peer._handle(self, "DELETE")

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def _valid_tokens(self) -> set[str]:
        tokens = {self.token_b, self.token_a}
        if self.token_for_cpo_after_registration:
            tokens.add(self.token_for_cpo_after_registration)
        return tokens

    def _handle(self, handler, method: str) -> None:
        token = decode_token(handler.headers.get("Authorization"))
        path, _, query = handler.path.partition("?")
        path = path.rstrip("/")
        self.received.append((method, path, token))
        if token not in self._valid_tokens():
            return self._send(handler, 401, {"status_code": 2000, "status_message": "who?"})
        if method == "GET" and path == "/ocpi/versions":
            return self._send(
                handler,
                200,
                self._ok(
                    [{"version": v, "url": f"{self.base_url}/{v}"} for v in self.offered_versions]
                ),
            )
        if method == "GET" and path == "/ocpi/2.2.1":
            endpoints = [
                {"identifier": "credentials", "role": "SENDER", "url": self._credentials_url()},
                {"identifier": "credentials", "role": "RECEIVER", "url": self._credentials_url()},
                {
                    "identifier": "tokens",
                    "role": "SENDER",
                    "url": f"{self.base_url}/emsp/2.2.1/tokens",
                },
                {
                    "identifier": "locations",
                    "role": "RECEIVER",
                    "url": f"{self.base_url}/emsp/2.2.1/locations",
                },
                {
                    "identifier": "tariffs",
                    "role": "RECEIVER",
                    "url": f"{self.base_url}/emsp/2.2.1/tariffs",
                },
                {
                    "identifier": "sessions",
                    "role": "RECEIVER",
                    "url": f"{self.base_url}/emsp/2.2.1/sessions",
                },
                {
                    "identifier": "cdrs",
                    "role": "RECEIVER",
                    "url": f"{self.base_url}/emsp/2.2.1/cdrs",
                },
                {
                    "identifier": "commands",
                    "role": "SENDER",
                    "url": f"{self.base_url}/emsp/2.2.1/commands",
                },
            ]
            return self._send(handler, 200, self._ok({"version": "2.2.1", "endpoints": endpoints}))
        if method in ("PUT", "PATCH") and path.startswith("/ocpi/emsp/2.2.1/locations/"):
            return self._location_pushed(handler, method, path)
        if method in ("PUT", "DELETE") and path.startswith("/ocpi/emsp/2.2.1/tariffs/"):
            return self._tariff_pushed(handler, method, path)
        if method in ("PUT", "PATCH") and path.startswith("/ocpi/emsp/2.2.1/sessions/"):
            return self._session_pushed(handler, method, path)
        if method == "POST" and path == "/ocpi/emsp/2.2.1/cdrs":
            return self._cdr_posted(handler)
        if method == "GET" and path.startswith("/ocpi/emsp/2.2.1/cdrs/"):
            cdr = self.cdrs.get(tuple(path.split("/")[5:8]))
            if cdr is not None:
                return self._send(handler, 200, self._ok(cdr))
        if method == "POST" and path.startswith("/ocpi/emsp/2.2.1/commands/"):
            return self._command_result_posted(handler, path)
        if method == "POST" and path.startswith("/ocpi/emsp/2.2.1/tokens/"):
            return self._authorize(handler, path, query)
        if method == "GET" and path == "/ocpi/emsp/2.2.1/tokens":
            return self._tokens_page(handler, query)
        if method == "POST" and path == "/ocpi/2.2.1/credentials" and token == self.token_a:
            return self._registered_by_cpo(handler)
        return self._send(handler, 404, {"status_code": 2000, "timestamp": self._now()})

    def _location_pushed(self, handler, method: str, path: str) -> None:
        """Receiver of Locations: PUT or PATCH a Location, an EVSE or a Connector.

        As the spec says: the URL names the CPO that owns the object (and must
        match the pushed Location), a PATCH carries last_updated, an EVSE or a
        Connector needs its Location (and EVSE) first, and a change below a
        Location moves the parents' last_updated too.
        """
        length = int(handler.headers.get("Content-Length") or 0)
        body = json.loads(handler.rfile.read(length))
        self.pushes.append((method, path, body))
        parts = path.split("/")[5:]  # country_code, party_id, location_id[, evse_uid[, connector]]
        location_path = "/".join(parts[:3])
        if len(parts) < 3 or len(parts) > 5 or parts[2] in self.refused_location_ids:
            return self._send(handler, 400, {"status_code": 2001, "timestamp": self._now()})
        if method == "PATCH" and "last_updated" not in body:
            return self._send(handler, 400, {"status_code": 2001, "timestamp": self._now()})
        if method == "PUT" and len(parts) == 3:
            if [body.get("country_code"), body.get("party_id"), body.get("id")] != parts:
                return self._send(handler, 400, {"status_code": 2001, "timestamp": self._now()})
            self.locations[location_path] = body
            return self._send(handler, 200, self._ok(None))
        location = self.locations.get(location_path)
        if location is None:
            return self._send(handler, 404, {"status_code": 2003, "timestamp": self._now()})
        if len(parts) == 3:  # PATCH of the Location
            location.update(body)
            return self._send(handler, 200, self._ok(None))
        evses = location.setdefault("evses", [])
        evse = next((e for e in evses if e["uid"] == parts[3]), None)
        if len(parts) == 4:
            if method == "PUT":
                if evse is not None:
                    evses.remove(evse)
                evses.append(body)
            elif evse is None:
                return self._send(handler, 404, {"status_code": 2003, "timestamp": self._now()})
            else:
                evse.update(body)
            location["last_updated"] = body["last_updated"]
            return self._send(handler, 200, self._ok(None))
        if evse is None:
            return self._send(handler, 404, {"status_code": 2003, "timestamp": self._now()})
        connectors = evse.setdefault("connectors", [])
        connector = next((c for c in connectors if c["id"] == parts[4]), None)
        if method == "PUT":
            if connector is not None:
                connectors.remove(connector)
            connectors.append(body)
        elif connector is None:
            return self._send(handler, 404, {"status_code": 2003, "timestamp": self._now()})
        else:
            connector.update(body)
        evse["last_updated"] = location["last_updated"] = body["last_updated"]
        return self._send(handler, 200, self._ok(None))

    def _tariff_pushed(self, handler, method: str, path: str) -> None:
        """Receiver of Tariffs: PUT stores a Tariff under its owner and id; DELETE removes it."""
        parts = path.split("/")[5:]  # country_code, party_id, tariff_id
        length = int(handler.headers.get("Content-Length") or 0)
        body = json.loads(handler.rfile.read(length)) if length else None
        self.pushes.append((method, path, body))
        key = "/".join(parts)
        if len(parts) != 3:
            return self._send(handler, 400, {"status_code": 2001, "timestamp": self._now()})
        if method == "PUT":
            if [body.get("country_code"), body.get("party_id"), body.get("id")] != parts:
                return self._send(handler, 400, {"status_code": 2001, "timestamp": self._now()})
            self.tariffs[key] = body
            return self._send(handler, 200, self._ok(None))
        if self.tariffs.pop(key, None) is None:
            return self._send(handler, 404, {"status_code": 2003, "timestamp": self._now()})
        return self._send(handler, 200, self._ok(None))

    def _session_pushed(self, handler, method: str, path: str) -> None:
        """Receiver: PUT stores the whole Session; PATCH changes fields of a known one."""
        length = int(handler.headers.get("Content-Length") or 0)
        body = json.loads(handler.rfile.read(length))
        key = "/".join(path.split("/")[5:8])  # country_code/party_id/session_id
        if method == "PUT":
            self.sessions[key] = body
            return self._send(handler, 200, self._ok(None))
        if key not in self.sessions:
            return self._send(handler, 404, {"status_code": 2001, "timestamp": self._now()})
        self.sessions[key].update(body)
        return self._send(handler, 200, self._ok(None))

    def _cdr_posted(self, handler) -> None:
        """Receiver: a CDR is stored once by its owner and id; its URL in Location.

        A CDR posted again with an id we hold is the same CDR (ids are unique
        per CPO): kept as it is, answered with the same Location.
        """
        length = int(handler.headers.get("Content-Length") or 0)
        body = json.loads(handler.rfile.read(length))
        self.cdr_posts += 1
        key = (body["country_code"], body["party_id"], body["id"])
        self.cdrs.setdefault(key, body)
        if self.lose_next_cdr_answer:
            self.lose_next_cdr_answer = False
            handler.close_connection = True
            handler.connection.shutdown(socket.SHUT_RDWR)
            return None
        location = f"{self.base_url}/emsp/2.2.1/cdrs/{'/'.join(key)}"
        return self._send(handler, 200, self._ok(None), {"Location": location})

    def response_url(self, reference: str) -> str:
        """Where the CPO posts the CommandResult of our command named `reference`."""
        return f"{self.base_url}/emsp/2.2.1/commands/{reference}"

    def _command_result_posted(self, handler, path: str) -> None:
        """Sender interface of Commands: the CommandResult of one of our commands."""
        length = int(handler.headers.get("Content-Length") or 0)
        body = json.loads(handler.rfile.read(length))
        if not isinstance(body, dict) or "result" not in body:
            return self._send(handler, 400, {"status_code": 2001, "timestamp": self._now()})
        self.command_results.setdefault(path.split("/")[-1], []).append(body)
        return self._send(handler, 200, self._ok(None))

    def _authorize(self, handler, path: str, query: str) -> None:
        """Sender interface of Tokens: real-time authorization of one of our tokens.

        {tokens_endpoint_url}{token_uid}/authorize[?type=]: the type defaults to
        RFID; a token we do not know is HTTP 404 with OCPI status 2004.
        """
        parts = path.split("/")  # ..., "tokens", uid, "authorize"
        if len(parts) != 7 or parts[6] != "authorize":
            return self._send(handler, 404, {"status_code": 2000, "timestamp": self._now()})
        params = dict(part.split("=", 1) for part in query.split("&") if "=" in part)
        length = int(handler.headers.get("Content-Length") or 0)
        body = json.loads(handler.rfile.read(length)) if length else None
        uid, token_type = parts[5], params.get("type", "RFID")
        self.authorize_requests.append({"uid": uid, "type": token_type, "location": body})
        if self.authorize_delay:
            time.sleep(self.authorize_delay)
        answer = self.authorizations.get(uid)
        if answer is None:
            return self._send(handler, 404, {"status_code": 2004, "timestamp": self._now()})
        token = {"country_code": self.country_code, "party_id": self.party_id, "uid": uid,
                 "type": token_type}  # fmt: skip
        info = {"token": token, **answer}
        if body and answer.get("allowed") == "ALLOWED":
            info["location"] = body
        return self._send(handler, 200, self._ok(info))

    def _tokens_page(self, handler, query: str) -> None:
        """A paginated GET as the spec describes: our own page size, Link to the next page."""
        params = dict(part.split("=", 1) for part in query.split("&") if "=" in part)
        offset = int(params.get("offset", 0))
        limit = min(int(params.get("limit", self.tokens_page_size)), self.tokens_page_size)
        page = self.tokens[offset : offset + limit]
        headers = {"X-Total-Count": str(len(self.tokens)), "X-Limit": str(limit)}
        if offset + limit < len(self.tokens):
            following = f"{self.base_url}/emsp/2.2.1/tokens?offset={offset + limit}&limit={limit}"
            headers["Link"] = f'<{following}>; rel="next"'
        return self._send(handler, 200, self._ok(page), headers)

    def _registered_by_cpo(self, handler) -> None:
        """A CPO registers with us: read its versions with its token, answer ours."""
        length = int(handler.headers.get("Content-Length") or 0)
        credentials = json.loads(handler.rfile.read(length))
        status, _, versions = call("GET", credentials["url"], credentials["token"])
        if status != 200 or versions.get("status_code") != 1000:
            return self._send(handler, 200, {"status_code": 3001, "timestamp": self._now()})
        self.cpo_credentials = credentials
        self.token_c = credentials["token"]
        self.token_for_cpo_after_registration = secrets.token_urlsafe(24)
        return self._send(
            handler, 200, self._ok(self.credentials(self.token_for_cpo_after_registration))
        )

    def _credentials_url(self) -> str:
        return f"{self.base_url}/2.2.1/credentials"

    def credentials(self, token: str) -> dict:
        return {
            "token": token,
            "url": self.versions_url,
            "roles": [
                {
                    "role": "EMSP",
                    "party_id": self.party_id,
                    "country_code": self.country_code,
                    "business_details": {"name": "Peer eMSP"},
                }
            ],
        }

    @staticmethod
    def _now() -> str:
        return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def _ok(self, data) -> dict:
        return {"data": data, "status_code": 1000, "timestamp": self._now()}

    @staticmethod
    def _send(handler, status: int, body: dict, headers: dict | None = None) -> None:
        payload = json.dumps(body).encode()
        handler.send_response(status)
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    # --- client side: the eMSP as Sender of credentials ----------------------------

    def register_with(self, versions_url: str, token_a: str) -> dict:
        """The handshake as the spec tells a Sender; the CPO's credentials answer envelope."""
        status, _, versions = call("GET", versions_url, token_a)
        assert status == 200 and versions["status_code"] == 1000, versions
        details_url = next(v["url"] for v in versions["data"] if v["version"] == "2.2.1")
        status, _, details = call("GET", details_url, token_a)
        assert status == 200, details
        credentials_url = next(
            e["url"] for e in details["data"]["endpoints"] if e["identifier"] == "credentials"
        )
        status, _, answer = call("POST", credentials_url, token_a, self.credentials(self.token_b))
        if status == 200 and answer["status_code"] == 1000:
            self.token_c = answer["data"]["token"]
            self.cpo_credentials = answer["data"]
        self.cpo_endpoints = {
            (e["identifier"], e["role"]): e["url"] for e in details["data"]["endpoints"]
        }
        return answer

    def get_all(self, url: str, limit: int | None = None) -> tuple[list, list[dict]]:
        """Follow the Link headers of a paginated GET: every object, and each page's headers."""
        objects, pages = [], []
        next_url = url if limit is None else f"{url}?limit={limit}"
        while next_url:
            status, headers, body = call("GET", next_url, self.token_c)
            assert status == 200 and body["status_code"] == 1000, body
            objects.extend(body["data"])
            pages.append(headers)
            link = headers.get("Link")
            next_url = link[link.index("<") + 1 : link.index(">")] if link else None
        return objects, pages
