"""What an idle socket no longer holds (issue 22): Daphne's lean input queue,
the handshake's HTTP request let go, and channels-redis's receive without a
task and a queue per channel, behaving as the originals do."""

from __future__ import annotations

import asyncio

import pytest
from daphne.server import Server

from csms_project import testing
from csms_project.channel_layers import LeanRedisChannelLayer
from csms_project.daphne_patches import ApplicationQueue, CsmsServer
from monitoring import channel_health
from monitoring.channel_health import health
from monitoring.tests.layers import receives_survive_a_redis_restart

TIMEOUT = 10


# --- Daphne's input queue ---------------------------------------------------------


async def test_the_application_queue_is_fifo_whether_or_not_a_getter_waits():
    queue = ApplicationQueue()
    queue.put_nowait({"n": 1})
    queue.put_nowait({"n": 2})
    assert queue.qsize() == 2
    assert await queue.get() == {"n": 1}
    waiting = queue.get()  # the second is still queued: resolved at once
    assert waiting.done() and waiting.result() == {"n": 2}
    assert queue.qsize() == 0
    pending = queue.get()
    assert not pending.done()
    queue.put_nowait({"n": 3})
    assert await asyncio.wait_for(pending, TIMEOUT) == {"n": 3}


async def test_getters_are_served_in_order_and_a_cancelled_one_is_skipped():
    queue = ApplicationQueue()
    first, second, third = queue.get(), queue.get(), queue.get()
    second.cancel()
    queue.put_nowait("a")
    queue.put_nowait("b")
    assert (first.result(), third.result()) == ("a", "b")
    abandoned = queue.get()
    abandoned.cancel()
    queue.put_nowait("c")  # nobody waits: kept for the next get
    assert await queue.get() == "c"


async def test_an_idle_application_queue_holds_one_future_and_no_deque():
    queue = ApplicationQueue()
    queue.get()
    assert queue._items is None and queue._more_getters is None


async def test_websocket_applications_get_the_lean_queue_http_ones_daphne_s():
    async def application(scope, receive, send):
        await receive()

    server = CsmsServer(application=application, endpoints=["tcp:port=0:interface=127.0.0.1"])
    ws, http = object(), object()
    server.connections = {ws: {}, http: {}}
    assert isinstance(server.create_application(ws, {"type": "websocket"}), ApplicationQueue)
    assert isinstance(server.create_application(http, {"type": "http"}), asyncio.Queue)
    for protocol in (ws, http):
        server.connections[protocol]["application_instance"].cancel()


def test_create_application_keeps_daphne_s_own_steps():
    """The lean copy of Server.create_application does what Daphne's does (4.2.3)."""
    import inspect

    daphne_source = inspect.getsource(Server.create_application)
    for step in (
        'assert "application_instance" not in self.connections[protocol]',
        'scope.setdefault("asgi", {"version": "3.0"})',
        "if protocol not in self.connections:",
        'self.connections[protocol]["application_instance"] = asyncio.ensure_future(',
    ):
        assert step in daphne_source
        assert step in inspect.getsource(CsmsServer._create_websocket_application)


def test_the_factory_s_options_live_on_the_protocol_class_not_on_each_socket():
    from daphne.ws_protocol import WebSocketFactory
    from daphne.ws_protocol import WebSocketProtocol as DaphneWebSocketProtocol

    from csms_project.daphne_patches import _factory_options_as_class_attributes

    factory = WebSocketFactory(object())
    factory.setProtocolOptions(autoPingTimeout=7, allowNullOrigin=True, openHandshakeTimeout=61)
    _factory_options_as_class_attributes(factory)
    _factory_options_as_class_attributes(factory)  # once per factory
    protocol = factory.buildProtocol(None)
    assert type(protocol).__mro__[1] is DaphneWebSocketProtocol  # subclassed once

    class Transport:
        def getPeer(self):
            return None

        getHost = getPeer

        def setTcpNoDelay(self, enabled):
            pass

    protocol.transport = Transport()
    protocol._connectionMade()
    for name in protocol.CONFIG_ATTRS:
        assert name not in vars(protocol)
        assert getattr(protocol, name) == getattr(factory, name)
    assert (protocol.autoPingTimeout, protocol.openHandshakeTimeout) == (7, 61)
    # A function option stays a plain function, called as autobahn calls it.
    accept = protocol.perMessageCompressionAccept
    assert accept == factory.perMessageCompressionAccept and accept([]) is None


def test_daphne_configures_its_websocket_factory_before_it_listens():
    import inspect

    source = inspect.getsource(Server.run)
    assert source.index("self.ws_factory.setProtocolOptions(") < source.index("ep.listen(")
    assert "listener.addCallback(self.listen_success)" in source


# --- channels-redis's receive -----------------------------------------------------


@pytest.fixture
def private_layer(tmp_path):
    with testing.private_redis(tmp_path) as redis:
        layer = LeanRedisChannelLayer(hosts=[{"address": redis.url, "socket_timeout": 30}])
        yield layer, redis


@pytest.mark.e2e
async def test_lean_receive_delivers_to_the_right_channel_and_buffers_for_later(private_layer):
    layer, _redis = private_layer
    a, b = await layer.new_channel(), await layer.new_channel()
    waiting = layer.receive_future(a)
    await layer.send(b, {"type": "for.b"})  # nobody waits on b: buffered
    await layer.send(a, {"type": "for.a"})
    assert (await asyncio.wait_for(waiting, TIMEOUT))["type"] == "for.a"
    assert (await asyncio.wait_for(layer.receive(b), TIMEOUT))["type"] == "for.b"
    await layer.group_add("g", a)
    await layer.group_add("g", b)
    both = [layer.receive_future(a), layer.receive_future(b)]
    await layer.group_send("g", {"type": "to.all"})
    received = await asyncio.wait_for(asyncio.gather(*both), TIMEOUT)
    assert [m["type"] for m in received] == ["to.all", "to.all"]
    leaving = layer.receive_future(a)
    with pytest.raises(RuntimeError):
        layer.receive_future(a)  # one waiter per channel, as a consumer has
    leaving.cancel()
    await asyncio.sleep(0)
    assert a not in layer._waiters and a not in layer._buffers
    await layer.flush()
    await layer.close_pools()


async def test_a_buffer_keeps_the_capacity_dropping_the_oldest():
    layer = LeanRedisChannelLayer(capacity=3)  # no Redis: the hand-over only
    channel = "specific.abc!def"
    for number in range(5):
        layer._deliver(channel, {"type": "n", "number": number})
    assert [m["number"] for m in layer._buffers[channel]] == [2, 3, 4]
    assert layer.receive_future(channel).result()["number"] == 2
    assert layer.receive_future(channel).result()["number"] == 3


class Receiver(channel_health.ResilientChannelReceiveMixin):
    """A consumer's channel side, as its dispatch loop drives it."""

    def __init__(self, layer, channel_name):
        self.channel_layer, self.channel_name = layer, channel_name

    async def next_event(self) -> dict:
        return self._channel_result(await _settled(self._channel_next()))


async def _settled(future):
    await asyncio.wait([future])
    return future


@pytest.mark.e2e
async def test_lean_receives_survive_a_redis_restart(private_layer):
    """As with channels-redis: each waiting socket hears of the outage once, waits
    without asking Redis, and receives again once it is back."""
    layer, redis = private_layer
    health.reset()
    health.probe = lambda: layer.connection(0).ping()
    try:
        receivers = [Receiver(layer, await layer.new_channel()) for _ in range(3)]
        await receives_survive_a_redis_restart(
            layer, redis, receivers, Receiver.next_event, TIMEOUT
        )
    finally:
        health.reset()
        health.probe = channel_health._default_probe
        await layer.flush()
        await layer.close_pools()
