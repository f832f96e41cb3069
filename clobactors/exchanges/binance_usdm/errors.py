"""Binance USD-M error codes and their one mapping into :mod:`clobactors.errors`.

Source: USD-M docs § Error Codes (error-code) and § General Info › HTTP Return Codes. Codes shared with spot
(10xx, 11xx, -2010/-2011/-2013/-2014/-2015) mean the same there; futures add margin, position and filter
codes (-2018..-2028, 40xx) and order-execution codes (50xx). The body shape and ``Retry-After`` handling are
spot's, so :func:`parse_retry_after` and :func:`error_body`'s encoding are shared.

Mapping (most specific first): 418 → banned :class:`RateLimited`; 429, -1003, -1015 → :class:`RateLimited`;
5xx, 408 and the "execution status unknown" / overload codes → :class:`ExchangeUnavailable` (an order's
outcome is then unknown, never "failed"); bad key/signature/timestamp → :class:`AuthenticationFailed`;
missing balance or margin (-2018, -2019, -4050, -4051) → :class:`InsufficientBalance`; filter failures
(price, quantity, tick, step, notional, percent price) → :class:`TradingRuleViolation`; -2011/-2013 →
:class:`UnknownOrder`; other order refusals (reduce-only, position side, post-only/GTX, FOK, would trigger,
risk controls) → :class:`OrderRejected`; the rest → :class:`ExchangeError`.

Modify Order (§ Trade › Modify Order, ``PUT /fapi/v1/order``) answers: -2013 "Order does not exist." (the order
no longer rests: filled, cancelled or never known) → :class:`UnknownOrder`, so the caller asks what became of
it; -5027 "No need to modify the order." (the new terms equal the order's) → :class:`OrderRejected`: a refusal
that changed nothing, reported rather than swallowed because the caller asked for a change it believed was
one (its view of the order may be stale); -5024 (symbol not trading), -5025 (only LIMIT orders) and -5026
(too many modifications) → :class:`OrderRejected`. The order stays as it was in every refusal.

:data:`NOOP_CODES` (-4046 "No need to change margin type.", -4059 "No need to change position side.") say
the account is already as asked: the dialect reports them as success, so an idempotent setter never fails.
"""

from __future__ import annotations

import enum
from typing import Final

import msgspec

from clobactors.errors import (
    AuthenticationFailed,
    ExchangeError,
    ExchangeUnavailable,
    InsufficientBalance,
    OrderRejected,
    RateLimited,
    TradingRuleViolation,
    UnknownOrder,
)
from clobactors.exchanges.binance.errors import parse_retry_after
from clobactors.exchanges.binance_usdm.convert import EXCHANGE
from clobactors.exchanges.binance_usdm.wire import ERROR_DECODER, ErrorBody

__all__ = [
    "ERROR_MESSAGES",
    "NOOP_CODES",
    "ErrorCode",
    "error_body",
    "is_noop",
    "map_error",
    "map_error_code",
    "parse_retry_after",
]


class ErrorCode(enum.IntEnum):
    """USD-M error codes a connector meets (§ Error Codes); names are Binance's own."""

    #: An unknown error occurred while processing the request.
    UNKNOWN = -1000
    #: Internal error; unable to process your request.
    DISCONNECTED = -1001
    #: You are not authorized to execute this request.
    UNAUTHORIZED = -1002
    #: Too many requests (weight); see also HTTP 429/418.
    TOO_MANY_REQUESTS = -1003
    #: Unexpected response from the message bus: execution status unknown.
    UNEXPECTED_RESP = -1006
    #: Timeout waiting for the backend: execution status unknown.
    TIMEOUT = -1007
    #: Overloaded / throttled by system-level protection.
    REQUEST_THROTTLED = -1008
    #: Too many new orders.
    TOO_MANY_ORDERS = -1015
    #: This service is no longer available.
    SERVICE_SHUTTING_DOWN = -1016
    #: Timestamp outside ``recvWindow`` or 1000 ms ahead of the server.
    INVALID_TIMESTAMP = -1021
    #: Signature for this request is not valid.
    INVALID_SIGNATURE = -1022
    #: Not found, unauthenticated, or unauthorized.
    NOT_FOUND = -1099
    #: A mandatory parameter was not sent, was empty/null, or malformed.
    MANDATORY_PARAM_EMPTY_OR_MALFORMED = -1102
    #: Precision is over the maximum defined for this asset.
    BAD_PRECISION = -1111
    #: Invalid symbol.
    BAD_SYMBOL = -1121
    #: This listenKey does not exist.
    INVALID_LISTEN_KEY = -1125
    #: The matching engine refused a new order.
    NEW_ORDER_REJECTED = -2010
    #: Cancel refused: "Unknown order sent."
    CANCEL_REJECTED = -2011
    #: Order does not exist.
    NO_SUCH_ORDER = -2013
    #: API-key format invalid.
    BAD_API_KEY_FMT = -2014
    #: Invalid API-key, IP, or permissions for action.
    REJECTED_MBX_KEY = -2015
    #: Balance is insufficient.
    BALANCE_NOT_SUFFICIENT = -2018
    #: Margin is insufficient.
    MARGIN_NOT_SUFFICIENT = -2019
    #: Unable to fill.
    UNABLE_TO_FILL = -2020
    #: Order would immediately trigger.
    ORDER_WOULD_IMMEDIATELY_TRIGGER = -2021
    #: ReduceOnly Order is rejected.
    REDUCE_ONLY_REJECT = -2022
    #: User in liquidation mode now.
    USER_IN_LIQUIDATION = -2023
    #: Position is not sufficient.
    POSITION_NOT_SUFFICIENT = -2024
    #: Reach max open order limit.
    MAX_OPEN_ORDER_EXCEEDED = -2025
    #: Exceeded the maximum allowable position at current leverage.
    MAX_LEVERAGE_RATIO = -2027
    #: Price less than min price.
    PRICE_LESS_THAN_MIN_PRICE = -4013
    #: Price not increased by tick size.
    PRICE_NOT_INCREASED_BY_TICK_SIZE = -4014
    #: Price is higher than mark price multiplier cap.
    PRICE_HIGHER_THAN_MULTIPLIER_UP = -4016
    #: Quantity not increased by step size.
    QTY_NOT_INCREASED_BY_STEP_SIZE = -4023
    #: Price is lower than mark price multiplier floor.
    PRICE_LOWER_THAN_MULTIPLIER_DOWN = -4024
    #: Invalid leverage.
    INVALID_LEVERAGE = -4028
    #: No need to change margin type.
    NO_NEED_TO_CHANGE_MARGIN_TYPE = -4046
    #: Margin type cannot be changed if there exists open orders.
    THERE_EXISTS_OPEN_ORDERS = -4047
    #: Margin type cannot be changed if there exists position.
    THERE_EXISTS_QUANTITY = -4048
    #: No need to change position side.
    NO_NEED_TO_CHANGE_POSITION_SIDE = -4059
    #: Invalid position side.
    INVALID_POSITION_SIDE = -4060
    #: Order's position side does not match user's setting.
    POSITION_SIDE_NOT_MATCH = -4061
    #: Invalid or improper reduceOnly value.
    REDUCE_ONLY_CONFLICT = -4062
    #: Position side cannot be changed if there exists open orders.
    POSITION_SIDE_CHANGE_EXISTS_OPEN_ORDERS = -4067
    #: Position side cannot be changed if there exists position.
    POSITION_SIDE_CHANGE_EXISTS_QUANTITY = -4068
    #: clientOrderId is duplicated.
    DUPLICATED_CLIENT_ORDER_ID = -4116
    #: The counterparty's best price does not meet the PERCENT_PRICE filter limit.
    MARKET_ORDER_REJECT = -4131
    #: Order's notional must be no smaller than the minimum (unless reduce only).
    MIN_NOTIONAL = -4164
    #: The FOK order could not be filled immediately.
    FOK_ORDER_REJECT = -5021
    #: The post-only (GTX) order could not be executed as maker.
    GTX_ORDER_REJECT = -5022
    #: Symbol is not in trading status: order amendment is not permitted.
    MOVE_ORDER_NOT_ALLOWED_SYMBOL_REASON = -5024
    #: Only limit order is supported (Modify Order).
    LIMIT_ORDER_ONLY = -5025
    #: Exceed maximum modify order limit.
    EXCEED_MAXIMUM_MODIFY_ORDER_LIMIT = -5026
    #: No need to modify the order (the new terms equal the old).
    SAME_ORDER = -5027
    #: Timestamp outside the matching engine's recvWindow.
    ME_RECVWINDOW_REJECT = -5028
    #: A modification's new notional is below the minimum (Modify Order).
    MODIFICATION_MIN_NOTIONAL = -5029


#: First documented message per code (``%s`` placeholders as documented), for the simulator face.
ERROR_MESSAGES: Final[dict[int, str]] = {
    -1000: "An unknown error occured while processing the request.",
    -1001: "Internal error; unable to process your request. Please try again.",
    -1002: "You are not authorized to execute this request.",
    -1003: "Too many requests; current limit is %s requests per minute. Please use the websocket for live "
    "updates to avoid polling the API.",
    -1006: "An unexpected response was received from the message bus. Execution status unknown.",
    -1007: "Timeout waiting for response from backend server. Send status unknown; execution status unknown.",
    -1008: "Server is currently overloaded with other requests. Please try again in a few minutes.",
    -1015: "Too many new orders; current limit is %s orders per %s.",
    -1016: "This service is no longer available.",
    -1021: "Timestamp for this request is outside of the recvWindow.",
    -1022: "Signature for this request is not valid.",
    -1099: "Not found, unauthenticated, or unauthorized.",
    -1102: "A mandatory parameter was not sent, was empty/null, or malformed.",
    -1111: "Precision is over the maximum defined for this asset.",
    -1121: "Invalid symbol.",
    -1125: "This listenKey does not exist. Please use `POST /fapi/v1/listenKey` to recreate `listenKey`",
    -2010: "NEW_ORDER_REJECTED",
    -2011: "Unknown order sent.",
    -2013: "Order does not exist.",
    -2014: "API-key format invalid.",
    -2015: "Invalid API-key, IP, or permissions for action.",
    -2018: "Balance is insufficient.",
    -2019: "Margin is insufficient.",
    -2020: "Unable to fill.",
    -2021: "Order would immediately trigger.",
    -2022: "ReduceOnly Order is rejected.",
    -2023: "User in liquidation mode now.",
    -2024: "Position is not sufficient.",
    -2025: "Reach max open order limit.",
    -2027: "Exceeded the maximum allowable position at current leverage.",
    -4013: "Price less than min price.",
    -4014: "Price not increased by tick size.",
    -4016: "Price is higher than mark price multiplier cap.",
    -4023: "Qty not increased by step size.",
    -4024: "Price is lower than mark price multiplier floor.",
    -4028: "Invalid leverage",
    -4046: "No need to change margin type.",
    -4047: "Margin type cannot be changed if there exists open orders.",
    -4048: "Margin type cannot be changed if there exists position.",
    -4059: "No need to change position side.",
    -4060: "Invalid position side.",
    -4061: "Order's position side does not match user's setting.",
    -4062: "Invalid or improper reduceOnly value.",
    -4067: "Position side cannot be changed if there exists open orders.",
    -4068: "Position side cannot be changed if there exists position.",
    -4116: "clientOrderId is duplicated",
    -4131: "The counterparty's best price does not meet the PERCENT_PRICE filter limit",
    -4164: "Order's notional must be no smaller than %s (unless you choose reduce only)",
    -5021: "Due to the order could not be filled immediately, the FOK order has been rejected.",
    -5022: "Due to the order could not be executed as maker, the Post Only order will be rejected.",
    -5024: "Symbol is not in trading status. Order amendment is not permitted.",
    -5025: "Only limit order is supported.",
    -5026: "Exceed maximum modify order limit.",
    -5027: "No need to modify the order.",
    -5028: "Timestamp for this request is outside of the ME recvWindow.",
    -5029: "Order's notional must be no smaller than %s",
}

#: "Already so" answers to setters: success for an idempotent caller.
NOOP_CODES: Final = frozenset({-4046, -4059})

_AUTH_CODES: Final = frozenset({-1002, -1021, -1022, -1099, -2014, -2015, -5028})
_RATE_CODES: Final = frozenset({-1003, -1015})
_UNAVAILABLE_CODES: Final = frozenset({-1000, -1001, -1006, -1007, -1008, -1016})
_BALANCE_CODES: Final = frozenset({-2018, -2019, -4050, -4051})
_RULE_CODES: Final = frozenset(
    {-1013, -1111, -4001, -4002, -4003, -4004, -4005, -4013, -4014, -4016, -4023, -4024, -4131, -4164, -5029}
)
_UNKNOWN_ORDER_CODES: Final = frozenset({-2011, -2013})
_REJECT_CODES: Final = frozenset(
    {-1010, -2010, -2020, -2021, -2022, -2023, -2024, -2025, -2026, -2027, -4061, -4062, -4087, -4088,
     -4105, -4106, -4107, -4116, -4118, -4189, -4400, -4401, -5021, -5022, -5024, -5025, -5026, -5027, -5041}
)  # fmt: skip


def error_body(code: int, msg: str | None = None) -> bytes:
    """Simulator side: the JSON error body, with the documented message unless one is given."""
    return msgspec.json.encode(ErrorBody(code=code, msg=msg if msg is not None else ERROR_MESSAGES[code]))


def map_error_code(status: int, code: int | None, msg: str, *, retry_after: float | None = None) -> ExchangeError:
    """The most specific :class:`~clobactors.errors.ExchangeError` for a status and a Binance code/message."""
    code_text = "" if code is None else str(code)
    message = msg or (ERROR_MESSAGES.get(code, "") if code is not None else "") or f"HTTP {status}"
    args = (message, EXCHANGE, code_text, status)
    if status == 418:
        return RateLimited(*args, retry_after=retry_after, banned=True)
    if status == 429 or code in _RATE_CODES:
        return RateLimited(*args, retry_after=retry_after)
    if status >= 500 or status == 408 or code in _UNAVAILABLE_CODES:
        return ExchangeUnavailable(*args)
    if code in _AUTH_CODES:
        return AuthenticationFailed(*args)
    if code in _BALANCE_CODES:
        return InsufficientBalance(*args)
    if code in _RULE_CODES:
        return TradingRuleViolation(*args)
    if code in _UNKNOWN_ORDER_CODES:
        return UnknownOrder(*args)
    if code in _REJECT_CODES:
        return OrderRejected(*args)
    return ExchangeError(*args)


def map_error(status: int, body: bytes, *, retry_after: float | None = None) -> ExchangeError:
    """A failed REST answer as an ExchangeError; a body that is not ``{"code", "msg"}`` maps by status alone.

    The body text is never copied into the message (it could echo request data).
    """
    try:
        parsed = ERROR_DECODER.decode(body)
    except msgspec.DecodeError:
        if status in (408, 418, 429) or status >= 500:
            return map_error_code(status, None, "", retry_after=retry_after)
        return ExchangeError(f"HTTP {status} with a malformed error body", EXCHANGE, "", status)
    return map_error_code(status, parsed.code, parsed.msg, retry_after=retry_after)


def is_noop(status: int, body: bytes) -> bool:
    """Whether a failed answer only says the setting already has the requested value (:data:`NOOP_CODES`)."""
    if 200 <= status < 300 or status >= 500:
        return False
    try:
        return ERROR_DECODER.decode(body).code in NOOP_CODES
    except msgspec.DecodeError:
        return False
