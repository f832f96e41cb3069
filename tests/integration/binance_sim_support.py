"""Helpers shared by the Binance spot and USD-M simulator tests over loopback (same signing, same shapes)."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
import trio

from clobactors.exchanges.binance.signing import Credentials, sign_request
from clobactors.sim.server import Simulator


def deadline(seconds: float) -> Callable[[Callable[..., Awaitable[None]]], Callable[..., Awaitable[None]]]:
    """Fail the test if it takes more than ``seconds`` on the trio clock."""

    def decorate(fn: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
        @functools.wraps(fn)
        async def wrapper(*args: object, **kwargs: object) -> None:
            with trio.fail_after(seconds):
                await fn(*args, **kwargs)

        return wrapper

    return decorate


@asynccontextmanager
async def client(sim: Simulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sim.rest_url) as http:
        yield http


async def signed(
    http: httpx.AsyncClient, sim: Simulator, method: str, path: str, params: list[tuple[str, str]] | None = None,
    *, in_body: bool = False, creds: Credentials | None = None, timestamp: int | None = None,
) -> httpx.Response:  # fmt: skip
    """A request signed as both venues document it (HMAC-SHA256 over query + body) at the simulator's clock."""
    creds = creds or Credentials(api_key=sim.api_key, secret=sim.api_secret)
    req = sign_request(
        params or [], creds, timestamp=timestamp if timestamp is not None else sim.now_ms(), in_body=in_body
    )
    headers = dict(req.headers)
    if in_body:
        headers["content-type"] = "application/x-www-form-urlencoded"
    url = f"{path}?{req.query}" if req.query else path
    return await http.request(method, url, content=req.body.encode(), headers=headers)


def order(side: str, kind: str, **extra: str) -> list[tuple[str, str]]:
    return [("symbol", "BTCUSDT"), ("side", side), ("type", kind), *extra.items()]
