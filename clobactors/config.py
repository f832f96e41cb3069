"""Session configuration: exchanges, instruments, strategies; from code or from a TOML file.

Credentials never live in the file. A file names the *environment variables* that hold them
(``api_key_env``, ``api_secret_env``, and ``credential_env`` for extra fields such as a passphrase); a key
that looks like a secret itself (``api_secret = "..."``) is refused with a :class:`ConfigError`, so a secret
pasted into a config file fails loudly instead of ending up in a repository.

Example::

    [session]
    seed = 7

    [[exchanges]]
    name = "binance"                 # session name; the dialect registry name unless `dialect` is set
    environment = "live"             # live | testnet | custom (then rest/ws/ws_api are required)
    instruments = ["BTC-USDT", "ETH-USDT"]
    api_key_env = "BINANCE_API_KEY"
    api_secret_env = "BINANCE_API_SECRET"
    order_journal = "state/binance-orders.jsonl"   # optional: what a restart must ask the exchange about
    order_entry = "websocket"        # optional: rest (default) | websocket (the exchange's WebSocket API)

    [[strategies]]
    kind = "market_maker"
    exchange = "binance"
    instrument = "BTC-USDT"
    [strategies.params]
    half_spread_bps = "5"
    size = "0.001"
"""

from __future__ import annotations

import enum
import math
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Final, final

import attrs

from clobactors.errors import ConfigError
from clobactors.model import Instrument

__all__ = ["Environment", "ExchangeConfig", "OrderEntry", "SessionConfig", "StrategyConfig"]

_SECRET_KEYS: Final = frozenset({"secret", "api_secret", "apisecret", "private_key", "passphrase", "password"})


class Environment(enum.StrEnum):
    """Where an exchange connection points."""

    #: The exchange's production endpoints.
    LIVE = "live"
    #: The exchange's public test network.
    TESTNET = "testnet"
    #: Explicit URLs (the simulator, a proxy); ``rest``/``ws``/``ws_api`` must be given.
    CUSTOM = "custom"


class OrderEntry(enum.StrEnum):
    """How order requests reach the exchange."""

    #: Over REST (HTTP/1.1 on kept-alive connections): every exchange.
    REST = "rest"
    #: Over the exchange's WebSocket API while its connection is up, REST otherwise (and for requests it has
    #: no twin for): exchanges whose dialect implements :class:`~clobactors.exchanges.order_entry.OrderEntryDialect`.
    WEBSOCKET = "websocket"


def _str(table: Mapping[str, object], key: str, where: str, default: str | None = None) -> str:
    value = table.get(key, default)
    if not isinstance(value, str):
        raise ConfigError(f"{where}: {key!r} must be a string")
    return value


def _check_no_secrets(table: Mapping[str, object], where: str) -> None:
    for key in table:
        if key.lower() in _SECRET_KEYS:
            raise ConfigError(
                f"{where}: {key!r} looks like a secret; name the environment variable that holds it instead "
                f"(e.g. {key}_env = \"MY_VAR\")"
            )


@final
@attrs.frozen(kw_only=True)
class ExchangeConfig:
    """One exchange connection of a session."""

    #: The session's name for this connection; also the dialect registry name unless ``dialect`` is set.
    name: str
    instruments: tuple[str, ...]
    #: Dialect registry name (``binance``) when ``name`` is not one: two connections speaking one protocol.
    dialect: str = ""
    environment: Environment = Environment.LIVE
    rest: str = ""
    ws: str = ""
    ws_api: str = ""
    #: Credential field -> environment variable holding it (``{"api_key": "BINANCE_API_KEY", ...}``).
    credential_env: Mapping[str, str] = attrs.field(factory=dict)
    #: Book depth requested for REST snapshots.
    depth: int = 1000
    #: REST book snapshots fetched at once per feed: many instruments (re)syncing together queue for a turn
    #: instead of bursting the exchange's weight budget and starving the stream reader.
    max_concurrent_snapshots: int = 8
    #: Seconds between the order manager's light reconciliations (balances, open orders, fills where an order
    #: changed), which heal user-stream frames lost while the connection stayed up.
    reconcile_interval: float = 60.0
    #: Cancel every open order when the session stops.
    cancel_all_on_stop: bool = False
    #: File journaling this account's live orders, so a restarted session learns what became of each
    #: (:mod:`clobactors.order_journal`); relative to the working directory. Empty: no journal.
    order_journal: str = ""
    #: Orders over REST, or over the exchange's WebSocket API while it is connected (:class:`OrderEntry`).
    order_entry: OrderEntry = OrderEntry.REST

    def __attrs_post_init__(self) -> None:
        for name in self.instruments:
            Instrument.parse_name(name)  # raises ConfigError on a malformed canonical name
        if self.max_concurrent_snapshots < 1:
            raise ConfigError(f"exchange {self.name!r}: 'max_concurrent_snapshots' must be at least 1")
        if not 0 < self.reconcile_interval < math.inf:
            raise ConfigError(f"exchange {self.name!r}: 'reconcile_interval' must be a positive number of seconds")
        if self.order_journal and not self.order_journal.strip():
            raise ConfigError(f"exchange {self.name!r}: 'order_journal' must be a file path (or left out)")
        if self.environment is Environment.CUSTOM and not self.rest:
            raise ConfigError(f"exchange {self.name!r}: environment 'custom' needs at least a 'rest' URL")
        if self.environment is Environment.CUSTOM and self.order_entry is OrderEntry.WEBSOCKET and not self.ws_api:
            raise ConfigError(f"exchange {self.name!r}: order_entry 'websocket' in environment 'custom' needs 'ws_api'")

    @property
    def dialect_name(self) -> str:
        """The dialect registry name this connection speaks."""
        return self.dialect or self.name

    @property
    def has_credentials(self) -> bool:
        return bool(self.credential_env)

    def credential_values(self, environ: Mapping[str, str] | None = None) -> dict[str, str]:
        """Read the credential fields from the environment; a missing variable is a ConfigError naming it."""
        env = os.environ if environ is None else environ
        values: dict[str, str] = {}
        for field, var in self.credential_env.items():
            value = env.get(var)
            if not value:
                raise ConfigError(f"exchange {self.name!r}: environment variable {var} (for {field}) is not set")
            values[field] = value
        return values

    @classmethod
    def from_mapping(cls, table: Mapping[str, object]) -> ExchangeConfig:
        where = f"exchange {table.get('name', '?')!r}"
        _check_no_secrets(table, where)
        instruments = table.get("instruments", [])
        if not isinstance(instruments, list) or not all(isinstance(i, str) for i in instruments):
            raise ConfigError(f"{where}: 'instruments' must be a list of canonical names")
        credential_env: dict[str, str] = {}
        for field in ("api_key", "api_secret"):
            var = table.get(f"{field}_env")
            if var is not None:
                if not isinstance(var, str):
                    raise ConfigError(f"{where}: '{field}_env' must be a string")
                credential_env[field] = var
        extra = table.get("credential_env", {})
        if not isinstance(extra, Mapping) or not all(isinstance(v, str) for v in extra.values()):
            raise ConfigError(f"{where}: 'credential_env' must map field names to variable names")
        credential_env.update({str(k): str(v) for k, v in extra.items()})
        try:
            environment = Environment(_str(table, "environment", where, "live"))
        except ValueError as exc:
            raise ConfigError(f"{where}: environment must be one of {[e.value for e in Environment]}") from exc
        depth = table.get("depth", 1000)
        if not isinstance(depth, int) or depth <= 0:
            raise ConfigError(f"{where}: 'depth' must be a positive integer")
        snapshots = table.get("max_concurrent_snapshots", 8)
        if not isinstance(snapshots, int) or isinstance(snapshots, bool) or snapshots < 1:
            raise ConfigError(f"{where}: 'max_concurrent_snapshots' must be a positive integer")
        try:
            order_entry = OrderEntry(_str(table, "order_entry", where, "rest"))
        except ValueError as exc:
            raise ConfigError(f"{where}: order_entry must be one of {[e.value for e in OrderEntry]}") from exc
        interval = table.get("reconcile_interval", 60.0)
        if not isinstance(interval, int | float) or isinstance(interval, bool) or not 0 < interval < math.inf:
            raise ConfigError(f"{where}: 'reconcile_interval' must be a positive number of seconds")
        return cls(
            name=_str(table, "name", where),
            dialect=_str(table, "dialect", where, ""),
            instruments=tuple(instruments),
            environment=environment,
            rest=_str(table, "rest", where, ""),
            ws=_str(table, "ws", where, ""),
            ws_api=_str(table, "ws_api", where, ""),
            credential_env=credential_env,
            depth=depth,
            max_concurrent_snapshots=snapshots,
            reconcile_interval=float(interval),
            cancel_all_on_stop=bool(table.get("cancel_all_on_stop", False)),
            order_journal=_str(table, "order_journal", where, ""),
            order_entry=order_entry,
        )


@final
@attrs.frozen(kw_only=True)
class StrategyConfig:
    """One strategy actor: its registered kind and its parameters (strings keep decimals exact)."""

    kind: str
    name: str = ""
    exchange: str = ""
    instrument: str = ""
    params: Mapping[str, object] = attrs.field(factory=dict)

    @classmethod
    def from_mapping(cls, table: Mapping[str, object]) -> StrategyConfig:
        where = f"strategy {table.get('kind', '?')!r}"
        _check_no_secrets(table, where)
        params = table.get("params", {})
        if not isinstance(params, Mapping):
            raise ConfigError(f"{where}: 'params' must be a table")
        for value in params.values():
            if isinstance(value, float):
                raise ConfigError(f"{where}: write decimal parameters as strings (\"0.001\"), not floats")
        return cls(
            kind=_str(table, "kind", where),
            name=_str(table, "name", where, ""),
            exchange=_str(table, "exchange", where, ""),
            instrument=_str(table, "instrument", where, ""),
            params=dict(params),
        )


@final
@attrs.frozen(kw_only=True)
class SessionConfig:
    """A whole session: several exchanges plus strategy actors."""

    exchanges: tuple[ExchangeConfig, ...]
    strategies: tuple[StrategyConfig, ...] = ()
    #: Seed for every random choice the runtime makes (backoff jitter, client id nonces in tests).
    seed: int = 0

    def __attrs_post_init__(self) -> None:
        names = [e.name for e in self.exchanges]
        if len(names) != len(set(names)):
            raise ConfigError(f"exchange names must be unique in a session: {names}")
        journals = [os.path.abspath(e.order_journal) for e in self.exchanges if e.order_journal]
        if len(journals) != len(set(journals)):
            raise ConfigError(f"each exchange needs its own 'order_journal' file: {journals}")
        for strategy in self.strategies:
            if strategy.exchange and strategy.exchange not in names:
                raise ConfigError(f"strategy {strategy.kind!r} names unknown exchange {strategy.exchange!r}")

    def exchange(self, name: str) -> ExchangeConfig:
        for config in self.exchanges:
            if config.name == name:
                return config
        raise ConfigError(f"no exchange {name!r} in this session")

    @classmethod
    def from_mapping(cls, data: Mapping[str, object]) -> SessionConfig:
        session = data.get("session", {})
        if not isinstance(session, Mapping):
            raise ConfigError("[session] must be a table")
        seed = session.get("seed", 0)
        if not isinstance(seed, int):
            raise ConfigError("session.seed must be an integer")
        exchanges = data.get("exchanges", [])
        strategies = data.get("strategies", [])
        if not isinstance(exchanges, list) or not all(isinstance(t, Mapping) for t in exchanges):
            raise ConfigError("[[exchanges]] must be an array of tables")
        if not isinstance(strategies, list) or not all(isinstance(t, Mapping) for t in strategies):
            raise ConfigError("[[strategies]] must be an array of tables")
        return cls(
            exchanges=tuple(ExchangeConfig.from_mapping(t) for t in exchanges),
            strategies=tuple(StrategyConfig.from_mapping(t) for t in strategies),
            seed=seed,
        )

    @classmethod
    def from_toml(cls, path: str | Path) -> SessionConfig:
        """Read a TOML file; any syntax or shape problem is a ConfigError naming the file."""
        try:
            with open(path, "rb") as handle:
                data = tomllib.load(handle)
        except OSError as exc:
            raise ConfigError(f"cannot read config {path}: {exc.strerror}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config {path} is not valid TOML: {exc}") from exc
        return cls.from_mapping(data)
