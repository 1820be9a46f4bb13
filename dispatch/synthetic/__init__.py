"""Generated datasets on China's real geography: a network, a roster and days of calls.

* ``presets``: which part of China (national, zhejiang, a province, tiny);
* ``network``: centres at the seats, county stations placed by coverage and demand;
* ``roster``: technicians per centre;
* ``calendar``: how each day's demand differs (weekday, China's holidays, backlog, surges);
* ``calls``: the calls of each day;
* ``generate``: :func:`generate`, the three in order with one seed.
"""

from dispatch.synthetic.calendar import (
    SURGE_EXAMPLES,
    ChinaDay,
    DayDemand,
    DemandCalendar,
    Surge,
    calendar_from_options,
    china_day,
    demand_by_day,
    recorded_calendar,
    surge_example,
)
from dispatch.synthetic.calls import CallParams, generate_calls, points_in_county
from dispatch.synthetic.generate import GeneratorParams, generate, with_calendar, with_calls_per_day
from dispatch.synthetic.network import DEFAULT_TIERS, NetworkParams, TierParams, generate_network
from dispatch.synthetic.presets import PROVINCE_ALIASES, Preset, parse_preset, restrict_network
from dispatch.synthetic.roster import RosterParams, generate_roster

__all__ = [
    "DEFAULT_TIERS", "PROVINCE_ALIASES", "SURGE_EXAMPLES", "CallParams", "ChinaDay", "DayDemand",
    "DemandCalendar", "GeneratorParams", "NetworkParams", "Preset", "RosterParams", "Surge",
    "TierParams", "calendar_from_options", "recorded_calendar", "china_day", "demand_by_day", "generate",
    "generate_calls", "generate_network", "generate_roster", "parse_preset", "points_in_county",
    "restrict_network", "surge_example", "with_calendar", "with_calls_per_day",
]
