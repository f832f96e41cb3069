"""Public test helpers, like ``trio.testing``: the simulated exchange (:mod:`clobactors.testing.sim`)."""

from __future__ import annotations

from clobactors.testing.sim import SimConfig, SimCredentials, SimSymbol, Simulator, open_simulator

__all__ = ["SimConfig", "SimCredentials", "SimSymbol", "Simulator", "open_simulator"]
