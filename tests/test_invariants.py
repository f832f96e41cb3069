"""The invariant checker's comparisons, the observer's timelines, and the recovery verdicts (pure, no I/O)."""

from __future__ import annotations

from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from clobactors.chaos_recovery import evaluate, kind_figures
from clobactors.invariants import (
    SessionObserver,
    book_key,
    compare_balances,
    compare_books,
    compare_fills,
    compare_margin_balances,
    compare_orders,
    compare_positions,
    user_key,
)
from clobactors.messages import Balance, BookSnapshot, FeedDown, FeedStale, FeedSynced, Fill, OrderUpdate, Position
from clobactors.model import MarginType, OrderStatus, OrderType, PositionSide, Side, TimeInForce
from clobactors.sim.faults import FaultKind, FaultLog, Probe
from clobactors.sim.perp_records import MarginBalance, PositionInfo
from clobactors.sim.records import AssetBalance, Depth, Execution, OrderInfo

EX = "binance"


def update(cid: str, status: OrderStatus, filled: str = "0") -> OrderUpdate:
    return OrderUpdate(
        exchange=EX, instrument="BTC-USDT", client_order_id=cid, status=status, side=Side.BUY,
        order_type=OrderType.LIMIT_MAKER, price=D("100"), size=D("1"), filled_size=D(filled),
    )  # fmt: skip


def info(cid: str, status: OrderStatus, filled: str = "0") -> OrderInfo:
    return OrderInfo(
        order_id=1, client_order_id=cid, account_id="a", symbol="BTCUSDT", side=Side.BUY,
        order_type=OrderType.LIMIT_MAKER, time_in_force=TimeInForce.GTC, post_only=True, price=D("100"),
        size=D("1"), quote_size=None, filled_size=D(filled), filled_quote=D(0), status=status,
        expire_reason=None, created_ns=0, updated_ns=0,
    )  # fmt: skip


def fill(trade_id: int, size: str = "1") -> Fill:
    return Fill(
        exchange=EX, instrument="BTC-USDT", client_order_id="c", trade_id=str(trade_id), side=Side.BUY,
        price=D("100"), size=D(size),
    )  # fmt: skip


def execution(trade_id: int, size: str = "1") -> Execution:
    return Execution(
        symbol="BTCUSDT", trade_id=trade_id, order_id=1, client_order_id="c", account_id="a", side=Side.BUY,
        price=D("100"), size=D(size), quote_size=D(100) * D(size), fee=D(0), fee_asset="BTC", is_maker=True,
        ts_ns=0,
    )  # fmt: skip


# -- comparisons ---------------------------------------------------------------------------------------------


def test_books() -> None:
    truth = Depth(symbol="BTCUSDT", update_id=7, bids=((D("100"), D("1")),), asks=((D("101"), D("2")),))
    same = BookSnapshot(exchange=EX, instrument="BTC-USDT", bids=(("100.00", "1"),), asks=(("101", "2.0"),), sequence=7)
    assert compare_books("BTC-USDT", same, False, truth, 20) == []
    assert [v.detail for v in compare_books("BTC-USDT", same, True, truth, 20)] == ["book is stale at a quiet point"]
    off = BookSnapshot(exchange=EX, instrument="BTC-USDT", bids=(("100", "3"),), asks=(), sequence=6)
    details = [v.detail for v in compare_books("BTC-USDT", off, False, truth, 20)]
    assert details == [
        "bids differ from level 0: session 3@100, exchange 1@100",
        "asks differ from level 0: session none, exchange 2@101",
        "sequence 6, exchange 7",
    ]


def test_orders() -> None:
    orders = {
        "ok": update("ok", OrderStatus.FILLED, "1"),
        "never": update("never", OrderStatus.REJECTED),
        "pending": update("pending", OrderStatus.PENDING_CREATE),
        "ghost": update("ghost", OrderStatus.EXPIRED),
        "off": update("off", OrderStatus.CANCELLED),
        "live": update("live", OrderStatus.OPEN),
    }
    truth = {
        "ok": info("ok", OrderStatus.FILLED, "1"),
        "off": info("off", OrderStatus.FILLED, "1"),
        "live": info("live", OrderStatus.OPEN),
    }
    open_on_exchange = [truth["live"], info("orphan", OrderStatus.OPEN), info("off", OrderStatus.OPEN)]
    violations = compare_orders(orders, lambda u: truth.get(u.client_order_id), open_on_exchange)
    found = [(v.subject, v.detail) for v in violations]
    assert found == [
        ("ghost", "session says expired, the exchange never had it"),
        ("off", "session cancelled filled 0, exchange filled filled 1"),
        ("pending", "still pending_create at a quiet point"),
        ("orphan", "open on the exchange, unknown to the session"),
        ("off", "open on the exchange, session says cancelled"),
    ]


def test_fills_and_balances() -> None:
    seen = {"1": [fill(1)], "2": [fill(2), fill(2)], "4": [fill(4, "2")], "9": [fill(9)]}
    truth = [execution(1), execution(2), execution(3), execution(4)]
    found = [(v.subject, v.detail) for v in compare_fills("BTC-USDT", seen, truth)]
    assert found == [
        ("BTC-USDT #2", "published 2 times"),
        ("BTC-USDT #4", "session buy 2@100, exchange buy 1@100"),
        ("BTC-USDT #9", "the exchange has no such fill"),
        ("BTC-USDT #3", "the exchange's fill was never published"),
    ]
    assert [v.subject for v in compare_fills("BTC-USDT", {"9": [fill(9)]}, [], history_full=True)] == []
    view = {"BTC": Balance(exchange=EX, asset="BTC", free=D("1.0"), locked=D("0"))}
    assert compare_balances(view, [AssetBalance(asset="BTC", free=D("1"), locked=D(0))]) == []
    zero_usdt = [
        AssetBalance(asset="BTC", free=D("1"), locked=D(0)),
        AssetBalance(asset="USDT", free=D(0), locked=D(0)),
    ]
    assert compare_balances(view, zero_usdt) == []  # an asset the session does not list counts as zero
    (wrong,) = compare_balances(view, [AssetBalance(asset="BTC", free=D("0.5"), locked=D("0.5"))])
    assert wrong.detail == "session free 1 locked 0, exchange free 0.5 locked 0.5"


@settings(max_examples=60)
@given(
    truth=st.sets(st.integers(1, 40), max_size=15),
    published=st.lists(st.integers(1, 40), max_size=20),
)
def test_fill_check_accepts_exactly_each_fill_once(truth: set[int], published: list[int]) -> None:
    seen: dict[str, list[Fill]] = {}
    for trade_id in published:
        seen.setdefault(str(trade_id), []).append(fill(trade_id))
    violations = compare_fills("BTC-USDT", seen, [execution(t) for t in sorted(truth)])
    assert (violations == []) == (sorted(published) == sorted(truth))


# -- the observer and recovery verdicts ----------------------------------------------------------------------


def test_observer_timelines_and_terminal_checks() -> None:
    truth = {"a": info("a", OrderStatus.FILLED, "1"), "b": info("b", OrderStatus.CANCELLED)}
    observer = SessionObserver(t0=100.0, lookup=lambda u: truth.get(u.client_order_id))
    observer.observe(FeedSynced(exchange=EX, instrument="BTC-USDT", feed="book"), now=101.0)
    observer.observe(FeedStale(exchange=EX, instrument="BTC-USDT", feed="book", reason="gap"), now=105.0)
    observer.observe(FeedStale(exchange=EX, instrument="BTC-USDT", feed="book", reason="gap"), now=105.5)
    observer.observe(FeedSynced(exchange=EX, instrument="BTC-USDT", feed="book"), now=106.0)
    observer.observe(FeedDown(exchange=EX, feed="user", reason="x"), now=107.0)
    assert observer.health[book_key(EX, "BTC-USDT")] == [(1.0, True), (5.0, False), (6.0, True)]
    assert not observer.healthy(user_key(EX))
    observer.observe(update("a", OrderStatus.OPEN), now=108.0)
    observer.observe(update("a", OrderStatus.FILLED, "1"), now=109.0)
    observer.observe(update("b", OrderStatus.EXPIRED), now=109.0)  # the exchange says cancelled
    assert observer.verified == {(EX, "a"), (EX, "b")}
    (violation,) = observer.take_violations(EX)
    assert violation.subject == "b" and observer.take_violations(EX) == []
    assert observer.order_history[(EX, "a")] == [(8.0, OrderStatus.OPEN), (9.0, OrderStatus.FILLED)]


def test_recovery_verdicts() -> None:
    observer = SessionObserver()
    observer.health[book_key(EX, "BTC-USDT")] = [(0.0, True), (20.2, False), (20.5, True), (80.0, False)]
    observer.health[user_key(EX)] = [(0.0, True)]
    observer.order_history[(EX, "c1")] = [(9.0, OrderStatus.PENDING_CREATE), (25.0, OrderStatus.UNKNOWN),
                                          (27.5, OrderStatus.OPEN)]  # fmt: skip
    log = FaultLog()
    symbols = {"BTCUSDT": "BTC-USDT"}
    gap = log.record(FaultKind.DROP_FRAMES, 20.0, "t", Probe.BOOK, symbols=("BTCUSDT",))
    late = log.record(FaultKind.WS_HALF_OPEN, 75.0, "t", Probe.BOOK, symbols=("BTCUSDT",))
    quiet = log.record(FaultKind.DUPLICATE_FRAMES, 40.0, "t", Probe.USER)
    lost = log.record(FaultKind.LOST_ACK, 24.0, "t", Probe.ORDER, client_order_id="c1")
    banned = log.record(FaultKind.HTTP_418, 30.0, "t", Probe.REST)
    never = log.record(FaultKind.HTTP_5XX, 31.0, "t", Probe.REST)
    log.rest_recovered[banned.seq] = 40.0
    verdicts = {f.seq: evaluate(f, log, observer, EX, symbols) for f in log.faults}
    assert (verdicts[gap.seq].disrupted, verdicts[gap.seq].time_to_recover) == (True, 20.5 - 20.0)
    assert not verdicts[late.seq].recovered  # stale at 80, never synced again
    assert (verdicts[quiet.seq].recovered, verdicts[quiet.seq].disrupted) == (True, False)
    assert verdicts[lost.seq].time_to_recover == 27.5 - 24.0
    assert verdicts[banned.seq].time_to_recover == 10.0 and not verdicts[never.seq].recovered
    rows = {row.kind: row for row in kind_figures(verdicts.values())}
    assert (rows[FaultKind.WS_HALF_OPEN].injected, rows[FaultKind.WS_HALF_OPEN].unrecovered) == (1, 1)
    assert (rows[FaultKind.DUPLICATE_FRAMES].absorbed, rows[FaultKind.DUPLICATE_FRAMES].ttr_max) == (1, 0.0)


# -- perpetuals ----------------------------------------------------------------------------------------------


def position(size: str, entry: str | None, side: PositionSide = PositionSide.BOTH) -> Position:
    return Position(
        exchange="binance_usdm", instrument="BTC-USDT-PERP", position_side=side, size=D(size),
        entry_price=None if entry is None else D(entry),
    )  # fmt: skip


def leg(size: str, entry: str, side: PositionSide = PositionSide.BOTH) -> PositionInfo:
    zero = D(0)
    return PositionInfo(
        account_id="a", symbol="BTCUSDT", position_side=side, size=D(size), entry_price=D(entry),
        break_even_price=D(entry), mark_price=D(entry), unrealized_pnl=zero, realized_pnl=zero, notional=zero,
        margin_type=MarginType.CROSS, isolated_wallet=zero, leverage=1, max_notional=zero, initial_margin=zero,
        maint_margin=zero, open_order_margin=zero, liquidation_price=zero, margin_asset="USDT", updated_ns=0,
    )  # fmt: skip


def test_positions_compare_signed_size_and_entry_per_leg() -> None:
    inst = "BTC-USDT-PERP"
    assert compare_positions(inst, [position("-0.010", "60000.0")], [leg("-0.01", "60000")]) == []
    assert compare_positions(inst, [position("0", None)], [leg("0", "0")]) == []  # flat on both sides
    (v,) = compare_positions(inst, [], [leg("0.02", "59990.5")])
    assert str(v) == "positions: BTC-USDT-PERP both: session flat, exchange 0.02@59990.5"
    (v,) = compare_positions(inst, [position("0.02", "59990")], [leg("0.03", "59990")])
    assert v.detail == "session 0.02@59990, exchange 0.03@59990"
    hedge = [position("0.01", "100", PositionSide.LONG), position("0.02", "101", PositionSide.SHORT)]
    (v,) = compare_positions(inst, hedge, [leg("0.01", "100", PositionSide.LONG)])
    assert v.subject == "BTC-USDT-PERP short" and v.detail == "session 0.02@101, exchange flat"


def test_margin_balances_compare_cross_wallet_and_isolated_part() -> None:
    def margin(wallet: str, cross: str) -> MarginBalance:
        zero = D(0)
        return MarginBalance(
            asset="USDT", wallet_balance=D(wallet), cross_wallet_balance=D(cross), unrealized_pnl=zero,
            cross_unrealized_pnl=zero, available_balance=zero, position_margin=zero, order_margin=D("5"),
            maint_margin=zero, updated_ns=0,
        )  # fmt: skip

    view = {"USDT": Balance(exchange="binance_usdm", asset="USDT", free=D("990"), locked=D("10"))}
    assert compare_margin_balances(view, [margin("1000", "990")]) == []
    (v,) = compare_margin_balances(view, [margin("1000", "1000")])  # order margin is not "locked" on a perp
    assert v.detail == "session free 990 locked 10, exchange free 1000 locked 0"
