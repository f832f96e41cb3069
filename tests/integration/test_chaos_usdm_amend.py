"""Chaos on Binance USD-M with the market makers amending their quotes (``--requote amend``): faults aimed at
``PUT /fapi/v1/order`` (a lost answer, a 5xx, a timeout, a refusal) hit amendments, the session heals, and at the
quiet point orders (terms included), fills, positions and wallets equal the engine's."""

from __future__ import annotations

import functools

import pytest
import trio
import trio.testing

from clobactors.chaos import AMEND_FAULT_KINDS, amend_faults, parse_requote, run_chaos
from clobactors.chaos_harness import market_makers, open_chaos
from clobactors.cli import main
from clobactors.errors import ConfigError
from clobactors.sim.fault_vocab import vocabulary_for
from clobactors.sim.faults import FaultKind, FaultPlan, FaultRule, Probe
from clobactors.strategies.market_making import MarketMaker, RequoteMode

EX = "binance-usdm"
PUT = "PUT /fapi/v1/order"


def test_requote_option_and_amend_schedule() -> None:
    assert parse_requote("cancel") is RequoteMode.CANCEL_PLACE
    assert parse_requote(" AMEND ") is RequoteMode.AMEND
    with pytest.raises(ConfigError, match="unknown requote mode"):
        parse_requote("replace")
    rules = amend_faults(EX, 1, 300.0, quiet=[(200.0, 295.0)])
    assert {r.kind for r in rules} == set(AMEND_FAULT_KINDS) and {r.target for r in rules} == {PUT}
    assert all(r.at is not None and r.at >= 20.0 and not 200.0 <= r.at <= 295.0 for r in rules)
    only = amend_faults(EX, 1, 300.0, [FaultKind.LOST_ACK, FaultKind.WS_ABORT])  # the other kinds stay out
    assert only and {r.kind for r in only} == {FaultKind.LOST_ACK}
    assert amend_faults("nowhere", 1, 300.0) == ()
    assert vocabulary_for("binance").modify_target(False) == "POST /api/v3/order/cancelReplace"
    assert vocabulary_for("binance").modify_target(True) == "WS order.cancelReplace"
    assert vocabulary_for("binance-usdm").modify_target(True) == "WS order.modify"


async def test_faults_on_amendments_heal(autojump_clock: trio.testing.MockClock) -> None:
    """Each fault hits the maker's next amendment: executed with its answer lost, refused with a 5xx, never
    answered, refused for margin. Every one recovers, and the invariants hold, terms included."""
    plan = FaultPlan(
        rules=(
            FaultRule(kind=FaultKind.LOST_ACK, target=PUT, at=12.0),
            FaultRule(kind=FaultKind.HTTP_5XX, target=PUT, at=18.0),
            FaultRule(kind=FaultKind.HTTP_TIMEOUT, target=PUT, at=24.0),
            FaultRule(kind=FaultKind.REJECT_ORDER, target=PUT, at=40.0),
        ),
        seed=2,
    )
    made: list[MarketMaker] = []
    makers = functools.partial(market_makers, requote=RequoteMode.AMEND, made=made)
    with trio.fail_after(3600):
        async with open_chaos(plan, exchange=EX, seed=2, strategies=makers) as chaos:
            await trio.sleep_until(chaos.injector.t0 + 60.0)
            point = await chaos.quiet_point(settle=15.0)
            assert point.violations == (), [str(v) for v in point.violations]
            recoveries = chaos.recoveries()
            assert [r.fault for r in recoveries if not r.recovered] == []
            # All on amendments, each judged by its order (target "PUT /fapi/v1/order <client order id>"):
            # recovered once the session knows that order's real state.
            assert all(r.fault.target.startswith(f"{PUT} ") for r in recoveries)
            hits = sorted((r.fault.kind, r.fault.probe) for r in recoveries)
            assert hits == sorted((rule.kind, Probe.ORDER) for rule in plan.rules)
            open_on_exchange = chaos.sim.engine.open_orders(chaos.sim.account_id, "BTCUSDT")
            assert len(open_on_exchange) == 2  # a bid and an ask, after all that
    stats = [m.statistics() for m in made]
    assert len(stats) == 1 and stats[0].amends > 10
    assert stats[0].amend_fallbacks >= 1  # the -2019 refusal, at least: cancelled and placed anew


async def test_every_kind_short_run_with_amendments(autojump_clock: trio.testing.MockClock) -> None:
    """Every kind but clock skew (see test_chaos_usdm.test_every_kind_short_run), plus the generated faults on
    the modify route: the report is clean and says how the makers requoted."""
    kinds = [k for k in FaultKind if k is not FaultKind.CLOCK_SKEW]
    with trio.fail_after(3600):
        report = await run_chaos(
            exchange=EX, seconds=90.0, seed=4, kinds=kinds, quiet_every=90.0, settle=75.0, requote=RequoteMode.AMEND
        )
    assert report.ok, "\n".join(report.lines())
    on_amendments = {r.fault.kind for r in report.recoveries if r.fault.target.startswith(PUT)}
    assert on_amendments >= set(AMEND_FAULT_KINDS), on_amendments
    assert report.requote is RequoteMode.AMEND and sum(m.amends for m in report.makers) > 10
    assert any(line.startswith("market makers (amend): ") for line in report.lines())


def test_cli_requote_amend(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["chaos", "--exchange", EX, "--seconds", "40", "--seed", "1", "--faults", "lost_ack,http_5xx",
            "--quiet-every", "40", "--requote", "amend"]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "requote amend" in out and "quiet points 1, invariant violations 0" in out
    assert "market makers (amend): " in out


def test_cli_refuses_an_unknown_requote(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["chaos", "--exchange", EX, "--seconds", "10", "--requote", "swap"]) == 1
    assert "unknown requote mode 'swap'" in capsys.readouterr().err
