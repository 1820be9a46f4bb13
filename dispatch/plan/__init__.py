"""The day plan: assignment, one routing solve per area in parallel, every later call placed by
the one decision, benches and the device path, the result frames.

* ``params``: :class:`PlanParams`, :class:`Pin`, :class:`Plan`;
* ``areas``: routing areas (a prefecture each) and the network's reach;
* ``build``: one area's routing problem;
* ``day``: the day's dispatch in call order;
* ``benches``: where a device is repaired, and when;
* ``pins``: a dispatcher's pins;
* ``frames``: the plan's result tables;
* ``make``: :func:`make_plan`, the stages in order.
"""

from dispatch.network import area_of_centre
from dispatch.plan.areas import Area, make_areas, reach_s
from dispatch.plan.make import make_plan
from dispatch.plan.params import Pin, Plan, PlanParams

__all__ = ["Area", "Pin", "Plan", "PlanParams", "area_of_centre", "make_areas", "make_plan", "reach_s"]
