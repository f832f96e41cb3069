"""What the Binance faces' WebSocket API tests share: twin faces, one answering REST, one the WebSocket API.

Spot's web-socket-api.md and USD-M's Websocket API General Info both say the WebSocket API takes the REST
parameters, answers the REST body and status, and shares REST's rate limits. So a :class:`WsApiTwin` sends
every call to both faces (same config, seed, accounts and clock) and checks the WebSocket answer against the
REST one: ``result`` byte for byte, errors' status, code, text and ``data``, ``REQUEST_WEIGHT`` (the route's
plus the handshake's), the ORDERS windows REST reports in ``X-MBX-ORDER-COUNT-*``, and the user-stream events.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Container, Mapping
from typing import Any, Final, Protocol

from clobactors.exchanges.binance import wire
from clobactors.exchanges.binance.face_user import WsApiSession
from clobactors.exchanges.binance.signing import Credentials, sign_request, sign_ws_params
from clobactors.exchanges.binance_common.face_http import Route
from clobactors.sim.face_protocol import FaceSession, Output, RestRequest, RestResponse

NOW_NS: Final = 1_704_067_200_000 * 1_000_000
NOW_MS: Final = NOW_NS // 1_000_000
IP: Final = "10.0.0.9"
Params = dict[str, str | int | bool]


class TwinFace(Protocol):
    """What the twin needs of a face."""

    def handle_rest(self, request: RestRequest, now_ns: int) -> RestResponse: ...
    def open_session(
        self, path: str, query: str, headers: tuple[tuple[str, str], ...], client_ip: str, now_ns: int
    ) -> FaceSession | RestResponse: ...
    def drain(self, now_ns: int, wanted: Container[str]) -> list[Output]: ...


def send(session: WsApiSession, request: dict[str, Any], now_ns: int = NOW_NS) -> wire.WsApiResponse:
    *_events, message = session.receive(json.dumps(request), now_ns).messages
    return wire.WS_API_RESPONSE_DECODER.decode(message)


def ws_signed(
    session: WsApiSession, method: str, params: Params, creds: Credentials, *, now_ns: int = NOW_NS,
    ts_ms: int | None = None,
) -> wire.WsApiResponse:  # fmt: skip
    signed = sign_ws_params(params, creds, timestamp=ts_ms if ts_ms is not None else now_ns // 1_000_000)
    return send(session, {"id": method, "method": method, "params": signed}, now_ns)


def header(response: RestResponse, name: str) -> str | None:
    return next((v for k, v in response.headers if k.lower() == name.lower()), None)


def open_api(face: TwinFace, path: str, query: str = "") -> WsApiSession:
    session = face.open_session(path, query, (), IP, NOW_NS)
    assert isinstance(session, WsApiSession)
    return session


def rest_call(
    face: TwinFace, route_keys: Mapping[str, tuple[str, str]], method: str, params: Params, creds: Credentials
) -> RestResponse:
    http_method, path = route_keys[method]
    req = sign_request(list(params.items()), creds, timestamp=NOW_MS)
    headers = tuple((k.lower(), v) for k, v in req.headers)
    return face.handle_rest(RestRequest(http_method, path, req.query, "", headers, IP), NOW_NS)


class WsApiTwin:
    """Two identical faces: one answers REST, the other the WebSocket API; every call goes to both."""

    def __init__(
        self,
        make_face: Callable[[], TwinFace],
        *,
        path: str,
        route_keys: Mapping[str, tuple[str, str]],
        methods: Mapping[str, Route[Any]],
        connect_weight: int,
        order_windows: Mapping[tuple[str, int], str],
        wanted: Container[str],
        default: Credentials,
    ) -> None:
        self.rest, self.ws = make_face(), make_face()
        self.session = open_api(self.ws, path)
        self.events = 0
        self._route_keys, self._methods = route_keys, methods
        self._connect_weight, self._order_windows = connect_weight, order_windows
        self._wanted, self._default = wanted, default

    def both(self, method: str, params: Params, creds: Credentials | None = None) -> wire.WsApiResponse:
        creds = creds or self._default
        rest = rest_call(self.rest, self._route_keys, method, params, creds)
        got = ws_signed(self.session, method, params, creds)
        assert got.status == rest.status, (method, rest.body)
        if rest.status == 200:
            assert bytes(got.result) == rest.body and got.error is None  # exactly the REST body
        else:
            assert got.error is not None and bytes(got.result) == b"null"
            error: dict[str, object] = {"code": got.error.code, "msg": got.error.msg}
            if bytes(got.error.data) != b"null":
                error["data"] = json.loads(bytes(got.error.data))
            assert error == json.loads(rest.body)
        weight = [r.count for r in got.rate_limits if r.rate_limit_type == "REQUEST_WEIGHT"]
        assert weight == [int(header(rest, "X-MBX-USED-WEIGHT-1M") or 0) + self._connect_weight]
        kinds = [r.rate_limit_type for r in got.rate_limits]
        if self._methods[method].orders:
            assert kinds == ["ORDERS", "ORDERS", "REQUEST_WEIGHT"]
            orders = {(r.interval, r.interval_num): r.count for r in got.rate_limits if r.rate_limit_type == "ORDERS"}
            assert orders == {window: int(header(rest, name) or -1) for window, name in self._order_windows.items()}
        else:
            assert kinds == ["REQUEST_WEIGHT"]
        rest_out, ws_out = self.rest.drain(NOW_NS, self._wanted), self.ws.drain(NOW_NS, self._wanted)
        assert [(o.topic, o.payload) for o in ws_out] == [(o.topic, o.payload) for o in rest_out]
        self.events += len(ws_out)
        return got
