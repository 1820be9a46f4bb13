"""Contracted county stations (特约维修站) and what a job costs.

* ``model``: a station's :class:`Contract` (authorised levels and product lines, daily job
  capacity, its own opening hours, fees by level and channel plus kilometres beyond a radius, a
  service-level clause with penalties, a quality score, how it answers offers) and the
  :class:`ContractBook` of a dataset (a centre without a contract is the maker's own);
* ``table``: ``contracts.csv``, its schema, reading with validation, writing;
* ``generate``: a plausible book for a generated network (most county stations contracted);
* ``offers``: a contracted station's job is an offer it may accept, refuse or let lapse; a
  refusal re-offers the call with the one-hour clock still running; cost weighed against time;
* ``costs``: what each job, centre and the network cost in CNY (``rules.CostRates``);
* ``settlement``: the monthly statement of each contracted station, as CSV;
* ``week`` (not imported here: it runs the simulator): the contracted week side by side, and
  the scenario "own the busiest county stations instead of contracting them".

A dataset without ``contracts.csv`` reads as an empty book: every centre own, no offers, the
decisions and figures of before.
"""

# The light half only (the CLI imports it at start); offers, costs, settlement and week import
# the live plan and the simulator: import them from their modules.
from dispatch.contracts.generate import generate_contracts
from dispatch.contracts.model import (
    ROAMS,
    Contract,
    ContractBook,
    Fees,
    OfferRates,
    Sla,
    quality_score,
)
from dispatch.contracts.table import SCHEMA, contracts_frame, parse_contracts, read_contracts

__all__ = [
    "ROAMS", "SCHEMA", "Contract", "ContractBook", "Fees", "OfferRates", "Sla", "contracts_frame",
    "generate_contracts", "parse_contracts", "quality_score", "read_contracts",
]
