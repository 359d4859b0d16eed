"""A service's own AMQP connection for its hot path: one channel, its frames read straight
off the socket.

aio-pika's lower layer (aiormq) reads every frame with three awaited reads from a stream
under a lock, puts it on its channel's queue, takes it off again in the channel's own
task, starts one more task per delivery, and sends through a writer task fed by a queue:
about 0.14 ms of CPU per message consumed here, most of a consumer's cost when its handler
is cheap (``python -m tests.bench.consumer``), and about an eighth of the gateway's CPU per
published event. A link parses the bytes as they arrive, in the protocol's
``data_received``, with a short path for the three frames of a delivery (``basic.deliver``,
its content header, its body), and sends what one turn of the event loop wrote (each
publish's frames, the replies to a batch of deliveries, acks) with one socket write.

It does what the services' hot paths need and nothing more:

* consuming one queue (:meth:`AmqpLink.consume`): ``basic.qos``, acks and nacks, each
  delivery handed to a callback at once; or consuming without acks (direct reply-to);
* publishing (:meth:`AmqpLink.publish`), with publisher confirms when opened with
  ``confirms=True``: each publish gets a future the broker's ack resolves, and its nack or
  a ``mandatory`` return (matched by ``message_id``) fails;
* heartbeats, ``basic.cancel`` and a clean close.

Anything else the broker says on the channel (a channel close, a consumer cancelled from
its side) ends the link with the reason in :attr:`AmqpLink.closed`. :func:`link_beside`
opens one next to an aio-pika connection and closes that connection when the link is lost,
so that the broker loop's reconnect (``bus.py``) sets both up again. Topology and
everything off the hot path stay on aio-pika.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import struct
from collections.abc import Callable
from typing import TypeVar, cast
from urllib.parse import parse_qs, unquote, urlsplit

import pamqp.frame
from aio_pika.abc import AbstractConnection
from pamqp.base import Frame
from pamqp.commands import Basic, Channel, Confirm, Connection
from pamqp.exceptions import PAMQPException
from pamqp.header import ContentHeader, ProtocolHeader
from pamqp.heartbeat import Heartbeat

from shared.platform.bus import BrokerUnavailable

logger = logging.getLogger(__name__)

CHANNEL = 1  # the link's one channel
FRAME_END = 0xCE
FRAME_HEAD = struct.Struct(">BHI")  # type, channel, payload size
DELIVER = b"\x00\x3c\x00\x3c"  # basic.deliver's class and method ids
PUBLISH = b"\x00\x3c\x00\x28\x00\x00"  # basic.publish's class and method ids, ticket 0
FRAME_END_BYTE = bytes((FRAME_END,))
U64 = struct.Struct(">Q")
ANSWER_SECONDS = 5.0  # the longest the link waits for the broker to answer a method
CLOSE_SECONDS = 2.0  # ... and for its close-ok, before dropping the connection
DEFAULT_HEARTBEAT = 60  # seconds, as aiormq's default; the URL's ?heartbeat= overrides
OnDelivery = Callable[[int, bool, Basic.Properties, bytes], None]
F = TypeVar("F", bound=Frame)
_closing_connections: set[asyncio.Task[None]] = set()  # held until done


class LinkClosed(BrokerUnavailable):
    """The link is closed (or closing): nothing more can be sent on it."""


class NotPublished(BrokerUnavailable):
    """The broker refused a publish: nacked it, or returned it (``mandatory``, no queue)."""


class _Content:
    """A delivery (or a returned publish) whose header or body frames are still to come."""

    __slots__ = ("chunks", "left", "properties", "redelivered", "returned", "tag")

    def __init__(self, tag: int, redelivered: bool, returned: str = "") -> None:
        self.tag = tag
        self.redelivered = redelivered
        self.returned = returned  # why the broker returned it; "" for a delivery
        self.properties: Basic.Properties | None = None
        self.left = -1  # body bytes still to come; -1 until the header says
        self.chunks: list[bytes] = []


class AmqpLink(asyncio.Protocol):
    """One AMQP connection with one channel."""

    def __init__(self) -> None:
        self.name = ""  # what the broker's connection list shows
        self._on_delivery: OnDelivery | None = None
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None
        self._replies: asyncio.Queue[Frame | None] = asyncio.Queue()  # None: the link is gone
        self._content: _Content | None = None
        self._consumer_tag = ""
        self._frame_max = 131_072
        self._closing = False  # close() was called: the link is not lost, it is let go
        self._heartbeat = 0
        self._last_read = self._last_write = 0.0
        self._outgoing: list[bytes] = []  # written this turn of the loop, sent at its end
        self._beat: asyncio.Task[None] | None = None
        self._confirms = False
        self._published = 0  # the delivery tag of the last publish, when confirming
        # tag -> (confirm, message id if mandatory), in publish order
        self._unconfirmed: dict[int, tuple[asyncio.Future[None], str | None]] = {}
        self._returnable: dict[str, int] = {}  # message id -> tag, of mandatory publishes
        loop = asyncio.get_running_loop()
        self._loop = loop
        self.closed: asyncio.Future[str] = loop.create_future()  # its result says why

    @classmethod
    async def open(
        cls, url: str, *, name: str, prefetch: int = 0, confirms: bool = False
    ) -> AmqpLink:
        """Connects to the broker at ``url`` as ``name`` and opens the channel: with
        ``prefetch`` deliveries unacked at most (0: no limit), and publisher confirms
        when ``confirms``."""
        parts = urlsplit(url)
        secure = parts.scheme == "amqps"
        heartbeat = int(parse_qs(parts.query).get("heartbeat", [DEFAULT_HEARTBEAT])[0])
        link: AmqpLink | None = None
        try:
            async with asyncio.timeout(ANSWER_SECONDS):
                _, link = await asyncio.get_running_loop().create_connection(
                    cls,
                    parts.hostname or "localhost",
                    parts.port or (5671 if secure else 5672),
                    ssl=ssl.create_default_context() if secure else None,
                )
                link.name = name
                await link._handshake(
                    user=unquote(parts.username or "guest"),
                    password=unquote(parts.password or "guest"),
                    vhost=unquote(parts.path[1:]) or "/",
                    heartbeat=heartbeat,
                    name=name,
                )
                link._send(Channel.Open())
                await link._expect(Channel.OpenOk)
                if prefetch:
                    link._send(Basic.Qos(prefetch_count=prefetch))
                    await link._expect(Basic.QosOk)
                if confirms:
                    link._send(Confirm.Select())
                    await link._expect(Confirm.SelectOk)
                    link._confirms = True
        except BaseException:
            if link is not None:
                link.abort("failed to open")
            raise
        return link

    # -- what a service does ------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return not self.closed.done() and not self._closing

    @property
    def lost(self) -> bool:
        """Closed, and not by :meth:`close`."""
        return self.closed.done() and not self._closing

    async def consume(self, queue: str, on_delivery: OnDelivery, *, no_ack: bool = False) -> None:
        """Starts the deliveries of ``queue``: each goes to ``on_delivery`` as it arrives
        (the first ones may come before this returns)."""
        self._on_delivery = on_delivery
        self._send(Basic.Consume(queue=queue, no_ack=no_ack))
        async with asyncio.timeout(ANSWER_SECONDS):
            self._consumer_tag = (await self._expect(Basic.ConsumeOk)).consumer_tag or ""

    async def basic_ack(self, delivery_tag: int, multiple: bool = False) -> None:
        self._send(Basic.Ack(delivery_tag=delivery_tag, multiple=multiple))

    async def basic_nack(self, delivery_tag: int, requeue: bool = True) -> None:
        self._send(Basic.Nack(delivery_tag=delivery_tag, requeue=requeue))

    def publish(
        self,
        body: bytes,
        *,
        routing_key: str,
        properties: Basic.Properties,
        exchange: str = "",
        mandatory: bool = False,
    ) -> asyncio.Future[None] | None:
        """Sends a message; on a confirming link, answers the future of its confirm (a
        ``mandatory`` one needs a ``message_id``, to tell which publish came back)."""
        frames = [
            publish_frame(exchange, routing_key, mandatory=mandatory),
            pamqp.frame.marshal(ContentHeader(0, len(body), properties), CHANNEL),
        ]
        frames += body_frames(body, self._frame_max)
        if self._closing:
            raise LinkClosed("the link is closing")
        self._write(b"".join(frames))
        if not self._confirms:
            return None
        self._published += 1
        confirm: asyncio.Future[None] = self._loop.create_future()
        returnable = properties.message_id if mandatory else None
        self._unconfirmed[self._published] = (confirm, returnable)
        if returnable:
            self._returnable[returnable] = self._published
        return confirm

    async def cancel(self) -> None:
        """Stops the broker delivering more; those already sent still reach
        ``on_delivery`` before this returns."""
        if not self.is_open or not self._consumer_tag:
            return
        self._send(Basic.Cancel(consumer_tag=self._consumer_tag))
        async with asyncio.timeout(ANSWER_SECONDS):
            await self._expect(Basic.CancelOk)

    async def close(self) -> None:
        """Closes the connection the polite way (what is unacked goes back to the
        queue); aborts it when the broker does not answer in ``CLOSE_SECONDS``."""
        if self.closed.done():
            self._closing = True
            return
        if not self._closing:
            with contextlib.suppress(LinkClosed):
                self._send(Connection.Close(200, "closing", 0, 0), 0)
            self._closing = True
        try:
            await asyncio.wait_for(asyncio.shield(self.closed), CLOSE_SECONDS)
        except TimeoutError:
            self.abort("no close-ok from the broker")

    def abort(self, why: str) -> None:
        """Drops the connection now (after what this turn wrote: a close-ok answering the
        broker's close, say)."""
        if self._transport is not None:
            self._flush()
            self._transport.abort()
        self._finish(why)

    # -- the protocol ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self._last_read = self._loop.time()
        self._write(ProtocolHeader().marshal())

    def connection_lost(self, exc: Exception | None) -> None:
        self._finish(f"connection lost: {exc!r}" if exc else "connection closed")

    def data_received(self, data: bytes) -> None:
        self._last_read = self._loop.time()
        buffer = self._buffer
        buffer += data
        at, size = 0, len(buffer)
        try:
            while size - at >= 8:
                kind, channel, length = FRAME_HEAD.unpack_from(buffer, at)
                end = at + 7 + length
                if end >= size:
                    break
                if buffer[end] != FRAME_END:
                    raise PAMQPException(f"no frame end at byte {end}")
                if channel == CHANNEL and kind == 1 and buffer[at + 7 : at + 11] == DELIVER:
                    at += 11
                    at += 1 + buffer[at]  # the consumer tag: the link has one
                    (tag,) = U64.unpack_from(buffer, at)
                    self._content = _Content(tag, bool(buffer[at + 8] & 1))
                elif channel == CHANNEL and kind in (2, 3) and self._content is not None:
                    self._content_frame(kind, buffer, at, end)
                else:
                    self._other_frame(bytes(buffer[at : end + 1]))
                at = end + 1
        except (PAMQPException, ValueError, struct.error) as exc:
            logger.error("bad frame from the broker: %s", exc)
            self.abort(f"bad frame: {exc}")
            return
        del buffer[:at]

    def _content_frame(self, kind: int, buffer: bytearray, at: int, end: int) -> None:
        content = self._content
        assert content is not None
        if kind == 2:
            _, _, header = pamqp.frame.unmarshal(bytes(buffer[at : end + 1]))
            assert isinstance(header, ContentHeader)
            content.properties = header.properties
            content.left = header.body_size
        else:
            content.chunks.append(bytes(buffer[at + 7 : end]))
            content.left -= end - at - 7
        if content.left != 0 or content.properties is None:
            return
        self._content = None
        if content.returned:
            self._returned(content.properties.message_id, content.returned)
            return
        chunks = content.chunks
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        assert self._on_delivery is not None  # nothing is delivered before consume()
        self._on_delivery(content.tag, content.redelivered, content.properties, body)

    def _other_frame(self, raw: bytes) -> None:
        _, channel, frame = pamqp.frame.unmarshal(raw)
        if isinstance(frame, Basic.Ack):
            self._confirmed(frame.delivery_tag, frame.multiple, None)
        elif isinstance(frame, Basic.Nack):
            self._confirmed(frame.delivery_tag, frame.multiple, "the broker nacked it")
        elif isinstance(frame, Basic.Return):
            why = f"returned: {frame.reply_code} {frame.reply_text}"
            self._content = _Content(0, False, returned=why)
        elif isinstance(frame, Heartbeat):
            return
        elif isinstance(frame, Connection.Close):
            self._send_anyway(Connection.CloseOk(), 0)
            self.abort(f"closed by the broker: {frame.reply_code} {frame.reply_text}")
        elif isinstance(frame, Channel.Close):
            self._send_anyway(Channel.CloseOk(), CHANNEL)
            self.abort(f"channel closed by the broker: {frame.reply_code} {frame.reply_text}")
        elif isinstance(frame, Basic.Cancel):
            self.abort("consumer cancelled by the broker (queue deleted?)")
        elif isinstance(frame, Connection.CloseOk):
            self.abort("closed")
        elif isinstance(frame, (Connection.Blocked, Connection.Unblocked)):
            logger.warning("broker says %s to link %s", frame.name, self._consumer_tag)
        elif isinstance(frame, Frame):
            self._replies.put_nowait(frame)
        else:
            raise PAMQPException(f"unexpected {type(frame).__name__} on channel {channel}")

    def _confirmed(self, tag: int, multiple: bool, refused: str | None) -> None:
        """Settles the confirm of ``tag`` (and of every one before it, when ``multiple``):
        done, or failed saying why it was ``refused``."""
        unconfirmed = self._unconfirmed
        tags = [tag]
        if multiple:
            tags = []
            for pending in unconfirmed:  # in publish order
                if pending > tag:
                    break
                tags.append(pending)
        for settled in tags:
            confirm, message_id = unconfirmed.pop(settled, (None, None))
            if message_id is not None:
                self._returnable.pop(message_id, None)
            if confirm is None or confirm.done():
                continue
            if refused is None:
                confirm.set_result(None)
            else:
                confirm.set_exception(NotPublished(refused))

    def _returned(self, message_id: str | None, why: str) -> None:
        """A ``mandatory`` publish no queue took: its confirm (which follows) fails."""
        tag = self._returnable.pop(message_id or "", None)
        confirm, _ = self._unconfirmed.get(tag or 0, (None, None))
        if confirm is not None and not confirm.done():
            confirm.set_exception(NotPublished(why))
        else:
            logger.warning("a returned message %s matched no publish (%s)", message_id, why)

    # -- inside ---------------------------------------------------------------------------

    async def _handshake(
        self, *, user: str, password: str, vhost: str, heartbeat: int, name: str
    ) -> None:
        await self._expect(Connection.Start)
        self._send(
            Connection.StartOk(
                client_properties={
                    "product": "wxp",
                    "connection_name": name,
                    "capabilities": {
                        "consumer_cancel_notify": True,  # a deleted queue says so
                        "authentication_failure_close": True,  # refused credentials too
                        "publisher_confirms": True,
                    },
                },
                mechanism="PLAIN",
                response=f"\0{user}\0{password}",
                locale="en_US",
            ),
            0,
        )
        tune = await self._expect(Connection.Tune)
        offered = tune.heartbeat or 0
        self._heartbeat = min(heartbeat, offered) if offered else heartbeat  # 0: none
        self._frame_max = tune.frame_max or self._frame_max
        self._send(
            Connection.TuneOk(channel_max=1, frame_max=self._frame_max, heartbeat=self._heartbeat),
            0,
        )
        self._send(Connection.Open(virtual_host=vhost), 0)
        await self._expect(Connection.OpenOk)
        if self._heartbeat:
            self._beat = self._loop.create_task(self._keep_beating())

    async def _expect(self, kind: type[F]) -> F:
        frame = None if self.closed.done() else await self._replies.get()
        if frame is None:
            raise LinkClosed(self.closed.result() if self.closed.done() else "link closed")
        if not isinstance(frame, kind):
            raise LinkClosed(f"expected {kind.name}, the broker sent {frame.name}")
        return frame

    async def _keep_beating(self) -> None:
        """A heartbeat when nothing was sent for half the interval; the connection is
        dropped when nothing came for two intervals."""
        beat = pamqp.frame.marshal(Heartbeat(), 0)
        while not self.closed.done():
            await asyncio.sleep(self._heartbeat / 2)
            now = self._loop.time()
            if now - self._last_read > 2 * self._heartbeat:
                logger.warning("link: nothing from the broker in %ds", 2 * self._heartbeat)
                self.abort("missed heartbeats")
                return
            if now - self._last_write >= self._heartbeat / 2:
                self._write(beat)

    def _send(self, frame: Frame, channel: int = CHANNEL) -> None:
        if self._closing:
            raise LinkClosed("the link is closing")
        self._write(pamqp.frame.marshal(frame, channel))

    def _send_anyway(self, frame: Frame, channel: int) -> None:
        """A reply the broker waits for even while the link closes."""
        with contextlib.suppress(LinkClosed):
            self._write(pamqp.frame.marshal(frame, channel))

    def _write(self, data: bytes) -> None:
        """Queues ``data`` for the socket: what is written in one turn of the event loop
        goes in one ``send`` at its end (the replies and publishes of a batch of
        deliveries, their acks), in the order written."""
        transport = self._transport
        if transport is None or transport.is_closing() or self.closed.done():
            raise LinkClosed(self.closed.result() if self.closed.done() else "not connected")
        if not self._outgoing:
            self._loop.call_soon(self._flush)
        self._outgoing.append(data)

    def _flush(self) -> None:
        outgoing, self._outgoing = self._outgoing, []
        transport = self._transport
        if not outgoing or transport is None or transport.is_closing():
            return  # lost with the link: _finish failed whatever awaits a confirm
        transport.write(b"".join(outgoing))  # a lone item is passed as it is, not copied
        self._last_write = self._loop.time()

    def _finish(self, why: str) -> None:
        if self.closed.done():
            return
        self.closed.set_result(why)
        self._replies.put_nowait(None)
        if self._beat is not None:
            self._beat.cancel()
        unconfirmed, self._unconfirmed, self._returnable = self._unconfirmed, {}, {}
        for confirm, _ in unconfirmed.values():
            if not confirm.done():
                confirm.set_exception(LinkClosed(f"no confirm: {why}"))
        if self._transport is not None and not self._transport.is_closing():
            self._transport.close()


async def link_beside(
    connection: AbstractConnection, *, role: str, prefetch: int = 0, confirms: bool = False
) -> AmqpLink:
    """A link to the broker ``connection`` (aio-pika's) is connected to, as its user and
    named after it with ``role`` added, that lives as long as ``connection``: closed with
    it, and when the link is lost, ``connection`` is closed too, so that the broker loop's
    reconnect sets both up again (a link let go by :meth:`AmqpLink.close` is not lost)."""
    if connection.transport is None:
        raise LinkClosed("the broker connection closed during set-up")
    url = str(connection.transport.connection.url)
    properties = connection.kwargs.get("client_properties") or {}
    name = f"{properties.get('connection_name') or 'wxp'} {role}"
    link = await AmqpLink.open(url, name=name, prefetch=prefetch, confirms=confirms)

    def lost(closed: asyncio.Future[str]) -> None:
        if not link.lost or connection.is_closed:
            return
        logger.warning("link %s lost: %s; reconnecting", name, closed.result())
        task = asyncio.get_running_loop().create_task(connection.close())
        _closing_connections.add(task)
        task.add_done_callback(_closing_connections.discard)

    async def with_connection(*_: object) -> None:  # aio-pika awaits its close callbacks
        await link.close()

    link.closed.add_done_callback(lost)
    connection.close_callbacks.add(with_connection)
    return link


def publish_frame(exchange: str, routing_key: str, *, mandatory: bool) -> bytes:
    """basic.publish's method frame, byte for byte as pamqp marshals it, without the
    objects and per-field checks pamqp builds for every message (the publish path's
    largest cost after the socket write)."""
    names = [name.encode() for name in (exchange, routing_key)]
    if any(len(name) > 255 for name in names):
        raise ValueError("an exchange or routing key longer than 255 bytes")
    payload = b"".join(
        (PUBLISH, bytes((len(names[0]),)), names[0], bytes((len(names[1]),)), names[1])
    ) + (b"\x01" if mandatory else b"\x00")
    return FRAME_HEAD.pack(1, CHANNEL, len(payload)) + payload + FRAME_END_BYTE


def body_frames(body: bytes, frame_max: int) -> list[bytes]:
    """A message body as content body frames of at most ``frame_max`` bytes each (none
    for an empty body), as pamqp marshals them."""
    step = frame_max - 8  # the frame's head and end
    return [
        FRAME_HEAD.pack(3, CHANNEL, len(part)) + part + FRAME_END_BYTE
        for part in (body[at : at + step] for at in range(0, len(body), step))
    ]
