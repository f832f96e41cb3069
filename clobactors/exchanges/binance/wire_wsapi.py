"""Binance spot wire layer: WebSocket API envelopes (web-socket-api.md): requests, responses, events."""

from __future__ import annotations

from typing import Final, TypeAlias, final

import msgspec

from clobactors.exchanges.binance.wire_base import NULL, ErrorBody, RateLimitUsage, RestStruct, WireStruct

# -- WebSocket API (web-socket-api.md) -----------------------------------------------------------------------

#: Values of a WebSocket API request's ``params``; decimals travel as strings, never floats.
ParamValue: TypeAlias = str | int | bool


@final
class WsApiRequest(WireStruct, frozen=True, kw_only=True):
    """``{"id", "method", "params"}``: Binance spot API, web-socket-api.md § Request format.

    Signed requests (``session.logon``, ``userDataStream.subscribe.signature``, ``order.place``) get their
    ``apiKey``/``timestamp``/``signature`` params from
    :func:`clobactors.exchanges.binance.signing.sign_ws_params`.
    """

    id: int | str
    method: str
    params: dict[str, ParamValue] | None = None


@final
class WsApiResponse(RestStruct, frozen=True, kw_only=True):
    """``{"id", "status", "result" | "error", "rateLimits"}``: web-socket-api.md § Response format.

    ``result`` stays raw (its type depends on the request's method; decode it with that method's decoder);
    it is :data:`NULL` on a failed request, whose ``error`` is set.
    """

    id: int | str | None
    status: int
    result: msgspec.Raw = NULL
    error: ErrorBody | None = None
    rate_limits: tuple[RateLimitUsage, ...] = ()


@final
class WsApiEvent(RestStruct, frozen=True, kw_only=True):
    """``{"subscriptionId": n, "event": {...}}``: Binance spot API, web-socket-api.md § Event format."""

    event: msgspec.Raw
    subscription_id: int | None = None


@final
class UserDataSubscription(RestStruct, frozen=True, kw_only=True):
    """Result of ``userDataStream.subscribe[.signature]``: web-socket-api.md § User Data Stream requests."""

    subscription_id: int


@final
class SessionStatus(RestStruct, frozen=True, kw_only=True):
    """Result of ``session.logon`` / ``session.status``: web-socket-api.md § Session Authentication."""

    connected_since: int
    return_rate_limits: bool
    server_time: int
    api_key: str | None = None
    authorized_since: int | None = None
    user_data_stream: bool | None = None


# -- prebuilt decoders ---------------------------------------------------------------------------------------

WS_API_REQUEST_DECODER: Final = msgspec.json.Decoder(WsApiRequest)
WS_API_RESPONSE_DECODER: Final = msgspec.json.Decoder(WsApiResponse)
WS_API_EVENT_DECODER: Final = msgspec.json.Decoder(WsApiEvent)
USER_DATA_SUBSCRIPTION_DECODER: Final = msgspec.json.Decoder(UserDataSubscription)
SESSION_STATUS_DECODER: Final = msgspec.json.Decoder(SessionStatus)
