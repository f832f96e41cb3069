"""The order manager's view of the exchange clock: periodic refresh, and one resend after a timestamp refusal.

Signed requests carry a timestamp the exchange checks against its own clock (Binance ``-1021``, mapped to
:class:`~clobactors.errors.AuthenticationFailed`). A skewed local clock is the usual cause of such a refusal,
so :func:`signed_rest` re-measures the offset (:meth:`ExchangeLink.sync_clock`) and sends the request once
more, rebuilt with a fresh timestamp. The refusal means the exchange did nothing, so resending is safe.

:class:`ClockKeeper` serialises the measurements: many requests refused at once (every reconcile query of a
skewed process) share one sync, and one made less than ``min_age`` seconds ago counts as fresh.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Final, final

import attrs
import trio

from clobactors.actors.actor import Context
from clobactors.actors.exchange import ExchangeLink
from clobactors.errors import ActorUnavailable, AuthenticationFailed, ExchangeError, RemoteProtocolError, TransportError
from clobactors.httpspec import HttpRequestSpec, HttpResult
from clobactors.ratelimit import Priority

__all__ = ["ClockKeeper", "signed_rest"]

logger: Final = logging.getLogger(__name__)


@final
@attrs.define
class ClockKeeper:
    """Keeps :attr:`ExchangeLink.time_offset_ms` fresh for one order manager."""

    link: ExchangeLink
    name: str
    _lock: trio.Lock = attrs.field(factory=trio.Lock, init=False, repr=False)
    _last: float = attrs.field(default=float("-inf"), init=False)
    _syncs: int = attrs.field(default=0, init=False)

    @property
    def syncs(self) -> int:
        """Successful measurements so far."""
        return self._syncs

    async def sync(self, ctx: Context, *, min_age: float = 1.0) -> bool:
        """Refresh the offset unless it was refreshed less than ``min_age`` seconds ago; ``False`` if it failed."""
        async with self._lock:
            if trio.current_time() - self._last < min_age:
                return True
            try:
                await self.link.sync_clock(ctx)
            except (TransportError, ExchangeError, RemoteProtocolError, ActorUnavailable) as exc:
                logger.warning("%s: clock sync failed: %s", self.name, exc)
                return False
            self._last = trio.current_time()
            self._syncs += 1
            return True

    async def run(self, ctx: Context, interval: float) -> None:
        """Refresh every ``interval`` seconds (on the trio clock), forever."""
        while True:
            await trio.sleep(interval)
            await self.sync(ctx, min_age=0.0)


async def signed_rest(
    ctx: Context,
    link: ExchangeLink,
    clock: ClockKeeper | None,
    build: Callable[[], HttpRequestSpec],
    priority: Priority,
) -> HttpResult:
    """:meth:`ExchangeLink.rest` of ``build()``; refused for its timestamp, sync the clock and send it once more.

    ``build`` is called again for the resend, so the request is signed with the corrected timestamp. Without
    a ``clock`` (a caller that keeps none) the refusal propagates at once.
    """
    try:
        return await link.rest(ctx, build(), priority)
    except AuthenticationFailed:
        if clock is None or not await clock.sync(ctx):
            raise
    return await link.rest(ctx, build(), priority)
