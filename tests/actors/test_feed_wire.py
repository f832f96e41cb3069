"""The wire helpers of live subscription changes: request ids, answer matching, pacing (virtual time)."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import pytest
import trio
import trio.testing

from clobactors.actors.feed_wire import AckWaiters, RequestIds, pace
from clobactors.errors import ExchangeError, TransportTimeout
from clobactors.exchanges.binance.dialect import BinanceSpotDialect
from clobactors.exchanges.binance_usdm.dialect import BinanceUsdmDialect
from clobactors.exchanges.standard import Channel, Control, ControlKind, LiveSubscriptions, Subscription
from clobactors.model import Instrument, InstrumentKind


def test_request_ids_skip_every_id_a_multi_frame_change_used() -> None:
    ids = RequestIds()

    def three(subs: Sequence[Subscription], first: int) -> list[bytes]:
        return [str(first + i).encode() for i in range(3)]

    assert ids.frames(three, []) == (1, [b"1", b"2", b"3"])
    assert ids.frames(lambda subs, first: [], [])[0] == 4  # no frame still takes an id (never reused)
    assert ids.frames(three, [])[0] == 5


async def test_answers_reach_their_waiters_and_a_refusal_is_a_typed_error(
    autojump_clock: trio.testing.MockClock,
) -> None:
    acks = AckWaiters()
    waiters = acks.expect(0, 7, 2)
    assert acks.resolve(Control(ControlKind.ACK, 7))
    assert not acks.resolve(Control(ControlKind.ACK, 7))  # answered once
    assert not acks.resolve(Control(ControlKind.ERROR, None, "no id"))
    assert acks.resolve(Control(ControlKind.ERROR, 8, "2: Invalid request"))
    with pytest.raises(ExchangeError, match="subscribe refused: 2: Invalid request"):
        await acks.wait(waiters, deadline=trio.current_time() + 5, exchange="x", what="subscribe")
    assert trio.current_time() == 0

    # A lost socket releases its waiters (the reconnect carries the set), not another connection's.
    mine, other = acks.expect(1, 9, 1), acks.expect(2, 10, 1)
    acks.connection_lost(1)
    await acks.wait(mine, deadline=trio.current_time() + 5, exchange="x", what="subscribe")
    with pytest.raises(TransportTimeout):
        await acks.wait(other, deadline=trio.current_time() + 5, exchange="x", what="subscribe")
    assert trio.current_time() == 5
    assert not acks.resolve(Control(ControlKind.ACK, 10))  # forgotten after the timeout


async def test_pacing_keeps_frames_within_the_limit_per_second(autojump_clock: trio.testing.MockClock) -> None:
    sent: deque[float] = deque()
    times = []
    for _ in range(9):
        await pace(sent, 4)
        times.append(trio.current_time())
    assert times == [0.0] * 4 + [pytest.approx(1.01)] * 4 + [pytest.approx(2.02)]


def test_both_binance_dialects_speak_live_subscriptions() -> None:
    spot, usdm = BinanceSpotDialect.for_environment(), BinanceUsdmDialect.for_environment()
    assert isinstance(spot, LiveSubscriptions) and isinstance(usdm, LiveSubscriptions)
    assert (spot.max_frames_per_second, usdm.max_frames_per_second) == (5, 10)
    perp = Instrument.perpetual("binance_usdm", "BTC", "USDT", "BTCUSDT")
    (frame,) = usdm.live_unsubscribe_frames([Subscription(Channel.BOOK, perp)], 12)
    assert frame == '{"method":"UNSUBSCRIBE","params":["btcusdt@depth@100ms"],"id":12}'  # JSON text: a text frame


def test_binance_frames_are_json_text() -> None:
    """Binance's protocol is JSON text (its documentation and clients send text frames): every frame its
    dialects build to send is a ``str``, which the WebSocket client sends as a text frame, never binary."""
    spot, usdm = BinanceSpotDialect.for_environment(), BinanceUsdmDialect.for_environment()
    perp = Instrument.perpetual("binance_usdm", "BTC", "USDT", "BTCUSDT")
    spot_pair = Instrument(exchange="binance", kind=InstrumentKind.SPOT, base="BTC", quote="USDT", symbol="BTCUSDT")
    frames = [
        *spot.subscribe_frames([Subscription(Channel.BOOK, spot_pair)], 1),
        *spot.live_subscribe_frames([Subscription(Channel.TRADES, spot_pair)], 2),
        *spot.live_unsubscribe_frames([Subscription(Channel.TRADES, spot_pair)], 3),
        *usdm.subscribe_frames([Subscription(Channel.BOOK, perp)], 4),
        *usdm.live_subscribe_frames([Subscription(Channel.BOOK, perp)], 5),
        *usdm.live_unsubscribe_frames([Subscription(Channel.BOOK, perp)], 6),
    ]
    assert len(frames) >= 4 and all(isinstance(f, str) for f in frames)  # connect-time: streams in the URL
