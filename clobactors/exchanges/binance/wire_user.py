"""Binance spot wire layer: user data stream events (user-data-stream.md).

The same events arrive raw on a listen-key stream (``<ws>/ws/<listenKey>``) and wrapped in
:class:`~clobactors.exchanges.binance.wire_wsapi.WsApiEvent` on a WebSocket API subscription.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final, TypeAlias, final

import msgspec

from clobactors.exchanges.binance.wire_base import WireStruct

# -- user data stream events (user-data-stream.md) -----------------------------------------------------------


class _UserEvent(WireStruct, frozen=True, kw_only=True, tag_field="e"):
    """Base of user data events: ``e`` event type (the tag) and ``E`` event time."""

    event_time: int = msgspec.field(name="E")


@final
class ExecutionReport(_UserEvent, frozen=True, kw_only=True, tag="executionReport"):
    """Order update: Binance spot API, user-data-stream.md § Order Update (every documented field).

    Conditional fields (trailing stops, STP, SOR, pegged orders, strategies) default to ``None``.
    """

    symbol: str = msgspec.field(name="s")
    client_order_id: str = msgspec.field(name="c")
    side: str = msgspec.field(name="S")
    order_type: str = msgspec.field(name="o")
    time_in_force: str = msgspec.field(name="f")
    quantity: Decimal = msgspec.field(name="q")
    price: Decimal = msgspec.field(name="p")
    stop_price: Decimal = msgspec.field(name="P")
    iceberg_quantity: Decimal = msgspec.field(name="F")
    order_list_id: int = msgspec.field(name="g")
    #: Id of the order being canceled (empty otherwise).
    orig_client_order_id: str = msgspec.field(name="C")
    execution_type: str = msgspec.field(name="x")
    order_status: str = msgspec.field(name="X")
    reject_reason: str = msgspec.field(name="r")
    order_id: int = msgspec.field(name="i")
    last_executed_quantity: Decimal = msgspec.field(name="l")
    cumulative_filled_quantity: Decimal = msgspec.field(name="z")
    last_executed_price: Decimal = msgspec.field(name="L")
    commission_amount: Decimal = msgspec.field(name="n")
    commission_asset: str | None = msgspec.field(name="N")
    transaction_time: int = msgspec.field(name="T")
    trade_id: int = msgspec.field(name="t")
    execution_id: int = msgspec.field(name="I")
    is_working: bool = msgspec.field(name="w")
    is_maker: bool = msgspec.field(name="m")
    ignore: bool = msgspec.field(name="M")
    order_creation_time: int = msgspec.field(name="O")
    cumulative_quote_quantity: Decimal = msgspec.field(name="Z")
    last_quote_quantity: Decimal = msgspec.field(name="Y")
    quote_order_quantity: Decimal = msgspec.field(name="Q")
    working_time: int | None = msgspec.field(name="W", default=None)
    self_trade_prevention_mode: str | None = msgspec.field(name="V", default=None)
    trailing_delta: int | None = msgspec.field(name="d", default=None)
    trailing_time: int | None = msgspec.field(name="D", default=None)
    strategy_id: int | None = msgspec.field(name="j", default=None)
    strategy_type: int | None = msgspec.field(name="J", default=None)
    prevented_match_id: int | None = msgspec.field(name="v", default=None)
    prevented_quantity: Decimal | None = msgspec.field(name="A", default=None)
    last_prevented_quantity: Decimal | None = msgspec.field(name="B", default=None)
    trade_group_id: int | None = msgspec.field(name="u", default=None)
    counter_order_id: int | None = msgspec.field(name="U", default=None)
    counter_symbol: str | None = msgspec.field(name="Cs", default=None)
    prevented_execution_quantity: Decimal | None = msgspec.field(name="pl", default=None)
    prevented_execution_price: Decimal | None = msgspec.field(name="pL", default=None)
    prevented_execution_quote_qty: Decimal | None = msgspec.field(name="pY", default=None)
    match_type: str | None = msgspec.field(name="b", default=None)
    allocation_id: int | None = msgspec.field(name="a", default=None)
    working_floor: str | None = msgspec.field(name="k", default=None)
    used_sor: bool | None = msgspec.field(name="uS", default=None)
    peg_price_type: str | None = msgspec.field(name="gP", default=None)
    peg_offset_type: str | None = msgspec.field(name="gOT", default=None)
    peg_offset_value: int | None = msgspec.field(name="gOV", default=None)
    pegged_price: Decimal | None = msgspec.field(name="gp", default=None)
    expiry_reason: str | None = msgspec.field(name="eR", default=None)


@final
class PositionBalance(WireStruct, frozen=True, kw_only=True):
    """One element of ``B``: user-data-stream.md § Account Update."""

    asset: str = msgspec.field(name="a")
    free: Decimal = msgspec.field(name="f")
    locked: Decimal = msgspec.field(name="l")


@final
class OutboundAccountPosition(_UserEvent, frozen=True, kw_only=True, tag="outboundAccountPosition"):
    """Balances that changed: Binance spot API, user-data-stream.md § Account Update."""

    last_update_time: int = msgspec.field(name="u")
    balances: tuple[PositionBalance, ...] = msgspec.field(name="B")


@final
class BalanceUpdate(_UserEvent, frozen=True, kw_only=True, tag="balanceUpdate"):
    """Deposit, withdrawal or transfer: Binance spot API, user-data-stream.md § Balance Update."""

    asset: str = msgspec.field(name="a")
    delta: Decimal = msgspec.field(name="d")
    clear_time: int = msgspec.field(name="T")


@final
class ListStatusOrder(WireStruct, frozen=True, kw_only=True):
    """One element of ``O``: user-data-stream.md § Order Update (listStatus)."""

    symbol: str = msgspec.field(name="s")
    order_id: int = msgspec.field(name="i")
    client_order_id: str = msgspec.field(name="c")


@final
class ListStatus(_UserEvent, frozen=True, kw_only=True, tag="listStatus"):
    """Order list (OCO...) update: Binance spot API, user-data-stream.md § Order Update (listStatus)."""

    symbol: str = msgspec.field(name="s")
    order_list_id: int = msgspec.field(name="g")
    contingency_type: str = msgspec.field(name="c")
    list_status_type: str = msgspec.field(name="l")
    list_order_status: str = msgspec.field(name="L")
    list_reject_reason: str = msgspec.field(name="r")
    list_client_order_id: str = msgspec.field(name="C")
    transaction_time: int = msgspec.field(name="T")
    orders: tuple[ListStatusOrder, ...] = msgspec.field(name="O")


@final
class ListenKeyExpired(_UserEvent, frozen=True, kw_only=True, tag="listenKeyExpired"):
    """The listen key expired and its stream stops: user-data-stream.md § Listen Key Expired."""

    listen_key: str = msgspec.field(name="listenKey")


@final
class EventStreamTerminated(_UserEvent, frozen=True, kw_only=True, tag="eventStreamTerminated"):
    """The WebSocket API subscription ended (e.g. logout): user-data-stream.md § Event Stream Terminated."""


@final
class ExternalLockUpdate(_UserEvent, frozen=True, kw_only=True, tag="externalLockUpdate"):
    """Spot balance locked or unlocked by an external system: user-data-stream.md § External Lock Update."""

    asset: str = msgspec.field(name="a")
    delta: Decimal = msgspec.field(name="d")
    transaction_time: int = msgspec.field(name="T")


UserDataEvent: TypeAlias = (
    ExecutionReport
    | OutboundAccountPosition
    | BalanceUpdate
    | ListStatus
    | ListenKeyExpired
    | EventStreamTerminated
    | ExternalLockUpdate
)


USER_EVENT_DECODER: Final[msgspec.json.Decoder[UserDataEvent]] = msgspec.json.Decoder(UserDataEvent)
