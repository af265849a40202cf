"""The client's address, for counting anonymous requests.

The TCP peer's, unless the peer is a configured trusted proxy: then X-Forwarded-For is read
from the right (each proxy appends the address it received from), skipping trusted proxies,
and the first address not trusted is the client. Everything left of it was written by the
client itself and proves nothing. With no trusted proxies (the default) the header is
ignored, so a client cannot pick a fresh address per request by writing one.

An IPv6 client is counted per /64: a single subscriber is usually given a whole /64 and can
change the last 64 bits at will.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

Network = IPv4Network | IPv6Network
Address = IPv4Address | IPv6Address


def client_address(
    peer: str | None, forwarded_for: Iterable[str], trusted: Sequence[Network]
) -> str:
    """The address to count the request against (an IPv6 /64 as a network)."""
    address = _parse(peer)
    if address is None:
        return peer or "unknown"
    if not _is_trusted(address, trusted):
        return _bucket(address)
    hops = [hop.strip() for header in forwarded_for for hop in header.split(",")]
    for hop in reversed(hops):
        forwarded = _parse(hop)
        if forwarded is None:
            # a trusted proxy writes addresses; garbage here came from the client through a
            # proxy that did not append: count it against the last trusted hop
            break
        address = forwarded
        if not _is_trusted(address, trusted):
            break
    return _bucket(address)


def _parse(value: str | None) -> Address | None:
    if not value:
        return None
    try:
        return ip_address(value)
    except ValueError:
        return None


def _is_trusted(address: Address, trusted: Sequence[Network]) -> bool:
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address.version == network.version and address in network for network in trusted)


def _bucket(address: Address) -> str:
    if isinstance(address, IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(IPv6Network((address, 64), strict=False))
    return str(address)
