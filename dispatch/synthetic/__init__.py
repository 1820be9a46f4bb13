"""Generated datasets on China's real geography: a network, a roster and days of calls.

* ``presets``: which part of China (national, zhejiang, a province, tiny);
* ``network``: centres at the seats, county stations placed by coverage and demand;
* ``roster``: technicians per centre;
* ``calls``: the calls of each day;
* ``generate``: :func:`generate`, the three in order with one seed.
"""

from dispatch.synthetic.calls import CallParams, generate_calls, points_in_county
from dispatch.synthetic.generate import GeneratorParams, generate, with_calls_per_day
from dispatch.synthetic.network import DEFAULT_TIERS, NetworkParams, TierParams, generate_network
from dispatch.synthetic.presets import PROVINCE_ALIASES, Preset, parse_preset, restrict_network
from dispatch.synthetic.roster import RosterParams, generate_roster

__all__ = [
    "DEFAULT_TIERS", "PROVINCE_ALIASES", "CallParams", "GeneratorParams", "NetworkParams", "Preset", "RosterParams",
    "TierParams", "generate", "generate_calls", "generate_network", "generate_roster", "parse_preset",
    "points_in_county", "restrict_network", "with_calls_per_day",
]
