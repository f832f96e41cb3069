"""Binance spot error codes and messages, and their one mapping into :mod:`clobactors.errors`.

Source: Binance spot API, errors.md ("Error codes for Binance", last updated 2025-01-09), plus rest-api.md
§ HTTP Return Codes and web-socket-api.md § Status codes. The client maps answers with :func:`map_error`
(REST) or :func:`map_error_code` (WebSocket API); the simulator face sends the same codes and texts from
:class:`ErrorCode`, :data:`ERROR_MESSAGES` and the ``MSG_*`` constants, so both sides agree byte for byte.

FIX-only codes (-1169 to -1194) are left out: no FIX session exists here.
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
from clobactors.exchanges.binance.wire import ERROR_DECODER, ErrorBody

EXCHANGE: Final = "binance"


class ErrorCode(enum.IntEnum):
    """Binance error codes (errors.md); member names are Binance's own."""

    #: An unknown error occurred while processing the request.
    UNKNOWN = -1000
    #: Internal error; unable to process your request. Please try again.
    DISCONNECTED = -1001
    #: You are not authorized to execute this request.
    UNAUTHORIZED = -1002
    #: Too many requests (weight or queue); see also HTTP 429/418.
    TOO_MANY_REQUESTS = -1003
    #: Unexpected response from the message bus: execution status unknown.
    UNEXPECTED_RESP = -1006
    #: Timeout waiting for the backend: send and execution status unknown.
    TIMEOUT = -1007
    #: Server is overloaded; try again in a few minutes.
    SERVER_BUSY = -1008
    #: The matching engine returned an error (messages as for -2010).
    ERROR_MSG_RECEIVED = -1010
    #: Rejected by the API before the matching engine, e.g. a filter failure.
    INVALID_MESSAGE = -1013
    #: Unsupported order combination.
    UNKNOWN_ORDER_COMPOSITION = -1014
    #: Too many new orders (order rate limit).
    TOO_MANY_ORDERS = -1015
    #: This service is no longer available.
    SERVICE_SHUTTING_DOWN = -1016
    #: This operation is not supported.
    UNSUPPORTED_OPERATION = -1020
    #: Timestamp outside ``recvWindow`` or more than 1 s ahead of the server.
    INVALID_TIMESTAMP = -1021
    #: Signature for this request is not valid.
    INVALID_SIGNATURE = -1022
    #: Illegal characters found in a parameter.
    ILLEGAL_CHARS = -1100
    #: Too many parameters, or a duplicated one.
    TOO_MANY_PARAMETERS = -1101
    #: A mandatory parameter was not sent, was empty/null, or malformed.
    MANDATORY_PARAM_EMPTY_OR_MALFORMED = -1102
    #: An unknown parameter was sent.
    UNKNOWN_PARAM = -1103
    #: Not all sent parameters were read.
    UNREAD_PARAMETERS = -1104
    #: A parameter was empty.
    PARAM_EMPTY = -1105
    #: A parameter was sent when not required.
    PARAM_NOT_REQUIRED = -1106
    #: A parameter overflowed.
    PARAM_OVERFLOW = -1108
    #: A parameter has too much precision.
    BAD_PRECISION = -1111
    #: No orders on book for symbol.
    NO_DEPTH = -1112
    #: TimeInForce sent when not required.
    TIF_NOT_REQUIRED = -1114
    #: Invalid timeInForce.
    INVALID_TIF = -1115
    #: Invalid orderType.
    INVALID_ORDER_TYPE = -1116
    #: Invalid side.
    INVALID_SIDE = -1117
    #: New client order ID was empty.
    EMPTY_NEW_CL_ORD_ID = -1118
    #: Original client order ID was empty.
    EMPTY_ORG_CL_ORD_ID = -1119
    #: Invalid interval.
    BAD_INTERVAL = -1120
    #: Invalid symbol.
    BAD_SYMBOL = -1121
    #: Invalid symbolStatus.
    INVALID_SYMBOLSTATUS = -1122
    #: This listenKey does not exist.
    INVALID_LISTEN_KEY = -1125
    #: Lookup interval is too big.
    MORE_THAN_XX_HOURS = -1127
    #: Combination of optional parameters invalid.
    OPTIONAL_PARAMS_BAD_COMBO = -1128
    #: Invalid data sent for a parameter.
    INVALID_PARAMETER = -1130
    #: ``strategyType`` was less than 1000000.
    BAD_STRATEGY_TYPE = -1134
    #: Invalid JSON request.
    INVALID_JSON = -1135
    #: Invalid ticker type.
    INVALID_TICKER_TYPE = -1139
    #: ``cancelRestrictions`` must be ``ONLY_NEW`` or ``ONLY_PARTIALLY_FILLED``.
    INVALID_CANCEL_RESTRICTIONS = -1145
    #: Symbol is present multiple times in the list.
    DUPLICATE_SYMBOLS = -1151
    #: Invalid ``X-MBX-SBE`` header.
    INVALID_SBE_HEADER = -1152
    #: Unsupported SBE schema id or version.
    UNSUPPORTED_SCHEMA_ID = -1153
    #: SBE is not enabled.
    SBE_DISABLED = -1155
    #: Order type not supported in OCO.
    OCO_ORDER_TYPE_REJECTED = -1158
    #: Parameter not supported if the OCO leg's time in force is not GTC.
    OCO_ICEBERGQTY_TIMEINFORCE = -1160
    #: Response cannot be encoded in the requested SBE schema.
    DEPRECATED_SCHEMA = -1161
    #: A limit order in a buy OCO must be below.
    BUY_OCO_LIMIT_MUST_BE_BELOW = -1165
    #: A limit order in a sell OCO must be above.
    SELL_OCO_LIMIT_MUST_BE_ABOVE = -1166
    #: At least one OCO order must be contingent.
    BOTH_OCO_ORDERS_CANNOT_BE_LIMIT = -1168
    #: A stop loss order in a buy OCO must be above.
    BUY_OCO_STOP_LOSS_MUST_BE_ABOVE = -1196
    #: A stop loss order in a sell OCO must be below.
    SELL_OCO_STOP_LOSS_MUST_BE_BELOW = -1197
    #: A take profit order in a buy OCO must be below.
    BUY_OCO_TAKE_PROFIT_MUST_BE_BELOW = -1198
    #: A take profit order in a sell OCO must be above.
    SELL_OCO_TAKE_PROFIT_MUST_BE_ABOVE = -1199
    #: The matching engine refused a new order; ``msg`` says why (``MSG_*``).
    NEW_ORDER_REJECTED = -2010
    #: The matching engine refused a cancel; ``msg`` says why.
    CANCEL_REJECTED = -2011
    #: Order does not exist.
    NO_SUCH_ORDER = -2013
    #: API-key format invalid.
    BAD_API_KEY_FMT = -2014
    #: Invalid API-key, IP, or permissions for action.
    REJECTED_MBX_KEY = -2015
    #: No trading window could be found for the symbol.
    NO_TRADING_WINDOW = -2016
    #: Cancel-replace: either the cancel or the new order failed, not both.
    CANCEL_REPLACE_PARTIALLY_FAILED = -2021
    #: Cancel-replace: both the cancel and the new order failed.
    CANCEL_REPLACE_FAILED = -2022
    #: Order was canceled or expired long ago and has been archived.
    ORDER_ARCHIVED = -2026


#: The first documented message of each code (``%s`` placeholders left as documented).
ERROR_MESSAGES: Final[dict[int, str]] = {
    -1000: "An unknown error occurred while processing the request.",
    -1001: "Internal error; unable to process your request. Please try again.",
    -1002: "You are not authorized to execute this request.",
    -1003: "Too many requests queued.",
    -1006: "An unexpected response was received from the message bus. Execution status unknown.",
    -1007: "Timeout waiting for response from backend server. Send status unknown; execution status unknown.",
    -1008: "Server is currently overloaded with other requests. Please try again in a few minutes.",
    -1010: "ERROR_MSG_RECEIVED",
    -1013: "The request is rejected by the API. (i.e. The request didn't reach the Matching Engine.)",
    -1014: "Unsupported order combination.",
    -1015: "Too many new orders.",
    -1016: "This service is no longer available.",
    -1020: "This operation is not supported.",
    -1021: "Timestamp for this request is outside of the recvWindow.",
    -1022: "Signature for this request is not valid.",
    -1100: "Illegal characters found in a parameter.",
    -1101: "Too many parameters sent for this endpoint.",
    -1102: "A mandatory parameter was not sent, was empty/null, or malformed.",
    -1103: "An unknown parameter was sent.",
    -1104: "Not all sent parameters were read.",
    -1105: "A parameter was empty.",
    -1106: "A parameter was sent when not required.",
    -1108: "Parameter '%s' overflowed.",
    -1111: "Parameter '%s' has too much precision.",
    -1112: "No orders on book for symbol.",
    -1114: "TimeInForce parameter sent when not required.",
    -1115: "Invalid timeInForce.",
    -1116: "Invalid orderType.",
    -1117: "Invalid side.",
    -1118: "New client order ID was empty.",
    -1119: "Original client order ID was empty.",
    -1120: "Invalid interval.",
    -1121: "Invalid symbol.",
    -1122: "Invalid symbolStatus.",
    -1125: "This listenKey does not exist.",
    -1127: "Lookup interval is too big.",
    -1128: "Combination of optional parameters invalid.",
    -1130: "Invalid data sent for a parameter.",
    -1134: "`strategyType` was less than 1000000.",
    -1135: "Invalid JSON Request",
    -1139: "Invalid ticker type.",
    -1145: "Invalid cancelRestrictions",
    -1151: "Symbol is present multiple times in the list.",
    -1152: "Invalid `X-MBX-SBE` header; expected `<SCHEMA_ID>:<VERSION>`.",
    -1153: "Unsupported SBE schema ID or version specified in the `X-MBX-SBE` header.",
    -1155: "SBE is not enabled.",
    -1158: "Order type not supported in OCO.",
    -1160: "Parameter '%s' is not supported if `aboveTimeInForce`/`belowTimeInForce` is not GTC.",
    -1161: "Unable to encode the response in SBE schema 'x'. Please use schema 'y' or higher.",
    -1165: "A limit order in a buy OCO must be below.",
    -1166: "A limit order in a sell OCO must be above.",
    -1168: "At least one OCO order must be contingent.",
    -1196: "A stop loss order in a buy OCO must be above.",
    -1197: "A stop loss order in a sell OCO must be below.",
    -1198: "A take profit order in a buy OCO must be below.",
    -1199: "A take profit order in a sell OCO must be above.",
    -2010: "NEW_ORDER_REJECTED",
    -2011: "CANCEL_REJECTED",
    -2013: "Order does not exist.",
    -2014: "API-key format invalid.",
    -2015: "Invalid API-key, IP, or permissions for action.",
    -2016: "No trading window could be found for the symbol. Try ticker/24hrs instead.",
    -2021: "Order cancel-replace partially failed.",
    -2022: "Order cancel-replace failed.",
    -2026: "Order was canceled or expired with no executed qty over 90 days ago and has been archived.",
}

# Variant texts (errors.md lists several per code; these are the ones a face needs).
MSG_WEIGHT_LIMIT: Final = (
    "Too much request weight used; current limit is %s request weight per %s. "
    "Please use WebSocket Streams for live updates to avoid polling the API."
)
MSG_IP_BANNED: Final = (
    "Way too much request weight used; IP banned until %s. "
    "Please use WebSocket Streams for live updates to avoid bans."
)
MSG_ORDER_LIMIT: Final = "Too many new orders; current limit is %s orders per %s."
MSG_TIMESTAMP_AHEAD: Final = "Timestamp for this request was 1000ms ahead of the server's time."
MSG_MANDATORY_PARAM: Final = "Mandatory parameter '%s' was not sent, was empty/null, or malformed."
MSG_ILLEGAL_CHARS: Final = "Illegal characters found in parameter '%s'; legal range is '%s'."
MSG_INVALID_PARAMETER: Final = "Data sent for parameter '%s' is not valid."

# Matching-engine messages sent with -1010, -2010 and -2011 (errors.md § Messages for -1010
# ERROR_MSG_RECEIVED, -2010 NEW_ORDER_REJECTED, and -2011 CANCEL_REJECTED).
MSG_UNKNOWN_ORDER: Final = "Unknown order sent."
MSG_DUPLICATE_ORDER: Final = "Duplicate order sent."
MSG_MARKET_CLOSED: Final = "Market is closed."
MSG_INSUFFICIENT_BALANCE: Final = "Account has insufficient balance for requested action."
MSG_MARKET_ORDERS_NOT_SUPPORTED: Final = "Market orders are not supported for this symbol."
MSG_PRICE_QTY_ZERO: Final = "Price * QTY is zero or less."
MSG_ACTION_DISABLED: Final = "This action is disabled on this account."
MSG_ACCOUNT_CANNOT_TRADE: Final = "This account may not place or cancel orders."
MSG_UNSUPPORTED_COMBINATION: Final = "Unsupported order combination"
MSG_WOULD_TRIGGER: Final = "Order would trigger immediately."
MSG_CANCEL_INVALID: Final = "Cancel order is invalid. Check origClOrdId and orderId."
MSG_WOULD_MATCH_AND_TAKE: Final = "Order would immediately match and take."
MSG_SYMBOL_NOT_PERMITTED: Final = "This symbol is not permitted for this account."
MSG_SYMBOL_RESTRICTED: Final = "This symbol is restricted for this account."
MSG_CANCEL_RESTRICTIONS: Final = "Order was not canceled due to cancel restrictions."
MSG_REST_TRADING_DISABLED: Final = "Rest API trading is not enabled."
MSG_WS_TRADING_DISABLED: Final = "WebSocket API trading is not enabled."

_FILTER_FAILURE: Final = "Filter failure: "


def filter_failure(filter_type: str) -> str:
    """-1013 message of a failed filter, e.g. ``Filter failure: LOT_SIZE`` (errors.md § Filter failures)."""
    return f"{_FILTER_FAILURE}{filter_type}"


def error_body(code: int, msg: str | None = None) -> bytes:
    """Simulator side: the JSON error body Binance sends, with the documented message unless one is given."""
    return msgspec.json.encode(ErrorBody(code=code, msg=msg if msg is not None else ERROR_MESSAGES[code]))


_AUTH_CODES: Final = frozenset({-1002, -1021, -1022, -2014, -2015})
_RATE_CODES: Final = frozenset({-1003, -1015})
#: Outcome unknown: the request may have executed (rest-api.md § HTTP Return Codes, errors.md -1006/-1007).
_UNAVAILABLE_CODES: Final = frozenset({-1001, -1006, -1007, -1008, -1016})
_RULE_CODES: Final = frozenset({-1013, -1111})
_UNKNOWN_ORDER_CODES: Final = frozenset({-2013, -2026})
#: -2011 texts that are not about a missing order: the order may still be live, so not UnknownOrder.
_CANCEL_REFUSALS: Final = frozenset(
    {
        MSG_CANCEL_RESTRICTIONS,
        MSG_ACCOUNT_CANNOT_TRADE,
        MSG_ACTION_DISABLED,
        MSG_REST_TRADING_DISABLED,
        MSG_WS_TRADING_DISABLED,
    }
)


def map_error_code(
    status: int, code: int | None, msg: str, *, retry_after: float | None = None
) -> ExchangeError:
    """Map an HTTP/WebSocket-API status and Binance ``code``/``msg`` to the most specific ExchangeError.

    Status wins for 418/429/5xx (the body may be missing or an HTML page); then the code decides. 5xx and
    the "execution status unknown" codes map to ExchangeUnavailable: for an order the outcome is unknown,
    never "failed" (rest-api.md § HTTP Return Codes).
    """
    code_text = "" if code is None else str(code)
    message = msg or (ERROR_MESSAGES.get(code, "") if code is not None else "") or f"HTTP {status}"
    if status == 418:
        return RateLimited(message, EXCHANGE, code_text, status, retry_after=retry_after, banned=True)
    if status == 429 or code in _RATE_CODES:
        return RateLimited(message, EXCHANGE, code_text, status, retry_after=retry_after)
    if status >= 500 or code in _UNAVAILABLE_CODES:
        return ExchangeUnavailable(message, EXCHANGE, code_text, status)
    if code in _AUTH_CODES:
        return AuthenticationFailed(message, EXCHANGE, code_text, status)
    if code in _RULE_CODES or msg.startswith(_FILTER_FAILURE):
        return TradingRuleViolation(message, EXCHANGE, code_text, status)
    if code in (-2010, -1010):
        if msg == MSG_INSUFFICIENT_BALANCE:
            return InsufficientBalance(message, EXCHANGE, code_text, status)
        return OrderRejected(message, EXCHANGE, code_text, status)
    if code in _UNKNOWN_ORDER_CODES or (code == -2011 and msg not in _CANCEL_REFUSALS):
        return UnknownOrder(message, EXCHANGE, code_text, status)
    return ExchangeError(message, EXCHANGE, code_text, status)


def map_error(status: int, body: bytes, *, retry_after: float | None = None) -> ExchangeError:
    """Map a failed REST answer (status, raw body, ``Retry-After`` seconds) to a clobactors ExchangeError.

    A body that is not Binance's ``{"code", "msg"}`` still gives a typed error: mapped by status alone, or a
    plain :class:`~clobactors.errors.ExchangeError` carrying the status. The body text is never copied into
    the message (it could echo request data).
    """
    try:
        parsed = ERROR_DECODER.decode(body)
    except msgspec.DecodeError:
        if status in (418, 429) or status >= 500:
            return map_error_code(status, None, "", retry_after=retry_after)
        return ExchangeError(f"HTTP {status} with a malformed error body", EXCHANGE, "", status)
    return map_error_code(status, parsed.code, parsed.msg, retry_after=retry_after)


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` header (seconds; rest-api.md § IP Limits) as a float; ``None`` if absent or bad."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


class _RetryData(msgspec.Struct, frozen=True):
    retryAfter: int | None = None


_RETRY_DATA_DECODER: Final = msgspec.json.Decoder(_RetryData)


def ws_retry_after(error: ErrorBody, *, now_ms: int) -> float | None:
    """Seconds until a WebSocket API 418/429 may retry, from ``error.data.retryAfter`` (epoch ms).

    web-socket-api.md § IP limits; ``now_ms`` comes from the caller's clock.
    """
    try:
        until = _RETRY_DATA_DECODER.decode(error.data)
    except msgspec.DecodeError:  # absent (null) or not an object
        return None
    if until.retryAfter is None:
        return None
    return max(0.0, (until.retryAfter - now_ms) / 1000)
