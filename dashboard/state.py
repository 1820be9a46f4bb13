"""Every session-state key the dashboard uses, in one place, with its default."""

from __future__ import annotations

import datetime as dt
from typing import Any

ALL = ""  # the PREFECTURE value meaning the whole province

# Sidebar: what the pages work on.
LANG = "lang"  # the interface's language (dashboard.i18n.LANGUAGES); also the ``lang`` query parameter
DATASET = "dataset"  # label of the chosen dataset (a demo or an upload)
PROVINCE = "province"  # province adcode
PREFECTURE = "prefecture"  # prefecture adcode, or "" for the whole province
DAY = "day"  # day index since the dataset epoch
TRAVEL = "travel_model"  # a dispatch.travel.spec.MODELS name
TRAVEL_SOURCE = "travel_source"  # its parameters file, matrix file or server URL ("" for none)
TRAVEL_SPEC = "travel_spec"  # the spec in use (dashboard.travelchoice.resolve of the two above)
SEED = "seed"

# Data the user brought: label -> Dataset (only datasets that validated completely).
UPLOADED = "uploaded"
UPLOAD_PROBLEMS = "upload_problems"  # problems table of the last failed upload
UPLOAD_MESSAGE = "upload_message"

# Board.
FORCE_RUN = "force_run"  # plan key to solve afresh on this run
LAST_RUN = "last_run"  # (plan key, wall seconds, processes) of the last solve shown on the board
PIN_MESSAGE = "pin_message"
LIVE_MESSAGE = "live_message"  # (kind, text, frame or None) of the last drop-out
URGENT_MESSAGE = "urgent_message"  # (kind, text, (title, ETA frame) or None) of the last urgent call
COLOUR_BY = "colour_by"
MAP_SKETCHED = "map_sketched"  # the board map's sketch was sent this session (``widgets.board_map``)
NOW = "now"  # board clock: a datetime.time of the day
FOLLOW_WALL = "follow_wall"  # the board's clock follows the wall clock (China time)
SERVICE_URL = "service_url"  # the dispatch service holding the live plan ("": the board's own)
SERVICE_TOKEN = "service_token"
EXPORTS = "exports"  # (plan events key, files) built on demand

# Network & coverage.
LEVEL = "coverage_level"
SCENARIOS = "scenarios"  # name -> dispatch.scenarios.Scenario
SUGGESTED = "suggested"  # ((area key, travel spec), frame of suggested county seats)
COMPARISON = "comparison"  # ((area key, travel spec), level, result) of the last comparison
SCENARIO_MESSAGE = "scenario_message"

# Simulation.
SIM_DAYS = "sim_days"  # days of calls to simulate
SIM_SCENARIO = "sim_scenario"  # "base" or a saved scenario's name
SIM_RUN = "sim_run"  # key of the simulation last run on the page (shown again from the cache)

DEFAULTS: dict[str, Any] = {
    SEED: 0,
    UPLOADED: {},
    COLOUR_BY: "state",
    NOW: dt.time(12, 0),
    FOLLOW_WALL: False,
    LEVEL: 1,
    SCENARIOS: {},
    SIM_SCENARIO: "base",
}


def init(state: Any) -> None:
    """Fill in missing keys (a fresh session, or one that lost some)."""
    for key, value in DEFAULTS.items():
        if key not in state:
            state[key] = value.copy() if isinstance(value, dict) else value
