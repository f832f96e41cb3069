"""The monitor folds events into the demo's view and summary, exactly."""

from __future__ import annotations

from decimal import Decimal as D

from clobactors.messages import ActorRestarted, Balance, BestBidAsk, FeedConnected, FeedDown, Fill, OrderUpdate
from clobactors.model import Liquidity, OrderStatus, OrderType, Side
from clobactors.monitor import Monitor


def test_summary_pnl_volume_and_health() -> None:
    monitor = Monitor()
    ex, inst = "binance", "BTC-USDT"
    monitor.observe(FeedConnected(exchange=ex, feed="book"))
    monitor.observe(FeedDown(exchange=ex, feed="book", reason="closed"))
    monitor.observe(FeedConnected(exchange=ex, feed="book"))
    monitor.observe(ActorRestarted(exchange="", supervisor="s", actor="a", restart_count=1, delay=0.1, error="x"))
    for cid, status in (("a", OrderStatus.FILLED), ("b", OrderStatus.OPEN)):
        monitor.observe(
            OrderUpdate(exchange=ex, instrument=inst, client_order_id=cid, status=status, side=Side.BUY,
                        order_type=OrderType.LIMIT, price=D("100"), size=D("1"))
        )
    monitor.observe(Fill(exchange=ex, instrument=inst, client_order_id="a", trade_id="1", side=Side.BUY,
                         price=D("100"), size=D("1"), fee=D("0.001"), fee_asset="BTC", liquidity=Liquidity.MAKER))
    monitor.observe(Fill(exchange=ex, instrument=inst, client_order_id="c", trade_id="2", side=Side.SELL,
                         price=D("101"), size=D("0.5"), fee=D("0.0505"), fee_asset="USDT"))
    monitor.observe(BestBidAsk(exchange=ex, instrument=inst, bid_price=D("101"), bid_size=D(1),
                               ask_price=D("103"), ask_size=D(1)))
    monitor.observe(Balance(exchange=ex, asset="USDT", free=D("10"), locked=D("1")))
    summary = monitor.summary()
    assert summary.fills == 2
    assert summary.volume_base == D("1.5")
    assert summary.volume_quote == D("150.5")
    # bought 1 @100, sold 0.5 @101: quote -49.5, base +0.5 marked at 102 = 51, fees 0.0505 + 0.001*102
    assert summary.pnl_quote == D("-49.5") + D("51") - D("0.0505") - D("0.102")
    assert summary.reconnects == 1
    assert summary.restarts == 1
    assert summary.orders_by_status == {"filled": 1, "open": 1}
    screen = "\n".join(monitor.render(1.0))
    assert "BTC-USDT" in screen
    assert "USDT   free 10  locked 1" in screen
    assert "open=1" in monitor.status_line(1.0)
    assert any("PnL" in line for line in summary.lines())


def test_pnl_unknown_without_a_mid() -> None:
    monitor = Monitor()
    monitor.observe(Fill(exchange="x", instrument="A-B", client_order_id="a", trade_id="1", side=Side.BUY,
                         price=D("1"), size=D("1")))
    assert monitor.summary().pnl_quote is None
