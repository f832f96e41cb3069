"""What a simulated exchange trades and how it starts: symbols, funding, seed, clock base, credentials.

Pure configuration, shared by the loopback server (``sim/server.py``) and the exchange faces. A symbol is
picked from a small catalogue by its exchange name (``BTCUSDT``) or described in full with
:class:`SimSymbol`; :meth:`SimConfig.engine_rules` and :meth:`SimConfig.flows` turn the config into what the
pure :class:`~clobactors.sim.Engine` and :class:`~clobactors.sim.OrderFlow` take.

Determinism: API keys, secrets and listen keys derive from ``seed`` (SHA-256 of a label), so the same
seed gives the same credentials; the order flow is seeded from it too. The clock base
(``start_time_ms``) is the epoch time the simulator's clock reads when it starts; ``None`` lets the server
choose (see :func:`clobactors.sim.server.open_simulator`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Final, final

import attrs

from clobactors.errors import ConfigError
from clobactors.sim.flow import SymbolFlow
from clobactors.sim.rules import InstrumentRules

__all__ = ["CATALOGUE", "DEFAULT_SYMBOLS", "SimConfig", "SimSymbol", "derive_secret_text"]


@final
@attrs.frozen
class SimSymbol:
    """One traded symbol: the exchange's name, its rules and fees, and how the synthetic flow trades it."""

    symbol: str
    base: str
    quote: str
    tick_size: Decimal
    lot_size: Decimal
    initial_mid: Decimal
    min_size: Decimal | None = None
    max_size: Decimal | None = None
    min_notional: Decimal = Decimal(0)
    maker_fee: Decimal = Decimal("0.001")
    taker_fee: Decimal = Decimal("0.001")
    #: Flow events per second; levels quoted per side; ticks between levels; flow order sizes.
    event_rate: float = 10.0
    levels: int = 20
    level_spacing: int = 1
    flow_min_size: Decimal | None = None
    flow_max_size: Decimal | None = None

    def rules(self) -> InstrumentRules:
        return InstrumentRules(
            base=self.base,
            quote=self.quote,
            tick_size=self.tick_size,
            lot_size=self.lot_size,
            min_size=self.min_size,
            max_size=self.max_size,
            min_notional=self.min_notional,
            maker_fee=self.maker_fee,
            taker_fee=self.taker_fee,
        )

    def flow(self) -> SymbolFlow:
        return SymbolFlow(
            initial_mid=self.initial_mid,
            event_rate=self.event_rate,
            levels=self.levels,
            level_spacing=self.level_spacing,
            min_size=self.flow_min_size,
            max_size=self.flow_max_size,
        )


def _spot(
    symbol: str, base: str, quote: str, tick: str, lot: str, mid: str, *, notional: str, flow_min: str,
    spacing: int = 1,
) -> SimSymbol:  # fmt: skip
    return SimSymbol(
        symbol=symbol, base=base, quote=quote, tick_size=Decimal(tick), lot_size=Decimal(lot),
        initial_mid=Decimal(mid), min_size=Decimal(lot), max_size=Decimal(9000), min_notional=Decimal(notional),
        level_spacing=spacing, flow_min_size=Decimal(flow_min), flow_max_size=Decimal(flow_min) * 10,
    )  # fmt: skip


#: Symbols known by name, with rules close to Binance spot's (2025) and a plausible starting mid.
CATALOGUE: Final[Mapping[str, SimSymbol]] = {
    s.symbol: s
    for s in (
        _spot("BTCUSDT", "BTC", "USDT", "0.01", "0.00001", "60000", notional="5", flow_min="0.001", spacing=50),
        _spot("ETHUSDT", "ETH", "USDT", "0.01", "0.0001", "3000", notional="5", flow_min="0.01", spacing=5),
        _spot("BNBUSDT", "BNB", "USDT", "0.01", "0.001", "600", notional="5", flow_min="0.05"),
        _spot("SOLUSDT", "SOL", "USDT", "0.01", "0.001", "150", notional="5", flow_min="0.1"),
        _spot("ETHBTC", "ETH", "BTC", "0.00001", "0.0001", "0.05", notional="0.0001", flow_min="0.01"),
        _spot("LTCBTC", "LTC", "BTC", "0.000001", "0.001", "0.0015", notional="0.0001", flow_min="0.1"),
    )
}
DEFAULT_SYMBOLS: Final = ("BTCUSDT", "ETHUSDT")

#: Funding of the default account per asset, unless configured (generous: tests should not run dry).
_DEFAULT_FUNDING: Final = {
    "USDT": Decimal(1_000_000), "BTC": Decimal(10), "ETH": Decimal(100), "BNB": Decimal(1000),
    "SOL": Decimal(5000), "LTC": Decimal(10_000),
}  # fmt: skip
_FALLBACK_FUNDING: Final = Decimal(1_000_000)


def derive_secret_text(seed: int, label: str, length: int = 64) -> str:
    """A deterministic alphanumeric string for ``(seed, label)``: API keys, secrets, listen keys."""
    out = ""
    counter = 0
    while len(out) < length:
        out += hashlib.sha256(f"clobactors-sim:{seed}:{label}:{counter}".encode()).hexdigest()
        counter += 1
    # Mix case so keys look like Binance's (base62-ish) while staying reproducible.
    return "".join(c.upper() if i % 3 == 0 and c.isalpha() else c for i, c in enumerate(out[:length]))


def _copy_accounts(accounts: Mapping[str, Mapping[str, Decimal]]) -> dict[str, dict[str, Decimal]]:
    return {account: dict(funding) for account, funding in accounts.items()}


@final
@attrs.frozen
class SimConfig:
    """Everything a simulator run needs besides its ports. Build with :meth:`for_symbols` or directly."""

    symbols: tuple[SimSymbol, ...]
    seed: int = 0
    #: Epoch milliseconds the simulator clock reads at start; ``None``: chosen by the server.
    start_time_ms: int | None = None
    #: Funding of the default account; ``None``: a generous default for every traded asset.
    funding: Mapping[str, Decimal] | None = None
    #: Run the seeded synthetic order flow (off: books move only by your orders).
    flow: bool = True
    #: Further accounts opened at start: account id -> funding (keys derived from the seed and the id).
    accounts: Mapping[str, Mapping[str, Decimal]] = attrs.field(factory=dict, converter=_copy_accounts)

    def __attrs_post_init__(self) -> None:
        if not self.symbols:
            raise ConfigError("a simulator needs at least one symbol")
        names = [s.symbol for s in self.symbols]
        if len(set(names)) != len(names):
            raise ConfigError(f"duplicate symbols in {names}")

    @classmethod
    def for_symbols(
        cls,
        symbols: Iterable[str | SimSymbol] = DEFAULT_SYMBOLS,
        *,
        seed: int = 0,
        start_time_ms: int | None = None,
        funding: Mapping[str, Decimal] | None = None,
        flow: bool = True,
        accounts: Mapping[str, Mapping[str, Decimal]] | None = None,
    ) -> SimConfig:
        """Symbols by catalogue name (case-insensitive) or as :class:`SimSymbol`."""
        picked: list[SimSymbol] = []
        for item in symbols:
            if isinstance(item, SimSymbol):
                picked.append(item)
                continue
            name = item.strip().upper()
            if name not in CATALOGUE:
                raise ConfigError(f"unknown symbol {item!r}; known: {', '.join(CATALOGUE)} (or pass a SimSymbol)")
            picked.append(CATALOGUE[name])
        return cls(
            tuple(picked), seed=seed, start_time_ms=start_time_ms, funding=funding, flow=flow, accounts=accounts or {}
        )

    def engine_rules(self) -> dict[str, InstrumentRules]:
        return {s.symbol: s.rules() for s in self.symbols}

    def flows(self) -> dict[str, SymbolFlow]:
        return {s.symbol: s.flow() for s in self.symbols}

    def assets(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for s in self.symbols:
            seen[s.base] = None
            seen[s.quote] = None
        return tuple(seen)

    def default_funding(self) -> dict[str, Decimal]:
        if self.funding is not None:
            return dict(self.funding)
        return {asset: _DEFAULT_FUNDING.get(asset, _FALLBACK_FUNDING) for asset in self.assets()}
