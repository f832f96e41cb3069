"""Binance USD-M futures dialect (sans-IO): perpetuals on fapi.binance.com / fstream.binance.com.

:class:`BinanceUsdmDialect` (in :mod:`.dialect`) satisfies :class:`clobactors.exchanges.standard.PerpDialect`
with :class:`~.signing.Credentials` (spot's HMAC credentials); :data:`DIALECT_FACTORY` builds one for the
registry in :mod:`clobactors.exchanges`. Same module names as the spot folder, one job each:

* :mod:`.urls` - environments, stream routing, routes, stream names, request weights;
* :mod:`.wire` (re-exporting ``wire_*``) - msgspec structs mirroring the futures JSON (shared with the
  simulator face, which encodes them);
* :mod:`.signing` - spot's HMAC-SHA256 signing, re-exported (the futures docs describe the same rule);
* :mod:`.errors` - futures error codes into :mod:`clobactors.errors`;
* :mod:`.commands` - typed commands into signed requests;
* :mod:`.codec` / :mod:`.codec_rest` / :mod:`.convert_account` - frames and REST answers into canonical
  messages;
* :mod:`.sequencing` - the documented futures book rule (``pu`` chains events);
* :mod:`.rules` - exchangeInfo into perpetual rules and rate-limit pools, request costs, usage headers;
* :mod:`.convert` - enum spellings (post-only is LIMIT + GTX).
"""

from __future__ import annotations

from clobactors.exchanges.binance_usdm.dialect import BinanceUsdmDialect
from clobactors.exchanges.binance_usdm.signing import Credentials
from clobactors.exchanges.binance_usdm.urls import Endpoints, Environment, StreamRouting

__all__ = [
    "DIALECT_FACTORY",
    "BinanceUsdmDialect",
    "Credentials",
    "Endpoints",
    "Environment",
    "StreamRouting",
    "create_dialect",
]


def create_dialect(
    *,
    environment: Environment | str = Environment.LIVE,
    rest: str | None = None,
    ws: str | None = None,
    ws_api: str | None = None,
    routing: StreamRouting | str | None = None,
) -> BinanceUsdmDialect:
    """A dialect for ``environment`` (``"live"``/``"testnet"``) with any of its URLs replaced.

    ``routing`` defaults to the environment's (routed on live), except that replacing ``ws`` (the simulator)
    selects the combined layout unless ``routing`` says otherwise.
    """
    chosen = StreamRouting(routing) if routing is not None else (StreamRouting.COMBINED if ws is not None else None)
    endpoints = Endpoints.for_environment(Environment(environment)).override(
        rest=rest, ws=ws, ws_api=ws_api, routing=chosen
    )
    return BinanceUsdmDialect(endpoints)


#: What the registry in :mod:`clobactors.exchanges` calls to build this exchange's dialect.
DIALECT_FACTORY = create_dialect
