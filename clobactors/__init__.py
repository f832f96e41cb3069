"""clobactors: connect trading programs to central-limit-order-book exchanges.

Three layers (see ``docs/architecture.md``): sans-IO exchange dialects, a supervised Trio actor runtime,
and strategies that are actors too. A simulated exchange speaks each dialect's protocol on loopback.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
