"""Travel: one interface (``Travel``) for drive times and road distances, and the models behind it.

Only this package constructs a concrete model; everything else takes a ``Travel`` (by default
``DEFAULT_TRAVEL``) or builds one with ``travel_from_spec``.
"""

from dispatch.travel.base import (
    EARTH_RADIUS_M,
    Travel,
    drive_s,
    haversine_m,
    legs_by_hour,
    legs_per_class,
)
from dispatch.travel.flat import DEFAULT_SPEEDS_KMH
from dispatch.travel.spec import (
    DEFAULT_SPEC,
    DEFAULT_TRAVEL,
    ENV_VAR,
    TravelSpecError,
    travel_from_spec,
    travel_record,
)

__all__ = ["DEFAULT_SPEC", "DEFAULT_SPEEDS_KMH", "DEFAULT_TRAVEL", "EARTH_RADIUS_M", "ENV_VAR", "Travel",
           "TravelSpecError", "drive_s", "haversine_m", "legs_by_hour", "legs_per_class", "travel_from_spec",
           "travel_record"]
