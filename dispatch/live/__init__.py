"""The live plan during the day: each area's state, insertion of new calls, and the one
decision for a call that the day plan, the simulation, the service and the dashboard share.

* ``calls``: a new call, an insertion option, job states, the rankings;
* ``area``: :class:`LiveArea`, one area's live routes (clock, frozen work, field reports,
  drop-out), with ``insertion`` (the insertion search, a visit moved to a chosen technician and
  time) and ``replan`` (re-optimisation of the movable tail);
* ``finder``: the nearest areas whose technicians may take a call;
* ``decision``: :func:`decide`, the one place a call is given to a technician (or not).
"""

from dispatch.live.area import LiveArea
from dispatch.live.calls import (
    FROZEN_STATES,
    DropOutResult,
    InsertionOption,
    JobState,
    NewCall,
    StatusConflict,
    collection,
    eta_table,
    offer_key,
    rank_key,
)
from dispatch.live.decision import collect_offers
from dispatch.live.finder import AreaFinder

__all__ = [
    "FROZEN_STATES", "AreaFinder", "DropOutResult", "InsertionOption", "JobState", "LiveArea", "NewCall",
    "StatusConflict", "collect_offers", "collection", "eta_table", "offer_key", "rank_key",
]
