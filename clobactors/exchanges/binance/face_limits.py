"""Binance face: the rate limits it publishes in ``exchangeInfo``, enforced per IP and per account.

Source: rest-api.md § LIMITS (IP Limits, Unfilled Order Count) and web-socket-api.md § Rate limits.

* ``REQUEST_WEIGHT`` and ``RAW_REQUESTS`` are counted per IP, ``ORDERS`` per account, each in fixed windows
  aligned to the server's epoch clock (a ``1 MINUTE`` window starts every minute), using
  :class:`clobactors.ratelimit.RateLimiter` pools built from the very ``rateLimits`` entries the face
  publishes, so what a client reads is what it gets.
* Every answer carries ``X-MBX-USED-WEIGHT-<n><unit>``; order placements add ``X-MBX-ORDER-COUNT-<n><unit>``.
* Over a weight limit: HTTP 429, code -1003, ``Retry-After`` = seconds to the window's end. A client that
  keeps sending during that back-off collects strikes; at ``ban_after_strikes`` its IP is banned: HTTP 418
  with ``Retry-After`` until the ban ends, 2 minutes for a first ban, doubling for repeat offenders, at most
  3 days ("IP bans are tracked and scale in duration for repeat offenders, from 2 minutes to 3 days").
* Over an order limit: HTTP 429, code -1015 (no ban: the account, not the IP, overdid it).

Requests refused with 429/418 are not counted (the weight was never spent). Sans-IO: ``now_ms`` is passed in.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Final, final

import attrs

from clobactors.errors import ConfigError
from clobactors.exchanges.binance.errors import MSG_IP_BANNED, MSG_ORDER_LIMIT, MSG_WEIGHT_LIMIT, ErrorCode
from clobactors.exchanges.binance.face_params import FaceError
from clobactors.exchanges.binance.wire import RateLimit, RateLimitUsage
from clobactors.ratelimit import Grant, Pool, Priority, RateLimiter

__all__ = ["DEFAULT_RATE_LIMITS", "Limits", "LimitsStatistics"]

#: Binance spot's published limits (exchangeInfo, 2025).
DEFAULT_RATE_LIMITS: Final = (
    RateLimit(rate_limit_type="REQUEST_WEIGHT", interval="MINUTE", interval_num=1, limit=6000),
    RateLimit(rate_limit_type="ORDERS", interval="SECOND", interval_num=10, limit=100),
    RateLimit(rate_limit_type="ORDERS", interval="DAY", interval_num=1, limit=200_000),
    RateLimit(rate_limit_type="RAW_REQUESTS", interval="MINUTE", interval_num=5, limit=61_000),
)
_FIRST_BAN_S: Final = 120.0
_MAX_BAN_S: Final = 3 * 86_400.0


def _pool(entry: RateLimit) -> Pool:
    return Pool.from_rate_limit(
        {
            "rateLimitType": entry.rate_limit_type,
            "interval": entry.interval,
            "intervalNum": entry.interval_num,
            "limit": entry.limit,
        }
    )


def _suffix(pool: Pool) -> str:
    return pool.name.rsplit("_", 1)[1]


@attrs.define
class _Ip:
    limiter: RateLimiter
    backoff_until: float | None = None
    strikes: int = 0
    banned_until: float | None = None
    bans: int = 0


@final
@attrs.frozen
class LimitsStatistics:
    """Counters since the face started."""

    throttled: int
    banned: int
    order_throttled: int


@final
@attrs.define
class Limits:
    """Per-IP weight and per-account order counting; see the module docstring."""

    _rate_limits: Sequence[RateLimit] = DEFAULT_RATE_LIMITS
    #: Requests sent during a 429 back-off before the IP is banned (418).
    _ban_after_strikes: int = 3
    _ip: dict[str, _Ip] = attrs.field(init=False, factory=dict)
    _accounts: dict[str, RateLimiter] = attrs.field(init=False, factory=dict)
    _entries: dict[str, RateLimit] = attrs.field(init=False, factory=dict)
    _ip_pools: tuple[Pool, ...] = attrs.field(init=False, default=())
    _order_pools: tuple[Pool, ...] = attrs.field(init=False, default=())
    _throttled: int = attrs.field(init=False, default=0)
    _banned: int = attrs.field(init=False, default=0)
    _order_throttled: int = attrs.field(init=False, default=0)

    def __attrs_post_init__(self) -> None:
        if self._ban_after_strikes < 1:
            raise ConfigError("ban_after_strikes must be >= 1")
        ip_pools: list[Pool] = []
        order_pools: list[Pool] = []
        for entry in self._rate_limits:
            pool = _pool(entry)
            self._entries[pool.name] = entry
            if entry.rate_limit_type == "ORDERS":
                order_pools.append(pool)
            elif entry.rate_limit_type in ("REQUEST_WEIGHT", "RAW_REQUESTS"):
                ip_pools.append(pool)
            else:
                raise ConfigError(f"unknown rateLimitType {entry.rate_limit_type!r}")
        self._ip_pools, self._order_pools = tuple(ip_pools), tuple(order_pools)

    @property
    def rate_limits(self) -> tuple[RateLimit, ...]:
        """What ``exchangeInfo`` publishes."""
        return tuple(self._rate_limits)

    def statistics(self) -> LimitsStatistics:
        return LimitsStatistics(self._throttled, self._banned, self._order_throttled)

    # -- per IP --------------------------------------------------------------------------------------------

    def _ip_state(self, ip: str) -> _Ip:
        state = self._ip.get(ip)
        if state is None:
            state = self._ip[ip] = _Ip(RateLimiter(self._ip_pools, cancel_reserve=0.0))
        return state

    def charge_ip(self, ip: str, weight: int, now_ms: int) -> None:
        """Count one request of ``weight`` from ``ip``, or raise the 429/418 answer (with headers)."""
        now = now_ms / 1000
        state = self._ip_state(ip)
        if state.banned_until is not None and now < state.banned_until:
            self._banned += 1
            raise self._ban_error(ip, state, now_ms)
        cost: dict[str, int] = {}
        for pool in self._ip_pools:
            kind = self._entries[pool.name].rate_limit_type
            cost[pool.name] = weight if kind == "REQUEST_WEIGHT" else 1
        try:
            answer = state.limiter.try_acquire(cost, Priority.CANCEL, now)
        except ConfigError:  # one request heavier than a whole window: it can never pass
            answer = None
        if isinstance(answer, Grant):
            if state.backoff_until is not None and now >= state.backoff_until:
                state.backoff_until, state.strikes = None, 0
            return
        until = answer.until if answer is not None else now + min(p.window for p in self._ip_pools)
        if state.backoff_until is not None and now < state.backoff_until:
            state.strikes += 1
        state.backoff_until = max(until, state.backoff_until or until)
        if state.strikes >= self._ban_after_strikes:
            state.bans += 1
            state.strikes, state.backoff_until = 0, None
            state.banned_until = now + min(_MAX_BAN_S, _FIRST_BAN_S * 2 ** (state.bans - 1))
            self._banned += 1
            raise self._ban_error(ip, state, now_ms)
        self._throttled += 1
        pool = self._exhausted(state.limiter, self._ip_pools, cost, now)
        entry = self._entries[pool.name]
        retry_after = max(1, math.ceil(state.backoff_until - now))
        raise FaceError(
            ErrorCode.TOO_MANY_REQUESTS,
            MSG_WEIGHT_LIMIT % (entry.limit, f"{entry.interval_num} {entry.interval}"),
            status=429,
            headers=(*self.ip_headers(ip, now_ms), ("Retry-After", str(retry_after))),
        )

    def _ban_error(self, ip: str, state: _Ip, now_ms: int) -> FaceError:
        assert state.banned_until is not None
        retry_after = max(1, math.ceil(state.banned_until - now_ms / 1000))
        return FaceError(
            ErrorCode.TOO_MANY_REQUESTS,
            MSG_IP_BANNED % int(state.banned_until * 1000),
            status=418,
            headers=(*self.ip_headers(ip, now_ms), ("Retry-After", str(retry_after))),
        )

    def banned_until_ms(self, ip: str) -> int | None:
        state = self._ip.get(ip)
        return None if state is None or state.banned_until is None else int(state.banned_until * 1000)

    def ip_headers(self, ip: str, now_ms: int) -> tuple[tuple[str, str], ...]:
        """``X-MBX-USED-WEIGHT-1M``-style headers: the weight this IP used in each window."""
        stats = self._ip_state(ip).limiter.statistics(now_ms / 1000)
        return tuple(
            (f"X-MBX-USED-WEIGHT-{_suffix(p)}", str(s.used))
            for p, s in zip(self._ip_pools, stats.pools, strict=True)
            if self._entries[p.name].rate_limit_type == "REQUEST_WEIGHT"
        )

    def ip_usage(self, ip: str, now_ms: int) -> tuple[RateLimitUsage, ...]:
        """The WebSocket API's ``rateLimits`` array (web-socket-api.md § How to interpret rate limits)."""
        stats = self._ip_state(ip).limiter.statistics(now_ms / 1000)
        return tuple(
            _usage(self._entries[p.name], s.used)
            for p, s in zip(self._ip_pools, stats.pools, strict=True)
            if self._entries[p.name].rate_limit_type == "REQUEST_WEIGHT"
        )

    # -- per account ---------------------------------------------------------------------------------------

    def _account(self, account_id: str) -> RateLimiter:
        limiter = self._accounts.get(account_id)
        if limiter is None:
            limiter = self._accounts[account_id] = RateLimiter(self._order_pools, cancel_reserve=0.0)
        return limiter

    def charge_order(self, account_id: str, now_ms: int) -> None:
        """Count one new order, or raise 429 / -1015 naming the exhausted limit."""
        if not self._order_pools:
            return
        limiter = self._account(account_id)
        cost = {p.name: 1 for p in self._order_pools}
        answer = limiter.try_acquire(cost, Priority.CANCEL, now_ms / 1000)
        if isinstance(answer, Grant):
            return
        self._order_throttled += 1
        pool = self._exhausted(limiter, self._order_pools, cost, now_ms / 1000)
        entry = self._entries[pool.name]
        raise FaceError(
            ErrorCode.TOO_MANY_ORDERS,
            MSG_ORDER_LIMIT % (entry.limit, f"{entry.interval_num} {entry.interval}"),
            status=429,
            headers=(("Retry-After", str(max(1, math.ceil(answer.until - now_ms / 1000)))),),
        )

    def order_headers(self, account_id: str, now_ms: int) -> tuple[tuple[str, str], ...]:
        """``X-MBX-ORDER-COUNT-10S``-style headers for the account."""
        if not self._order_pools:
            return ()
        stats = self._account(account_id).statistics(now_ms / 1000)
        return tuple(
            (f"X-MBX-ORDER-COUNT-{_suffix(p)}", str(s.used))
            for p, s in zip(self._order_pools, stats.pools, strict=True)
        )

    def order_usage(self, account_id: str, now_ms: int) -> tuple[RateLimitUsage, ...]:
        if not self._order_pools:
            return ()
        stats = self._account(account_id).statistics(now_ms / 1000)
        return tuple(_usage(self._entries[p.name], s.used) for p, s in zip(self._order_pools, stats.pools, strict=True))

    @staticmethod
    def _exhausted(limiter: RateLimiter, pools: tuple[Pool, ...], cost: dict[str, int], now: float) -> Pool:
        """The first pool the refused request did not fit in (the one its error message names)."""
        stats = limiter.statistics(now)
        for pool, s in zip(pools, stats.pools, strict=True):
            if s.used + cost.get(pool.name, 0) > s.limit:
                return pool
        return pools[0]


def _usage(entry: RateLimit, used: int) -> RateLimitUsage:
    return RateLimitUsage(
        rate_limit_type=entry.rate_limit_type,
        interval=entry.interval,
        interval_num=entry.interval_num,
        limit=entry.limit,
        count=used,
    )
