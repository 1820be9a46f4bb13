"""A plausible contract book for a generated network: most county stations contracted, a few own.

Bird's ~1,600 county stations are 特约 (contracted) while its provincial and city centres are its
own; the maker also runs a few county stations itself (a flagship in a rich county, a station
it took over). :func:`generate_contracts` contracts every county station but a share
``own_share`` (default 10 %, drawn), and draws each contract's terms around the defaults of
``dispatch/contracts/model.py``: fees +-20 % (a shop's bargaining), daily capacity from its field
technicians (about 6 jobs each a day), offer answers around 85 % accepted (a busier shop refuses
more: 70-95 %), repeat repairs 2-10 % and complaints 0-5 %, a tenth allowed into their
prefecture; authorised for the levels its bench repairs and those its field technicians are trained
for (a county technician trained for module work repairs it on site). Seeded: the same seed
gives the same book.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from dispatch.contracts.model import Contract, ContractBook, Fees, OfferRates
from dispatch.model import FIELD_ROLE, Technician, Tier
from dispatch.network import Network

JOBS_PER_TECHNICIAN_DAY = 6  # a county technician's day: ~6 short jobs (30-75 min each, plus driving)


def generate_contracts(network: Network, technicians: Sequence[Technician], seed: int = 0,
                       own_share: float = 0.10) -> ContractBook:
    """Contracts for the county stations of ``network`` but ``own_share`` of them (module docstring)."""
    rng = np.random.default_rng([seed, 20])
    field = Counter(t.home_centre_id for t in technicians if t.role == FIELD_ROLE)
    # Authorisation follows the technicians' certification: a shop is authorised for the levels
    # its bench repairs and for those its field technicians are trained to repair on site.
    trained: dict[str, int] = {}
    for t in technicians:
        if t.role == FIELD_ROLE:
            trained[t.home_centre_id] = max(trained.get(t.home_centre_id, 1), t.max_level)
    county = sorted(c.id for c in network.by_tier(Tier.COUNTY))
    own = set(rng.choice(county, size=round(own_share * len(county)), replace=False).tolist()) if county else set()
    out = {}
    d = Fees()
    for cid in county:
        if cid in own:
            continue
        centre = network[cid]
        k = rng.uniform(0.8, 1.2)
        fees = Fees(tuple(round(f * k) for f in d.by_level_cny), round(d.onsite_extra_cny * k),  # type: ignore[arg-type]
                    round(d.pickup_extra_cny * k), d.handover_cny, d.km_cny, float(rng.choice([10.0, 15.0, 20.0])))
        accept = float(rng.uniform(0.70, 0.95))
        refuse = float(rng.uniform(0.5, 0.8) * (1 - accept))
        offers = OfferRates(round(accept, 3), round(refuse, 3), 60 * int(rng.integers(3, 9)), 15 * 60)
        out[cid] = Contract(
            cid, frozenset(centre.levels) | frozenset(range(1, trained.get(cid, 1) + 1)), frozenset(),
            max(4, JOBS_PER_TECHNICIAN_DAY * max(1, field[cid])),
            centre.opening, fees, repeat_rate_30d=round(float(rng.uniform(0.02, 0.10)), 3),
            complaint_rate=round(float(rng.uniform(0.0, 0.05)), 3), offers=offers,
            roam="prefecture" if rng.random() < 0.1 else "county")
    return ContractBook(out)
