"""The controllers that make the simulated cluster run, at the speed of its clock.

One module per controller; each says which objects it acts on and what it does to them. The
loop (`loop.py`) hands each one the keys of changed objects and wakes it at the clock times it
asked for, as a work queue does. Objects restored with a status that says they are settled
(a finished Job, a ReplicaSet whose status observed its generation) are left as written until
their spec changes, so seeded scenarios stay as they were seeded.
"""

from __future__ import annotations

from gitops_lifecycle.simulation.kubeapi.controllers.containers import Containers
from gitops_lifecycle.simulation.kubeapi.controllers.cronjobs import CronJobs
from gitops_lifecycle.simulation.kubeapi.controllers.daemonsets import DaemonSets
from gitops_lifecycle.simulation.kubeapi.controllers.deployments import Deployments
from gitops_lifecycle.simulation.kubeapi.controllers.garbage import GarbageCollector
from gitops_lifecycle.simulation.kubeapi.controllers.jobs import Jobs
from gitops_lifecycle.simulation.kubeapi.controllers.loop import Controller, WorkLoop
from gitops_lifecycle.simulation.kubeapi.controllers.objects import Writer
from gitops_lifecycle.simulation.kubeapi.controllers.replicasets import (
    ReplicaSets,
    replication_controllers,
)
from gitops_lifecycle.simulation.kubeapi.controllers.scheduler import Scheduler
from gitops_lifecycle.simulation.kubeapi.controllers.ttl import TtlAfterFinished
from gitops_lifecycle.simulation.kubeapi.registry import Registry

__all__ = ["Controller", "WorkLoop", "standard"]


def standard(registry: Registry) -> list[Controller]:
    """The controllers of a cluster that runs, in the order they start."""
    writer = Writer(registry)
    return [Scheduler(writer), Containers(writer), Jobs(writer), TtlAfterFinished(writer),
            Deployments(writer), ReplicaSets(writer), replication_controllers(writer),
            DaemonSets(writer), CronJobs(writer), GarbageCollector(writer)]
