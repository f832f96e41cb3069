"""Binance spot dialect (sans-IO), shared by the client and the simulator's Binance face.

Modules: :mod:`.wire` (msgspec structs mirroring Binance's JSON), :mod:`.signing` (HMAC-SHA256 signing and
verification), :mod:`.errors` (error codes and their mapping into :mod:`clobactors.errors`) and :mod:`.urls`
(environments, routes, stream names and request weights). No ``DIALECT`` is exported yet: the codec that
joins wire structs to canonical messages comes next.
"""
