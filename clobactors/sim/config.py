"""What a simulated exchange trades and how it starts: symbols, funding, seed, clock base, credentials.

Pure configuration, shared by the loopback server (``sim/server.py``) and the exchange faces. A symbol is
picked from a small catalogue by its exchange name (``BTCUSDT``) or described in full with
:class:`SimSymbol`; :meth:`SimConfig.engine_rules` and :meth:`SimConfig.flows` turn the config into what the
pure :class:`~clobactors.sim.Engine` and :class:`~clobactors.sim.OrderFlow` take.

Determinism: API keys, secrets and listen keys derive from ``seed`` (SHA-256 of a label), so the same
seed gives the same credentials; the order flow is seeded from it too. The clock base
(``start_time_ms``) is the epoch time the simulator's clock reads when it starts; ``None`` lets the server
choose (see :func:`clobactors.sim.server.open_simulator`).

Perpetuals: ``SimConfig.for_symbols(..., perpetual=True)`` picks from :data:`PERP_CATALOGUE` (Binance USD-M
rules) and :meth:`SimConfig.perp_settings` makes the engine trade every symbol as a linear perpetual, with
each symbol's initial mid as its reference mark and index price.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Final, final

import attrs

from clobactors.errors import ConfigError
from clobactors.sim.flow import SymbolFlow
from clobactors.sim.perp_config import PerpSettings
from clobactors.sim.rules import InstrumentRules

__all__ = ["CATALOGUE", "DEFAULT_SYMBOLS", "PERP_CATALOGUE", "SimConfig", "SimSymbol", "derive_secret_text"]


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


def _perp(
    symbol: str, base: str, tick: str, lot: str, mid: str, *, notional: str, flow_min: str, spacing: int
) -> SimSymbol:
    return SimSymbol(
        symbol=symbol, base=base, quote="USDT", tick_size=Decimal(tick), lot_size=Decimal(lot),
        initial_mid=Decimal(mid), min_size=Decimal(lot), max_size=Decimal(1000), min_notional=Decimal(notional),
        maker_fee=Decimal("0.0002"), taker_fee=Decimal("0.0005"), level_spacing=spacing,
        flow_min_size=Decimal(flow_min), flow_max_size=Decimal(flow_min) * 10,
    )  # fmt: skip


#: USD-M perpetuals known by name, with rules close to Binance's (2025): BTCUSDT ticks 0.1 and trades 0.001,
#: minimum notional 100; ETHUSDT 0.01 / 0.001, minimum notional 20; fees 0.02 % maker, 0.05 % taker.
PERP_CATALOGUE: Final[Mapping[str, SimSymbol]] = {
    s.symbol: s
    for s in (
        _perp("BTCUSDT", "BTC", "0.1", "0.001", "60000", notional="100", flow_min="0.002", spacing=5),
        _perp("ETHUSDT", "ETH", "0.01", "0.001", "3000", notional="20", flow_min="0.01", spacing=10),
        _perp("BNBUSDT", "BNB", "0.01", "0.01", "600", notional="5", flow_min="0.05", spacing=1),
        _perp("SOLUSDT", "SOL", "0.01", "0.01", "150", notional="5", flow_min="0.1", spacing=1),
    )
}

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
    #: Trade every symbol as a linear perpetual margined in its quote asset (see the module docstring).
    perpetual: bool = False

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
        perpetual: bool = False,
    ) -> SimConfig:
        """Symbols by catalogue name (case-insensitive; :data:`PERP_CATALOGUE` if ``perpetual``) or as
        :class:`SimSymbol`."""
        catalogue = PERP_CATALOGUE if perpetual else CATALOGUE
        picked: list[SimSymbol] = []
        for item in symbols:
            if isinstance(item, SimSymbol):
                picked.append(item)
                continue
            name = item.strip().upper()
            if name not in catalogue:
                raise ConfigError(f"unknown symbol {item!r}; known: {', '.join(catalogue)} (or pass a SimSymbol)")
            picked.append(catalogue[name])
        return cls(
            tuple(picked), seed=seed, start_time_ms=start_time_ms, funding=funding, flow=flow, accounts=accounts or {},
            perpetual=perpetual,
        )  # fmt: skip

    def engine_rules(self) -> dict[str, InstrumentRules]:
        return {s.symbol: s.rules() for s in self.symbols}

    def perp_settings(self) -> PerpSettings | None:
        """Perpetual settings for the engine (``None``: spot), reference prices from the initial mids."""
        if not self.perpetual:
            return None
        return PerpSettings(reference_prices={s.symbol: s.initial_mid for s in self.symbols})

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
        if self.perpetual:  # a futures wallet holds its margin assets only
            return {s.quote: _DEFAULT_FUNDING.get(s.quote, _FALLBACK_FUNDING) for s in self.symbols}
        return {asset: _DEFAULT_FUNDING.get(asset, _FALLBACK_FUNDING) for asset in self.assets()}
