"""A TCP proxy in front of the test run's PostgreSQL: database outages on demand.

Tests point a server process's DATABASE_URL at the proxy and cut it off,
while the shared PostgreSQL (and the test process's own connection to it)
runs on untouched.
"""

from __future__ import annotations

import asyncio
import threading
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

from .testing import current_database_url, free_port


@contextmanager
def database_proxy(database_url: str | None = None):
    """A TCP proxy in front of the test run's PostgreSQL, to play an outage.

    Yields a handle: `url` (the DATABASE_URL through the proxy), `outage()`
    (cut every open connection, as a database that went away does, and from
    then on accept connections but never answer: libpq's connect_timeout is
    what ends a connection attempt) and `restore()`. The shared PostgreSQL
    is never touched.
    """
    url = database_url or current_database_url()
    parsed = urlsplit(url)
    proxy = _TcpProxy(parsed.hostname or "127.0.0.1", parsed.port or 5432)
    proxy.start()
    try:
        netloc = parsed.netloc.rsplit("@", 1)
        auth = netloc[0] + "@" if len(netloc) == 2 else ""
        proxy.url = urlunsplit(parsed._replace(netloc=f"{auth}127.0.0.1:{proxy.port}"))
        yield proxy
    finally:
        proxy.stop()


class _TcpProxy:
    """Forwards 127.0.0.1:<port> to a target on an event loop of its own thread."""

    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self.port = free_port()
        self.url = ""
        self.black_hole = False
        self._links: set[asyncio.StreamWriter] = set()
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="db-proxy", daemon=True)

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(10):
            raise TimeoutError("the database proxy did not start")

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            asyncio.start_server(self._serve, "127.0.0.1", self.port)
        )
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            server.close()
            self._cut()
            self._loop.run_until_complete(asyncio.sleep(0))
            self._loop.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._links.add(writer)
        if self.black_hole:  # held open, never answered
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._links.add(up_writer)
        self._loop.create_task(self._pipe(reader, up_writer))
        self._loop.create_task(self._pipe(up_reader, writer))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                if self.black_hole:
                    return
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    def _cut(self) -> None:
        for writer in list(self._links):
            writer.transport.abort()
        self._links.clear()

    def _call(self, func) -> None:
        done = threading.Event()

        def run():
            func()
            done.set()

        self._loop.call_soon_threadsafe(run)
        done.wait(10)

    def outage(self) -> None:
        def cut_off():
            self.black_hole = True
            self._cut()

        self._call(cut_off)

    def restore(self) -> None:
        def reopen():
            self.black_hole = False
            self._cut()  # the held attempts: their clients gave up long ago

        self._call(reopen)

    def stop(self) -> None:
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
