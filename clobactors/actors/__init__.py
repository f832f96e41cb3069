"""The supervised actor runtime: actors and their context, the bus, supervisors."""

from __future__ import annotations

from clobactors.actors.actor import (
    Actor,
    ActorSystem,
    Context,
    Request,
    open_actor_system,
    unwrap_exception_group,
)
from clobactors.actors.bus import Bus, BusStatistics, SubscriberStatistics, Subscription, topic_for
from clobactors.actors.supervisor import (
    ChildSpec,
    ChildState,
    ChildStatistics,
    Restart,
    Strategy,
    Supervisor,
    SupervisorStatistics,
)

__all__ = [
    "Actor",
    "ActorSystem",
    "Bus",
    "BusStatistics",
    "ChildSpec",
    "ChildState",
    "ChildStatistics",
    "Context",
    "Request",
    "Restart",
    "Strategy",
    "SubscriberStatistics",
    "Subscription",
    "Supervisor",
    "SupervisorStatistics",
    "open_actor_system",
    "topic_for",
    "unwrap_exception_group",
]
