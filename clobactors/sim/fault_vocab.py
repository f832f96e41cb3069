"""The registry of fault vocabularies, one per simulator face.

The shape a vocabulary has is :class:`~clobactors.sim.fault_vocab_base.FaultVocabulary` (re-exported here):
the exchange's routes, topics, error answers and stream endings that the exchange-neutral injector needs.
Each exchange's vocabulary lives with its face (``exchanges/<x>/face_faults.py``). A face without a
vocabulary cannot run under faults (:func:`vocabulary_for` names the known ones).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from clobactors.errors import ConfigError
from clobactors.exchanges.binance.face_faults import BINANCE_VOCABULARY
from clobactors.exchanges.binance_usdm.face_faults import BINANCE_USDM_VOCABULARY
from clobactors.sim.fault_vocab_base import FaultVocabulary, UserStreamEnd

__all__ = [
    "BINANCE_USDM_VOCABULARY",
    "BINANCE_VOCABULARY",
    "VOCABULARIES",
    "FaultVocabulary",
    "UserStreamEnd",
    "vocabulary_for",
]

#: Simulator face name -> its vocabulary.
VOCABULARIES: Final[dict[str, FaultVocabulary]] = {
    "binance": BINANCE_VOCABULARY,
    "binance-usdm": BINANCE_USDM_VOCABULARY,
    "binance_usdm": BINANCE_USDM_VOCABULARY,
}


def vocabulary_for(exchange: str, vocabularies: Mapping[str, FaultVocabulary] = VOCABULARIES) -> FaultVocabulary:
    """The vocabulary of the simulator face ``exchange``; ConfigError naming the known ones otherwise."""
    try:
        return vocabularies[exchange]
    except KeyError:
        raise ConfigError(
            f"no fault vocabulary for exchange {exchange!r}; known: {', '.join(sorted(vocabularies))}"
        ) from None
