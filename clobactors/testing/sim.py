"""The simulated exchange for your own tests: ``async with open_simulator("binance") as sim: ...``.

Point a Binance client at ``sim.rest_url`` / ``sim.ws_url`` / ``sim.ws_api_url`` with ``sim.api_key`` and
``sim.api_secret``; ``sim.engine`` shows the matching engine's state; ``sim.add_account`` opens more funded
accounts, ``sim.deposit`` credits one, ``sim.pause_flow`` / ``sim.resume_flow`` stop and restart the synthetic
order flow. Under trio's ``MockClock(autojump_threshold=0)`` runs are deterministic: connect to the literal
``127.0.0.1``.
"""

from __future__ import annotations

from clobactors.sim.config import SimConfig, SimSymbol
from clobactors.sim.face_protocol import SimCredentials
from clobactors.sim.server import FACES, MOCK_START_MS, Simulator, open_simulator

__all__ = ["FACES", "MOCK_START_MS", "SimConfig", "SimCredentials", "SimSymbol", "Simulator", "open_simulator"]
