"""Coverage for network managers: how much demand each tier reaches in time, and where
stations should be.

* ``metrics``: nearest-centre travel, coverage shares, escalation turnaround;
* ``location``: location models built from a cost matrix (MCLP, LSCP, p-median, p-center);
* ``counties``: the adapters from China's counties and the existing stations.
"""

from dispatch.coverage.counties import county_location_problem, existing_sites
from dispatch.coverage.location import (
    LocationProblem,
    LocationResult,
    greedy_mclp,
    lscp,
    mclp,
    pcenter,
    pmedian,
    seat_cost_s,
)
from dispatch.coverage.metrics import (
    CoverageReport,
    coverage_report,
    coverage_table,
    demand_for,
    escalation_turnaround_h,
    nearest_travel_s,
    travel_time_distribution,
)

__all__ = [
    "CoverageReport", "LocationProblem", "LocationResult", "county_location_problem", "coverage_report",
    "coverage_table", "demand_for", "escalation_turnaround_h", "existing_sites", "greedy_mclp", "lscp", "mclp",
    "nearest_travel_s", "pcenter", "pmedian", "seat_cost_s", "travel_time_distribution",
]
