"""What every upstream transport puts on the wire and takes back (gateway/http_wire.py):
a head that would be read as more than it is goes unsent, an answer past
`max_response_bytes` fails and its connection is closed, whichever transport runs; and the
connectors report the first as a refused request, not an outage."""

from __future__ import annotations

import asyncio
import gzip
import random
from collections.abc import AsyncIterator

import httpx
import pytest
from scripted_upstream import OK, TIMEOUTS, Conversation, Upstream, answering, serving

from connectors.errors import UpstreamRejected, UpstreamUnavailable
from connectors.http import UpstreamHttp
from connectors.resilience import ResilienceSettings, UpstreamPolicy
from connectors.resilience.breaker import CircuitState
from gateway.http_transport import UpstreamClient
from gateway.http_wire import ResponseTooLarge
from gateway.settings import TRANSPORT_NAMES, HttpSettings
from gateway.wiring.build import build_http_client, upstream_transport

CAP = 1000


class RawTargetURL(httpx.URL):
    """A URL whose target is given as bytes, past httpx's own checks: what a URL built by
    other code could carry, for the transport's own check to meet."""

    def __init__(self, url: str, raw_path: bytes) -> None:
        super().__init__(url)
        self._raw_path = raw_path

    @property
    def raw_path(self) -> bytes:
        return self._raw_path


class Recorder:
    """Answers every request with OK, and keeps each request line."""

    def __init__(self) -> None:
        self.lines: list[bytes] = []

    async def __call__(self, conversation: Conversation) -> None:
        while (request := await conversation.request()) is not None:
            self.lines.append(request[0])
            await conversation.answer(OK)


@pytest.fixture(params=TRANSPORT_NAMES)
async def transport(request: pytest.FixtureRequest) -> AsyncIterator[httpx.AsyncBaseTransport]:
    transport = upstream_transport(str(request.param), max_response_bytes=CAP)
    yield transport
    await transport.aclose()


def request(method: str, url: str, target: bytes | None = None, **kwargs: object) -> httpx.Request:
    made = httpx.Request(method, url, extensions={"timeout": TIMEOUTS}, **kwargs)  # type: ignore[arg-type]
    if target is not None:
        made.url = RawTargetURL(url, target)  # httpx.Request would copy it to a plain URL
    return made


# what goes wrong -> how the request is made
REFUSED = {
    "CRLF in a header value": lambda url: request(
        "GET", url, headers={"x-sku": "A1\r\nX-Injected: 1"}
    ),
    "LF in a header value": lambda url: request("GET", url, headers={"x-sku": "A1\nB"}),
    "CR in a header value": lambda url: request("GET", url, headers={"x-sku": "A1\rB"}),
    "NUL in a header value": lambda url: request("GET", url, headers={"x-sku": "A1\x00B"}),
    "CRLF in a header name": lambda url: request("GET", url, headers={"x-a\r\nx-b": "1"}),
    "NUL in a header name": lambda url: request("GET", url, headers={"x-a\x00": "1"}),
    "a colon in a header name": lambda url: request("GET", url, headers={"x-a:b": "1"}),
    "a space in a header name": lambda url: request("GET", url, headers={"x a": "1"}),
    "CRLF in the method": lambda url: request("GET /other HTTP/1.1\r\nX", url),
    "CRLF in the target": lambda url: request("GET", url, b"/v2/items\r\nX-Injected: 1"),
    "LF in the target": lambda url: request("GET", url, b"/v2/items\nx"),
    "NUL in the target": lambda url: request("GET", url, b"/v2/items\x00"),
    "a space in the target": lambda url: request("GET", url, b"/v2/items HTTP/1.1"),
}


@pytest.mark.parametrize("make", REFUSED.values(), ids=REFUSED.keys())
async def test_a_head_that_would_read_as_more_is_refused_and_nothing_is_sent(
    transport: httpx.AsyncBaseTransport, make
) -> None:
    recorder = Recorder()
    async with serving(recorder) as upstream:
        with pytest.raises(httpx.LocalProtocolError):
            await transport.handle_async_request(make(upstream.url))
        # the transport still works, and the upstream saw only this second request
        answer = await transport.handle_async_request(request("GET", upstream.url + "/next"))
        assert answer.json() == {"ok": True}
    assert recorder.lines == [b"GET /next HTTP/1.1"]


async def test_the_refusal_says_which_part_and_which_character_but_not_the_value() -> None:
    transport = upstream_transport("http1")
    secret = "Bearer s3cr3t\r\nX-Injected: 1"
    with pytest.raises(httpx.LocalProtocolError) as refused:
        await transport.handle_async_request(
            request("GET", "http://127.0.0.1:9/x", headers={"Authorization": secret})
        )
    assert str(refused.value) == (
        "refused to send GET to http://127.0.0.1:9: the value of the header 'Authorization' "
        "holds CR (\\r) at offset 13; nothing was sent"
    )
    with pytest.raises(httpx.LocalProtocolError) as refused:
        await transport.handle_async_request(request("GET /admin HTTP/1.1\r\nX", "http://a:9"))
    assert str(refused.value).startswith(  # the method is not repeated into the log either
        "refused to send a request to http://a:9: the method holds a space at offset 3;"
    )
    with pytest.raises(httpx.LocalProtocolError, match="the request target holds NUL"):
        await transport.handle_async_request(request("GET", "http://127.0.0.1:9", b"/a\x00"))
    await transport.aclose()


async def test_tabs_and_spaces_inside_a_value_are_sent_as_they_are(
    transport: httpx.AsyncBaseTransport,
) -> None:
    seen: list[bytes] = []

    async def recording(conversation: Conversation) -> None:
        seen.append(await conversation.reader.readuntil(b"\r\n\r\n"))
        await conversation.answer(OK)

    async with serving(recording) as upstream:
        call = request("GET", upstream.url, headers=[(b"x-a", b"one\ttwo three")])
        assert (await transport.handle_async_request(call)).status_code == 200
    assert b"\r\nx-a: one\ttwo three\r\n" in seen[0]


def framed(body: bytes, framing: str) -> bytes:
    """An answer carrying `body`, framed by its length, by chunks, or by the close."""
    if framing == "content-length":
        return b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)
    if framing == "chunked":
        chunks = b"".join(
            b"%x\r\n%s\r\n" % (len(body[i : i + 300]), body[i : i + 300])
            for i in range(0, len(body), 300)
        )
        return b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n"
    return b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n" + body


FRAMINGS = ["content-length", "chunked", "close"]


@pytest.mark.parametrize("framing", FRAMINGS)
async def test_an_answer_at_the_cap_is_read_whole(
    transport: httpx.AsyncBaseTransport, framing: str
) -> None:
    body = b"x" * CAP

    async def at_the_cap(conversation: Conversation) -> None:
        await conversation.request()
        await conversation.answer(framed(body, framing))
        if framing == "close":
            conversation.close()

    async with serving(at_the_cap) as upstream:
        answer = await transport.handle_async_request(request("GET", upstream.url))
    assert answer.content == body


@pytest.mark.parametrize("framing", FRAMINGS)
async def test_an_answer_past_the_cap_fails_at_once_and_its_connection_is_closed(
    transport: httpx.AsyncBaseTransport, framing: str
) -> None:
    """The upstream sends one byte over the cap (for Content-Length, only the head saying
    so) and keeps the connection open: the call fails without waiting for more, and the
    upstream sees the client close."""
    closed = asyncio.Event()

    async def past_the_cap(conversation: Conversation) -> None:
        if closed.is_set():  # the call after
            await answering()(conversation)
            return
        await conversation.request()
        answer = framed(b"x" * (CAP + 1), framing)
        if framing == "content-length":
            answer = answer[: answer.index(b"\r\n\r\n") + 4]  # the head only
        elif framing == "chunked":
            answer = answer.removesuffix(b"0\r\n\r\n")  # not the end either
        await conversation.answer(answer)
        assert await conversation.reader.read() == b""  # until the client closes
        closed.set()

    async with serving(past_the_cap) as upstream:
        with pytest.raises(ResponseTooLarge, match=f"body over {CAP} bytes"):
            await transport.handle_async_request(request("GET", upstream.url))
        async with asyncio.timeout(5):
            await closed.wait()
        assert (await transport.handle_async_request(request("GET", upstream.url))).status_code
    assert upstream.connections == 2


async def test_a_compressed_answer_is_held_to_the_cap_as_decoded(
    transport: httpx.AsyncBaseTransport,
) -> None:
    """A gzip body well under the cap that decodes past it fails; one that decodes within
    it is decoded."""
    small, bomb = gzip.compress(b"y" * CAP), gzip.compress(b"y" * (CAP * 100))
    assert len(bomb) < CAP

    def gzipped(body: bytes) -> bytes:
        return b"HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: %d\r\n\r\n%s" % (
            len(body),
            body,
        )

    async def small_then_bomb(conversation: Conversation) -> None:
        for body in (small, bomb):
            await conversation.request()
            await conversation.answer(gzipped(body))

    async with serving(small_then_bomb) as upstream:
        answer = await transport.handle_async_request(request("GET", upstream.url))
        assert answer.content == b"y" * CAP
        with pytest.raises(ResponseTooLarge, match=rf"decodes \(gzip\) to over {CAP} bytes"):
            await transport.handle_async_request(request("GET", upstream.url))


@pytest.mark.parametrize("name", TRANSPORT_NAMES)
async def test_a_compressed_answer_of_many_decoding_steps_is_decoded_whole(name: str) -> None:
    plain = random.Random(7).randbytes(40_000)  # incompressible: five steps of 8 KiB
    compressed = gzip.compress(plain)

    async def answering_gzip(conversation: Conversation) -> None:
        await conversation.request()
        await conversation.answer(
            b"HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: %d\r\n\r\n%s"
            % (len(compressed), compressed)
        )

    transport = upstream_transport(name)
    async with serving(answering_gzip) as upstream:
        answer = await transport.handle_async_request(request("GET", upstream.url))
    assert answer.content == plain
    await transport.aclose()


async def test_a_head_that_never_ends_fails(transport: httpx.AsyncBaseTransport) -> None:
    """A header line of 200 KB: each transport stops at its own head limit (httpcore's
    h11 at 100 KiB, aiohttp 8 KiB a line, http1 64 KiB in all) with a protocol error."""

    async def endless(conversation: Conversation) -> None:
        await conversation.request()
        await conversation.answer(b"HTTP/1.1 200 OK\r\nx-long: " + b"a" * 200_000)
        await conversation.reader.read()

    async with serving(endless) as upstream:
        with pytest.raises(httpx.RemoteProtocolError):
            await transport.handle_async_request(request("GET", upstream.url))


@pytest.mark.parametrize("name", TRANSPORT_NAMES)
async def test_the_setting_caps_the_gateways_client(name: str) -> None:
    """OMNIGATE_HTTP__MAX_RESPONSE_BYTES reaches the transport the wiring builds."""

    async def answer_of(conversation: Conversation) -> None:
        while await conversation.request() is not None:
            await conversation.answer(framed(b"z" * 500, "content-length"))

    client = build_http_client(HttpSettings(transport=name, max_response_bytes=499))
    async with serving(answer_of) as upstream, client:
        with pytest.raises(ResponseTooLarge):
            await client.get(upstream.url)
    client = build_http_client(HttpSettings(transport=name, max_response_bytes=500))
    async with serving(answer_of) as upstream, client:
        assert (await client.get(upstream.url)).content == b"z" * 500


def connector(client: httpx.AsyncClient, upstream: Upstream) -> UpstreamHttp:
    assert isinstance(client, UpstreamClient)
    settings = ResilienceSettings(retries=3, breaker_min_calls=2, backoff_base_seconds=0)
    return UpstreamHttp(
        client,
        service="square",
        base_url=upstream.url,
        policy=UpstreamPolicy("square", settings),
        transport=client.upstream_transport,
    )


async def test_the_connectors_report_a_refused_head_as_a_rejected_request() -> None:
    """Not retried, not counted against the service by its breaker, nothing sent."""
    recorder = Recorder()
    client = build_http_client(HttpSettings())
    async with serving(recorder) as upstream, client:
        http = connector(client, upstream)
        for value in ("A1\r\nX-Injected: 1", "café"):
            for _ in range(3):
                with pytest.raises(UpstreamRejected) as refused:
                    await http.send(
                        "inventory", "GET", "/v2/x", headers={"x-sku": value}, idempotent=True
                    )
                assert refused.value.sent is False
        assert http.policy.breaker.state is CircuitState.CLOSED
        assert recorder.lines == []
        assert (await http.send("inventory", "GET", "/v2/x")).json() == {"ok": True}


async def test_the_connectors_report_an_answer_past_the_cap_as_unavailable() -> None:
    async def too_big(conversation: Conversation) -> None:
        while await conversation.request() is not None:
            await conversation.answer(framed(b"z" * 500, "content-length"))

    client = build_http_client(HttpSettings(max_response_bytes=100))
    async with serving(too_big) as upstream, client:
        http = connector(client, upstream)
        with pytest.raises(UpstreamUnavailable) as failed:
            await http.send("inventory", "GET", "/v2/x")
        assert not isinstance(failed.value, UpstreamRejected)
        assert "ResponseTooLarge" in failed.value.detail


@pytest.mark.parametrize("name", ["http1", "aiohttp"])
@pytest.mark.parametrize("control", [b"\x01", b"\x0b", b"\x1f", b"\x7f"])
async def test_other_control_characters_in_a_value_are_refused_as_aiohttp_does(
    name: str, control: bytes
) -> None:
    """h11 lets these through (it refuses only NUL and whitespace other than SP and HTAB);
    aiohttp refuses every C0 control but HTAB, and DEL, and so does http1."""
    transport = upstream_transport(name)
    call = request("GET", "http://127.0.0.1:9", headers=[(b"x-a", b"a" + control + b"b")])
    with pytest.raises(httpx.LocalProtocolError, match="the value of the header 'x-a' holds"):
        await transport.handle_async_request(call)
    await transport.aclose()
