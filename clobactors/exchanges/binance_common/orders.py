"""The parameter naming one order, the same on Binance spot and USD-M.

Spot rest-api.md § Cancel order / § Query order and USD-M § Trade › Cancel Order / Query Order: "Either
``orderId`` or ``origClientOrderId`` must be sent". Our own id is preferred (we always know it); Binance's
numeric id serves for orders adopted from the exchange.
"""

from __future__ import annotations

from clobactors.errors import LocalProtocolError
from clobactors.exchanges.binance.signing import ParamValue

__all__ = ["order_ref"]


def order_ref(client_order_id: str, exchange_order_id: str, what: str) -> tuple[str, ParamValue]:
    """The parameter naming one order: our id when we have it, else Binance's numeric one."""
    if client_order_id:
        return ("origClientOrderId", client_order_id)
    if exchange_order_id.isdigit():
        return ("orderId", exchange_order_id)
    raise LocalProtocolError(f"{what} needs our client order id or Binance's numeric order id")
