"""Exchange dialects: one sans-IO folder per exchange, each with the same module names.

Nothing here imports trio or httpx: a dialect turns bytes into typed wire structs (and back) and signs
requests with a timestamp passed in.

The registry (:data:`DIALECTS`) maps an exchange name to a factory building its dialect (lesson 14).
Factories take keyword arguments only: ``environment`` and URL overrides (``rest``, ``ws``, ``ws_api`` for
Binance), so a session config or the simulator can build any dialect by name::

    dialect = get_dialect("binance", rest="http://127.0.0.1:8080", ws="ws://127.0.0.1:8081",
                          ws_api="ws://127.0.0.1:8081/ws-api/v3")

Each factory imports its exchange's package on first call, so importing this package (or
:mod:`.standard`) never loads every dialect.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Final, Literal, overload

from clobactors.errors import ConfigError

if TYPE_CHECKING:
    from clobactors.exchanges.binance.dialect import BinanceSpotDialect
    from clobactors.exchanges.binance_usdm.dialect import BinanceUsdmDialect

__all__ = ["CREDENTIALS", "DIALECTS", "dialect_names", "get_credentials", "get_dialect"]


def _binance(**options: str) -> BinanceSpotDialect:
    from clobactors.exchanges.binance import create_dialect  # lazy: the registry loads no dialect up front

    return create_dialect(**options)


def _binance_usdm(**options: str) -> BinanceUsdmDialect:
    from clobactors.exchanges.binance_usdm import create_dialect

    return create_dialect(**options)


def _binance_credentials(values: Mapping[str, str]) -> object:
    from clobactors.exchanges.binance.signing import Credentials

    return Credentials(api_key=values["api_key"], secret=values["api_secret"])


#: Exchange name → builder of its credentials from the fields a config names (``api_key``, ``api_secret``,
#: plus exchange-specific ones such as a passphrase). Values come from environment variables, never files.
CREDENTIALS: Final[Mapping[str, Callable[[Mapping[str, str]], object]]] = {
    "binance": _binance_credentials,
    "binance_usdm": _binance_credentials,  # the same HMAC key pair scheme (futures permission on the key)
}

#: Exchange name → factory of its dialect (keyword options only).
DIALECTS: Final[Mapping[str, Callable[..., object]]] = {
    "binance": _binance,
    "binance_usdm": _binance_usdm,
}


def dialect_names() -> tuple[str, ...]:
    return tuple(sorted(DIALECTS))


@overload
def get_dialect(name: Literal["binance"], **options: str) -> BinanceSpotDialect: ...


@overload
def get_dialect(name: Literal["binance_usdm"], **options: str) -> BinanceUsdmDialect: ...


@overload
def get_dialect(name: str, **options: str) -> object: ...


def get_dialect(name: str, **options: str) -> object:
    """Build the dialect registered as ``name``; unknown names and bad options are ConfigError.

    Typed per exchange for literal names; for a name read from config the result is ``object``, narrowed by
    the caller to the protocol it drives (each dialect module proves under mypy that its class fits).
    """
    try:
        factory = DIALECTS[name]
    except KeyError:
        raise ConfigError(f"unknown exchange {name!r}; known: {', '.join(dialect_names())}") from None
    try:
        return factory(**options)
    except (TypeError, ValueError) as exc:  # an unknown option, an unknown environment name
        raise ConfigError(f"bad options for exchange {name!r}: {exc}") from exc


def get_credentials(name: str, values: Mapping[str, str]) -> object:
    """Build exchange ``name``'s credentials; a missing field is a ConfigError naming it (never its value)."""
    try:
        builder = CREDENTIALS[name]
    except KeyError:
        raise ConfigError(f"unknown exchange {name!r}; known: {', '.join(dialect_names())}") from None
    try:
        return builder(values)
    except KeyError as exc:
        raise ConfigError(f"exchange {name!r} needs credential field {exc.args[0]!r}") from None
