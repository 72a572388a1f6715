"""HTTP plumbing for collection routes: bounded bodies, client address, error answers."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

import msgspec
from starlette.requests import Request
from starlette.responses import Response

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type, Authorization",
    "Access-Control-Max-Age": "86400",
}

_error_encoder = msgspec.json.Encoder()


class BodyTooLarge(Exception):
    """The body is over the endpoint's limit (answered 413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"body is larger than {limit} bytes")
        self.limit = limit


async def read_body(request: Request, limit: int) -> bytes:
    """Read the body, refusing more than `limit` bytes without reading it all first."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def client_ip(request: Request, trusted: Sequence[IPNetwork]) -> str:
    """The visitor's address: the socket peer, or X-Forwarded-For when the peer is trusted."""
    peer = request.client.host if request.client else ""
    return resolve_client_ip(peer, request.headers.get("x-forwarded-for", ""), trusted)


def resolve_client_ip(peer: str, forwarded: str, trusted: Sequence[IPNetwork]) -> str:
    """Walk X-Forwarded-For from the right, taking the first hop that is not a trusted proxy.

    The header counts only when the socket peer itself is a trusted proxy, so a client cannot
    forge its address by sending the header itself.
    """
    if not trusted or not forwarded or not _is_trusted(peer, trusted):
        return peer
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _is_trusted(hop, trusted):
            return hop if _is_address(hop) else peer
    return hops[0] if hops and _is_address(hops[0]) else peer


def _is_trusted(address: str, trusted: Sequence[IPNetwork]) -> bool:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(parsed in network for network in trusted)


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def error_body(code: str, message: str) -> bytes:
    """The contract's error body: {"status": "error", "error": {"code", "message"}}."""
    return _error_encoder.encode({"status": "error", "error": {"code": code, "message": message}})


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    """An error answer with the contract's body."""
    body = error_body(code, message)
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def json_response(status: int, payload: object, headers: dict[str, str] | None = None) -> Response:
    """A JSON answer encoded with msgspec (fast path; FastAPI is not involved here)."""
    return Response(
        _error_encoder.encode(payload),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )
