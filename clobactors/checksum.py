"""Book checksums the way exchanges compute them, over the exchange's own price and size strings.

Exchanges that send a checksum hash a text rendering of their top levels, so the rendering must use the
strings exactly as they arrived (``"8477"`` and ``"8477.0"`` hash differently). These functions take levels
as ``(price, size)`` string pairs, best first, as :meth:`clobactors.book.L2Book.top_raw` returns them.

* OKX (``books`` channel): the top 25 levels a side, interleaved ``bid price:bid size:ask price:ask size``
  level by level (a side that runs out is skipped), joined with ``:``, CRC32 as a *signed* 32-bit integer.
  Documented example: bids ``3366.1:7``, asks ``3366.8:9``, ``3368:8``, ``3372:8`` give
  ``"3366.1:7:3366.8:9:3368:8:3372:8"`` and ``831078360``. (OKX announced in 2026 that the field will be
  sent as 0 and replaced by ``seqId``/``prevSeqId`` continuity; the helper stays for recorded data and
  venues with the same scheme.)
* Kraken (WebSocket v1/v2 ``book``): the top 10 levels a side; each price and size has ``.`` removed and
  leading zeros stripped; asks (low to high) then bids (high to low) concatenated without separators;
  CRC32 as an *unsigned* 32-bit integer. Documented example: the ten-level book of ``0.05005`` .. asks and
  ``0.05000`` .. bids at ``0.00000500`` gives ``974947235``.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Final

__all__ = [
    "KRAKEN_DEPTH",
    "OKX_DEPTH",
    "kraken_checksum",
    "kraken_checksum_text",
    "okx_checksum",
    "okx_checksum_text",
]

#: Levels a side that OKX hashes.
OKX_DEPTH: Final = 25
#: Levels a side that Kraken hashes.
KRAKEN_DEPTH: Final = 10

RawLevels = Sequence[tuple[str, str]]


def okx_checksum_text(bids: RawLevels, asks: RawLevels) -> str:
    """The string OKX hashes: best 25 bids and asks interleaved as ``price:size``, joined with ``:``."""
    parts: list[str] = []
    bids, asks = bids[:OKX_DEPTH], asks[:OKX_DEPTH]
    for i in range(max(len(bids), len(asks))):
        if i < len(bids):
            parts += bids[i]
        if i < len(asks):
            parts += asks[i]
    return ":".join(parts)


def okx_checksum(bids: RawLevels, asks: RawLevels) -> int:
    """OKX's checksum of a book: CRC32 of :func:`okx_checksum_text`, as a signed 32-bit integer."""
    crc = zlib.crc32(okx_checksum_text(bids, asks).encode("ascii"))
    return crc - (1 << 32) if crc >= 1 << 31 else crc


def _kraken_digits(value: str) -> str:
    return value.replace(".", "").lstrip("0")


def kraken_checksum_text(bids: RawLevels, asks: RawLevels) -> str:
    """The string Kraken hashes: best 10 asks then best 10 bids, each ``price + size`` without dots or
    leading zeros."""
    return "".join(
        _kraken_digits(price) + _kraken_digits(size)
        for price, size in (*asks[:KRAKEN_DEPTH], *bids[:KRAKEN_DEPTH])
    )


def kraken_checksum(bids: RawLevels, asks: RawLevels) -> int:
    """Kraken's checksum of a book: CRC32 of :func:`kraken_checksum_text`, unsigned."""
    return zlib.crc32(kraken_checksum_text(bids, asks).encode("ascii"))
