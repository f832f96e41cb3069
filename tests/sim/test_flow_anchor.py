"""An anchored flow: a symbol's mid follows an outside price (a perpetual its spot market) on top of its walk."""

from __future__ import annotations

from decimal import Decimal

import pytest

from clobactors.errors import ConfigError
from clobactors.sim.config import SimConfig
from clobactors.sim.engine import Engine
from clobactors.sim.flow import OrderFlow

SECOND = 1_000_000_000


def _flow(seed: int) -> tuple[OrderFlow, Engine]:
    config = SimConfig.for_symbols(["BTCUSDT"], seed=seed)
    return OrderFlow(seed, config.flows()), Engine(config.engine_rules())


def test_anchored_mid_follows_the_outside_price() -> None:
    flow, engine = _flow(1)
    outside = Decimal(70000)
    flow.anchor("BTCUSDT", lambda: outside, pull=0.2)
    now = flow.start(engine, 0)
    start = flow.mid("BTCUSDT")
    while now < 120 * SECOND:
        now = flow.step(engine, now)
    assert abs(flow.mid("BTCUSDT") - outside) < abs(start - outside) / 10  # pulled most of the way


def test_no_outside_price_yet_leaves_the_walk_alone() -> None:
    anchored, engine = _flow(2)
    anchored.anchor("BTCUSDT", lambda: None)
    free, other = _flow(2)
    for flow, eng in ((anchored, engine), (free, other)):
        now = flow.start(eng, 0)
        while now < 30 * SECOND:
            now = flow.step(eng, now)
    assert anchored.mid("BTCUSDT") == free.mid("BTCUSDT")  # same seed, same walk


def test_anchor_refusals() -> None:
    flow, _ = _flow(3)
    with pytest.raises(ConfigError):
        flow.anchor("ETHUSDT", lambda: Decimal(1))
    with pytest.raises(ConfigError):
        flow.anchor("BTCUSDT", lambda: Decimal(1), pull=0.0)
