"""Deterministic generator of a Binance spot diff-depth stream, the input of the book benchmarks.

Binance "Diff. Depth Stream" frames (developers.binance.com, spot WebSocket streams)::

    {"e":"depthUpdate","E":1672515782136,"s":"BNBBTC","U":157,"u":160,"b":[["0.0024","10"]],"a":[...]}

Prices and sizes are decimal strings with a fixed number of decimals per symbol (8 here, as Binance sends
``"27000.01000000"``); a size of ``"0.00000000"`` removes the level.

The stream is shaped like a liquid book rather than uniform noise, because where changes land decides which
code paths a book takes (an update of an existing level, an insert, a deletion, a change of the best):

* a 0.01 tick grid around 27000, 1000 levels a side in the initial snapshot, dense near the touch and sparser
  further out;
* each frame changes 6-14 levels (10 on average); about 20 % are deletions and about 20 % inserts, so the book
  keeps its size, and the rest change the size of an existing level;
* which level a change touches is drawn by rank from the best with a geometric law, so most activity is near
  the touch; the best level itself is deleted or overtaken now and then, as in a real book.

Everything comes from one seeded :class:`random.Random`, so a seed names the stream exactly. Run as a script
to write ``bench/data/binance_depth_s<seed>_f<frames>_l<levels>.jsonl`` (first line the REST snapshot, then
one frame per line); ``bench/data/`` is not committed.
"""

from __future__ import annotations

import argparse
import bisect
import random
from pathlib import Path
from typing import Final

import msgspec

PRICE_DECIMALS: Final = 8
SIZE_DECIMALS: Final = 8
#: The instrument's tick, in units of 10**-PRICE_DECIMALS (0.01).
TICK: Final = 10**6
MID: Final = 27_000 * 10**PRICE_DECIMALS
DEFAULT_SEED: Final = 20240601
DEFAULT_FRAMES: Final = 20_000
DEFAULT_LEVELS: Final = 1000
DATA_DIR: Final = Path(__file__).resolve().parent / "data"


def _fmt(scaled: int, decimals: int) -> str:
    """Format a scaled integer with exactly ``decimals`` decimals, as Binance does."""
    whole, frac = divmod(scaled, 10**decimals)
    return f"{whole}.{frac:0{decimals}d}"


def _size(rng: random.Random) -> int:
    """A size in units of 10**-8: mostly small, sometimes large."""
    mantissa = rng.randint(1, 10**5)
    scale: int = 10 ** rng.randint(1, 4)
    return mantissa * scale


class _Side:
    """One side of the simulated book as sorted tick offsets from the mid (0 = the touch)."""

    def __init__(self, rng: random.Random, levels: int) -> None:
        offsets: set[int] = set()
        distance = 0
        while len(offsets) < levels:
            # Dense near the touch, sparser with distance: the gap grows slowly with the distance.
            distance += 1 + int(rng.expovariate(1.0) * (distance / 400))
            offsets.add(distance)
        self.offsets = sorted(offsets)

    def pick_rank(self, rng: random.Random) -> int:
        """A rank from the touch, geometric so that most changes are near it."""
        return min(int(rng.expovariate(1 / 25)), len(self.offsets) - 1)


def generate(
    seed: int = DEFAULT_SEED, frames: int = DEFAULT_FRAMES, levels: int = DEFAULT_LEVELS
) -> tuple[bytes, list[bytes]]:
    """Return ``(snapshot, frames)``: a REST depth snapshot and the diff-depth frames that follow it."""
    rng = random.Random(seed)
    bids, asks = _Side(rng, levels), _Side(rng, levels)
    # Prices are mid - offset*tick for bids and mid + offset*tick for asks; offsets stay >= 1 so the book
    # never crosses (the two sides share the mid as their boundary).
    sizes_b = {o: _size(rng) for o in bids.offsets}
    sizes_a = {o: _size(rng) for o in asks.offsets}

    def bid_px(o: int) -> str:
        return _fmt(MID - o * TICK, PRICE_DECIMALS)

    def ask_px(o: int) -> str:
        return _fmt(MID + o * TICK, PRICE_DECIMALS)

    last_update_id = 1_000_000
    snapshot = msgspec.json.encode(
        {
            "lastUpdateId": last_update_id,
            "bids": [[bid_px(o), _fmt(sizes_b[o], SIZE_DECIMALS)] for o in bids.offsets],
            "asks": [[ask_px(o), _fmt(sizes_a[o], SIZE_DECIMALS)] for o in asks.offsets],
        }
    )
    out: list[bytes] = []
    event_time = 1_700_000_000_000
    for _ in range(frames):
        # offset -> new size per side; a level changed twice in a frame keeps its last size, as Binance
        # aggregates the changes of one update-id range.
        changes: dict[str, dict[int, int]] = {"b": {}, "a": {}}
        for _ in range(rng.randint(6, 14)):
            key = "b" if rng.random() < 0.5 else "a"
            side, sizes = (bids, sizes_b) if key == "b" else (asks, sizes_a)
            roll = rng.random()
            if roll < 0.2 and len(side.offsets) > 1:
                offset = side.offsets.pop(side.pick_rank(rng))
                del sizes[offset]
                size = 0
            elif roll < 0.4:
                # A new level near the touch, on a free tick (possibly a new best).
                offset = side.offsets[side.pick_rank(rng)] + rng.randint(-3, 3)
                while offset < 1 or offset in sizes:
                    offset = offset + 1 if offset >= 1 else 1
                bisect.insort(side.offsets, offset)
                size = sizes[offset] = _size(rng)
            else:
                offset = side.offsets[side.pick_rank(rng)]
                size = sizes[offset] = _size(rng)
            changes[key][offset] = size
        first = last_update_id + 1
        last_update_id += rng.randint(1, 30)
        event_time += rng.randint(50, 150)
        out.append(
            msgspec.json.encode(
                {
                    "e": "depthUpdate",
                    "E": event_time,
                    "s": "BTCUSDT",
                    "U": first,
                    "u": last_update_id,
                    "b": [[bid_px(o), _fmt(z, SIZE_DECIMALS)] for o, z in changes["b"].items()],
                    "a": [[ask_px(o), _fmt(z, SIZE_DECIMALS)] for o, z in changes["a"].items()],
                }
            )
        )
    return snapshot, out


def data_path(seed: int, frames: int, levels: int) -> Path:
    return DATA_DIR / f"binance_depth_s{seed}_f{frames}_l{levels}.jsonl"


def load_or_generate(
    seed: int = DEFAULT_SEED, frames: int = DEFAULT_FRAMES, levels: int = DEFAULT_LEVELS
) -> tuple[bytes, list[bytes]]:
    """Read the recorded stream from ``bench/data/``, generating and writing it first if absent."""
    path = data_path(seed, frames, levels)
    if not path.exists():
        write(seed, frames, levels)
    snapshot, *rest = path.read_bytes().split(b"\n")
    return snapshot, [line for line in rest if line]


def write(seed: int, frames: int, levels: int) -> Path:
    snapshot, out = generate(seed, frames, levels)
    path = data_path(seed, frames, levels)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\n".join([snapshot, *out]) + b"\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--frames", type=int, default=DEFAULT_FRAMES)
    parser.add_argument("--levels", type=int, default=DEFAULT_LEVELS)
    args = parser.parse_args()
    print(write(args.seed, args.frames, args.levels))


if __name__ == "__main__":
    main()
