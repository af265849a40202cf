"""Http1Transport against scripted loopback servers: the framing, pooling and failure cases
a real upstream produces. tests/test_fault_proxy.py holds it to the other transports'
behaviour under the fault proxy's faults."""

from __future__ import annotations

import asyncio
import socket
import ssl
import struct
from collections.abc import AsyncIterator

import httpx
import pytest
import trustme
from scripted_upstream import OK, TIMEOUTS, Conversation, answering, serving

from gateway.http1_transport import Http1Transport
from gateway.http_wire import ResponseTooLarge


async def send(
    transport: Http1Transport, method: str, url: str, content: bytes = b"", **timeouts: float
) -> httpx.Response:
    request = httpx.Request(
        method, url, content=content, extensions={"timeout": {**TIMEOUTS, **timeouts}}
    )
    return await transport.handle_async_request(request)


@pytest.fixture
async def transport() -> AsyncIterator[Http1Transport]:
    transport = Http1Transport()
    yield transport
    await transport.aclose()


async def test_answers_come_over_one_kept_alive_connection(transport: Http1Transport) -> None:
    async with serving(answering()) as upstream:
        for _ in range(3):
            response = await send(transport, "POST", upstream.url + "/v2/x?a=1", b'{"q":1}')
            assert (response.status_code, response.json()) == (200, {"ok": True})
            assert response.headers["content-type"] == "application/json"
            assert response.extensions["reason_phrase"] == b"OK"
    assert upstream.connections == 1


async def test_the_request_goes_out_as_httpx_frames_it(transport: Http1Transport) -> None:
    seen: list[tuple[bytes, bytes]] = []

    async def recording(conversation: Conversation) -> None:
        head = await conversation.reader.readuntil(b"\r\n\r\n")
        seen.append((head, await conversation.reader.readexactly(7)))
        await conversation.answer(OK)

    async with serving(recording) as upstream:
        await send(transport, "POST", upstream.url + "/v2/x?a=1", b'{"q":1}')
    head, body = seen[0]
    port = upstream.url.rsplit(":", 1)[1]
    assert head == (
        b"POST /v2/x?a=1 HTTP/1.1\r\nHost: 127.0.0.1:" + port.encode() + b"\r\n"
        b"Content-Length: 7\r\n\r\n"
    )
    assert body == b'{"q":1}'


async def test_a_chunked_answer_is_read_whole_and_its_connection_kept(
    transport: Http1Transport,
) -> None:
    chunked = (
        b'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n4\r\n{"a"\r\n3\r\n:1}\r\n0\r\n\r\n'
    )
    async with serving(answering(chunked)) as upstream:
        assert (await send(transport, "GET", upstream.url)).json() == {"a": 1}
        assert (await send(transport, "GET", upstream.url)).json() == {"ok": True}
    assert upstream.connections == 1


async def test_an_answer_framed_by_the_close_is_read_to_the_end(
    transport: Http1Transport,
) -> None:
    async def close_framed(conversation: Conversation) -> None:
        await conversation.request()
        await conversation.answer(b'HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n{"part":')
        await asyncio.sleep(0.05)
        await conversation.answer(b"1}")
        conversation.close()

    async with serving(close_framed) as upstream:
        assert (await send(transport, "GET", upstream.url)).json() == {"part": 1}
        assert (await send(transport, "GET", upstream.url)).json() == {"part": 1}
    assert upstream.connections == 2


async def test_a_reset_cuts_a_close_framed_answer_short(transport: Http1Transport) -> None:
    """Only a clean close ends a body framed by the close; a reset (RST) is a broken one."""

    async def resetting(conversation: Conversation) -> None:
        await conversation.request()
        await conversation.answer(b'HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n{"part":')
        sock = conversation.writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conversation.writer.transport.abort()

    async with serving(resetting) as upstream:
        with pytest.raises(httpx.ReadError, match="before the answer was whole"):
            await send(transport, "GET", upstream.url)


@pytest.mark.parametrize("size", [500, 501])
async def test_an_answer_in_many_tiny_chunks_is_read_whole_within_the_cap(size: int) -> None:
    """Hundreds of one- and two-byte chunks: held as one buffer past a few dozen pieces, and
    counted against the cap all the same."""
    body = (bytes(range(256)) * 2)[:size]
    pieces, start = [], 0
    while start < size:  # one byte, then two, then one...
        step = 1 + len(pieces) % 2
        pieces.append(body[start : start + step])
        start += step
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces)
    chunked = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n"
    transport = Http1Transport(max_response_bytes=500)
    async with serving(answering(chunked)) as upstream:
        if size <= 500:
            assert (await send(transport, "GET", upstream.url)).content == body
        else:
            with pytest.raises(ResponseTooLarge):
                await send(transport, "GET", upstream.url)
    await transport.aclose()


@pytest.mark.parametrize(("method", "status"), [("HEAD", 200), ("GET", 304)])
async def test_the_length_of_a_body_that_never_comes_is_not_held_to_the_cap(
    method: str, status: int
) -> None:
    """A HEAD answer and a 304 give the length of a body they do not carry."""
    bodiless = b"HTTP/1.1 %d OK\r\ncontent-length: 5000\r\n\r\n" % status
    transport = Http1Transport(max_response_bytes=100)
    async with serving(answering(bodiless)) as upstream:
        answer = await send(transport, method, upstream.url)
    assert (answer.status_code, answer.content) == (status, b"")
    await transport.aclose()


async def test_an_interim_100_answer_is_passed_over(transport: Http1Transport) -> None:
    interim = b"HTTP/1.1 100 Continue\r\n\r\n" + OK
    async with serving(answering(interim)) as upstream:
        response = await send(transport, "POST", upstream.url, b"{}")
    assert (response.status_code, response.json()) == (200, {"ok": True})


async def test_a_head_answer_has_no_body_whatever_its_length_says(
    transport: Http1Transport,
) -> None:
    head_answer = b"HTTP/1.1 200 OK\r\ncontent-length: 11\r\n\r\n"
    async with serving(answering(head_answer)) as upstream:
        response = await send(transport, "HEAD", upstream.url)
        assert (response.status_code, response.headers["content-length"]) == (200, "11")
        assert response.content == b""
        assert (await send(transport, "GET", upstream.url)).json() == {"ok": True}
    assert upstream.connections == 2  # not reused: its framing is the server's word only


async def test_a_connection_the_server_closed_while_idle_is_not_reused(
    transport: Http1Transport,
) -> None:
    async def one_answer_then_close(conversation: Conversation) -> None:
        await conversation.request()
        await conversation.answer(OK)  # says nothing of closing, then closes
        conversation.close()

    async with serving(one_answer_then_close) as upstream:
        assert (await send(transport, "POST", upstream.url, b"{}")).status_code == 200
        await asyncio.sleep(0.05)  # the close reaches the client
        assert (await send(transport, "POST", upstream.url, b"{}")).status_code == 200
    assert upstream.connections == 2


async def test_an_idempotent_request_is_resent_once_when_a_kept_alive_connection_breaks(
    transport: Http1Transport,
) -> None:
    """The server closed the kept-alive connection as the request went out: a GET may be
    sent again on a new connection, a POST may not (it may have been acted on)."""
    requests: list[bytes] = []

    async def closing_on_the_second_request(conversation: Conversation) -> None:
        for answer in (OK, None):
            request = await conversation.request()
            if request is None:
                return
            requests.append(request[0].split(b" ")[0])
            if answer is None:
                conversation.close()
                return
            await conversation.answer(answer)

    async with serving(closing_on_the_second_request) as upstream:
        await send(transport, "GET", upstream.url)
        assert (await send(transport, "GET", upstream.url)).json() == {"ok": True}
        assert requests == [b"GET", b"GET", b"GET"]
        requests.clear()
        with pytest.raises(httpx.ReadError, match="kept-alive connection without an answer"):
            await send(transport, "POST", upstream.url, b"{}")
        assert requests == [b"POST"]
        requests.clear()
        await send(transport, "GET", upstream.url)
        streamed = httpx.Request(
            "PUT", upstream.url, content=_parts(), extensions={"timeout": TIMEOUTS}
        )
        with pytest.raises(httpx.ReadError, match="kept-alive connection without an answer"):
            await transport.handle_async_request(streamed)  # its body is used up
        assert requests == [b"GET", b"PUT"]


async def _parts() -> AsyncIterator[bytes]:
    yield b'{"a":'
    yield b"1}"


async def test_a_new_connection_that_breaks_is_not_resent(transport: Http1Transport) -> None:
    async def closing(conversation: Conversation) -> None:
        await conversation.request()
        conversation.close()

    async with serving(closing) as upstream:
        with pytest.raises(httpx.ReadError, match="without an answer"):
            await send(transport, "GET", upstream.url)
    assert upstream.connections == 1


async def test_a_truncated_answer_is_a_read_error(transport: Http1Transport) -> None:
    async def truncating(conversation: Conversation) -> None:
        await conversation.request()
        await conversation.answer(OK[:-4])
        conversation.close()

    async with serving(truncating) as upstream:
        with pytest.raises(httpx.ReadError, match="before the answer was whole"):
            await send(transport, "GET", upstream.url)


async def test_an_answer_that_does_not_parse_is_a_protocol_error(
    transport: Http1Transport,
) -> None:
    async with serving(answering(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")) as upstream:
        with pytest.raises(httpx.RemoteProtocolError, match="does not parse"):
            await send(transport, "GET", upstream.url)
        assert (await send(transport, "GET", upstream.url)).status_code == 200
    assert upstream.connections == 2


async def test_the_read_timeout_is_the_longest_gap_between_reads(
    transport: Http1Transport,
) -> None:
    async def dripping(conversation: Conversation) -> None:
        await conversation.request()
        for part in (OK[:30], OK[30:60], OK[60:]):
            await conversation.answer(part)
            await asyncio.sleep(0.15)
        await conversation.request()
        await asyncio.sleep(0.6)

    async with serving(dripping) as upstream:
        response = await send(transport, "GET", upstream.url, read=0.3)
        assert response.json() == {"ok": True}  # 0.3 s and more in all, no gap of 0.3 s
        with pytest.raises(httpx.ReadTimeout):
            await send(transport, "GET", upstream.url, read=0.3)


async def test_a_cancelled_call_leaves_no_half_read_connection_behind(
    transport: Http1Transport,
) -> None:
    connections = 0

    async def slow_then_fast(conversation: Conversation) -> None:
        nonlocal connections
        connections += 1
        if connections == 1:
            await conversation.request()
            await asyncio.sleep(0.3)
            await conversation.answer(b'HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\n"late"')
        await answering()(conversation)

    async with serving(slow_then_fast) as upstream:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.1):
                await send(transport, "GET", upstream.url)
        response = await send(transport, "GET", upstream.url)
        assert response.json() == {"ok": True}  # never the late answer to the first call
    assert upstream.connections == 2


async def test_calls_beyond_max_connections_wait_for_a_free_one() -> None:
    async def slow(conversation: Conversation) -> None:
        while await conversation.request() is not None:
            await asyncio.sleep(0.1)
            await conversation.answer(OK)

    transport = Http1Transport(limits=httpx.Limits(max_connections=1))
    async with serving(slow) as upstream:
        answers = await asyncio.gather(*(send(transport, "GET", upstream.url) for _ in range(3)))
        assert [a.status_code for a in answers] == [200, 200, 200]
        assert upstream.connections == 1
        first = asyncio.create_task(send(transport, "GET", upstream.url))
        await asyncio.sleep(0)
        with pytest.raises(httpx.PoolTimeout):
            await send(transport, "GET", upstream.url, pool=0.05)
        assert (await first).status_code == 200
        assert (await send(transport, "GET", upstream.url)).status_code == 200  # slot returned
    await transport.aclose()


async def test_an_idle_connection_past_its_expiry_is_not_reused() -> None:
    transport = Http1Transport(limits=httpx.Limits(keepalive_expiry=0.05))
    async with serving(answering()) as upstream:
        await send(transport, "GET", upstream.url)
        await send(transport, "GET", upstream.url)
        assert upstream.connections == 1
        await asyncio.sleep(0.1)
        await send(transport, "GET", upstream.url)
        assert upstream.connections == 2
    await transport.aclose()


async def test_no_upstream_listening_is_a_connect_error(transport: Http1Transport) -> None:
    async with serving(answering()) as upstream:
        url = upstream.url
    with pytest.raises(httpx.ConnectError):
        await send(transport, "GET", url)
    with pytest.raises(httpx.UnsupportedProtocol):
        await send(transport, "GET", "ftp://127.0.0.1/x")


async def test_https_upstreams_are_verified_against_the_given_authorities() -> None:
    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("localhost").configure_cert(server_context)
    trusting = ssl.create_default_context()
    authority.configure_trust(trusting)
    verified = Http1Transport(ssl_context=trusting)
    certifi_only = Http1Transport()
    async with serving(answering(), tls=server_context) as upstream:
        for _ in range(2):
            assert (await send(verified, "GET", upstream.url + "/x")).json() == {"ok": True}
        assert upstream.connections == 1
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await send(certifi_only, "GET", upstream.url + "/x")
    await verified.aclose()
    await certifi_only.aclose()
