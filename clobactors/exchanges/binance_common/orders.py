"""The parameter naming one order, the same on Binance spot and USD-M.

Spot rest-api.md § Cancel order / § Query order and USD-M § Trade › Cancel Order / Query Order: "Either
``orderId`` or ``origClientOrderId`` must be sent". Our own id is preferred (we always know it); Binance's
numeric id serves for orders adopted from the exchange.

Both user streams also report a trade as the order's update with the last trade's fields (spot
user-data-stream.md § Order Update, ``executionType=TRADE``: ``t``, ``l``, ``L``, ``n``, ``N``, ``m``; USD-M
§ User Data Streams › Event: Order Update, ``x=TRADE``: ``t``, ``l``, ``L``, ``n``, ``N``, ``m``):
:func:`trade_fill` makes the Fill from the decoded update and those fields, the same way for both.
"""

from __future__ import annotations

from decimal import Decimal

from clobactors.errors import LocalProtocolError
from clobactors.exchanges.binance.signing import ParamValue
from clobactors.messages import Fill, OrderUpdate
from clobactors.model import Liquidity

__all__ = ["order_ref", "trade_fill"]


def order_ref(client_order_id: str, exchange_order_id: str, what: str) -> tuple[str, ParamValue]:
    """The parameter naming one order: our id when we have it, else Binance's numeric one."""
    if client_order_id:
        return ("origClientOrderId", client_order_id)
    if exchange_order_id.isdigit():
        return ("orderId", exchange_order_id)
    raise LocalProtocolError(f"{what} needs our client order id or Binance's numeric order id")


def trade_fill(
    update: OrderUpdate,
    *,
    trade_id: int,
    price: Decimal,
    size: Decimal,
    fee: Decimal,
    fee_asset: str | None,
    is_maker: bool,
) -> Fill:
    """The Fill a TRADE execution reports, named, timed and sided as its order's ``update``."""
    return Fill(
        exchange=update.exchange,
        instrument=update.instrument,
        ts_exchange=update.ts_exchange,
        ts_recv=update.ts_recv,
        client_order_id=update.client_order_id,
        exchange_order_id=update.exchange_order_id,
        trade_id=str(trade_id),
        side=update.side,
        price=price,
        size=size,
        fee=fee,
        fee_asset=fee_asset or "",
        liquidity=Liquidity.MAKER if is_maker else Liquidity.TAKER,
    )
