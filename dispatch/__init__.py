"""Multi-tier repair-network dispatch planner.

The pipeline, stage by stage (each a module or sub-package of its own)::

    network + roster + calls      io.read_dataset (validated) or synthetic.generate
        │  the rule book           rules.Rules: targets, bench times, overtime, collection, ...
        ▼
    1. assignment.assign          each call -> visiting centre, mode, repair centre, with reasons
        ▼
    2. routing.solve              one area's routes (OR-Tools / PyVRP), checked by routing.check
        ▼
    3. live.decide                every later call, as it arrives: who goes, or why nobody can
        ▼                         (the day plan, the simulation, the service and the board)
    plan.make_plan                the day plan: 1, 2 and 3 over every area, benches, frames
    simulate.simulate             days of calls against the baseline (baseline.py), same physics
        ▼
    4. kpis.kpis                  the two promises: dispatch within the hour, turnaround

Around it: ``hours`` (the business-hours calendar), ``reasons`` (every reason code with its
sentence), ``scenarios`` and ``coverage`` (managers' what-ifs), ``store`` (plans, scenarios,
runs), ``service`` (the call-intake HTTP API), ``cli`` and ``bench``.

The names below are imported on first use, so ``import dispatch.routing`` in a worker process
does not load the planner, the dashboard's dependencies or the service.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_API = {
    "Rules": "dispatch.rules", "DEFAULT_RULES": "dispatch.rules", "Reason": "dispatch.reasons",
    "Dataset": "dispatch.dataset", "read_dataset": "dispatch.io", "write_dataset": "dispatch.tables",
    "generate": "dispatch.synthetic", "assign": "dispatch.assignment", "AssignmentParams": "dispatch.assignment",
    "solve": "dispatch.routing", "check": "dispatch.routing", "decide": "dispatch.live.decision",
    "make_plan": "dispatch.plan", "PlanParams": "dispatch.plan", "Pin": "dispatch.plan",
    "simulate": "dispatch.simulate", "SimParams": "dispatch.simulate", "kpis": "dispatch.kpis",
}

__all__ = sorted(_API)


def __getattr__(name: str) -> Any:
    if name not in _API:
        raise AttributeError(f"module 'dispatch' has no attribute {name!r}")
    return getattr(importlib.import_module(_API[name]), name)
