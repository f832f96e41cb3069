"""Binance spot dialect (sans-IO), shared by the client and the simulator's Binance face.

:class:`BinanceSpotDialect` (in :mod:`.dialect`) satisfies :class:`clobactors.exchanges.standard.SpotDialect`
with :class:`~.signing.Credentials`; :data:`DIALECT_FACTORY` builds one for the registry in
:mod:`clobactors.exchanges`. Modules, one job each:

* :mod:`.urls` - environments, routes, stream names, request weights;
* :mod:`.wire` (re-exporting ``wire_*``) - msgspec structs mirroring Binance's JSON;
* :mod:`.signing` - HMAC-SHA256 signing and verification, time passed in;
* :mod:`.errors` - error codes into :mod:`clobactors.errors`;
* :mod:`.commands` - typed commands into signed requests and WebSocket frames;
* :mod:`.codec` / :mod:`.codec_rest` - frames and REST answers into canonical messages;
* :mod:`.sequencing` - the documented diff-depth sequencing rule;
* :mod:`.rules` - exchangeInfo into trading rules and rate-limit pools, request costs, usage headers;
* :mod:`.convert` / :mod:`.symbols` - enum spellings, the symbol table and its drop counters.
"""

from __future__ import annotations

from clobactors.exchanges.binance.dialect import BinanceSpotDialect
from clobactors.exchanges.binance.signing import Credentials
from clobactors.exchanges.binance.urls import Endpoints, Environment

__all__ = ["DIALECT_FACTORY", "BinanceSpotDialect", "Credentials", "Endpoints", "Environment", "create_dialect"]


def create_dialect(
    *,
    environment: Environment | str = Environment.LIVE,
    rest: str | None = None,
    ws: str | None = None,
    ws_api: str | None = None,
) -> BinanceSpotDialect:
    """A dialect for ``environment`` (``"live"``/``"testnet"``) with any of its URLs replaced.

    Replacing some URLs keeps the environment's others, so ``create_dialect(rest=...)`` alone is valid.
    """
    endpoints = Endpoints.for_environment(Environment(environment)).override(rest=rest, ws=ws, ws_api=ws_api)
    return BinanceSpotDialect(endpoints)


#: What the registry in :mod:`clobactors.exchanges` calls to build this exchange's dialect.
DIALECT_FACTORY = create_dialect
