"""`dispatch staff`: the roster a network's workload needs (``dispatch.staffing``), per prefecture,
beside the roster it has."""

from __future__ import annotations

from dataclasses import replace

import click
import numpy as np
import pandas as pd

from dispatch.cli.options import bad_input_on_dispatch_error, load_population, pct, source_options
from dispatch.dataset import Dataset
from dispatch.io import read_dataset
from dispatch.model import FIELD_ROLE, WEEKDAYS, Tier
from dispatch.network import area_of_centre
from dispatch.rules import DEFAULT_RULES
from dispatch.staffing import (
    BENCH,
    COUNTER_ROLES,
    StaffingParams,
    StaffingPlan,
    recommend,
    workload_from_dataset,
)
from dispatch.synthetic import GeneratorParams
from dispatch.synthetic.generate import preset_staffing
from dispatch.synthetic.roster import SIZINGS


def current_frame(dataset: Dataset, plan: StaffingPlan) -> pd.DataFrame:
    """Per pool, the roster the dataset has: people by role, field staff on duty on an average
    day, and the field utilisation the plan's workload would give them."""
    area = area_of_centre(dataset.network)
    service = {p.key: (p.travelling_per_day, p.service_s) for p in plan.pools}
    rows = []
    for key in sorted(set(area.values())):
        staff = [t for t in dataset.technicians if area[t.home_centre_id] == key]
        field = [t for t in staff if t.role == FIELD_ROLE]
        on_duty = sum(1 - (t.rest_weekday is not None) / WEEKDAYS for t in field)
        net_s = float(np.mean([t.shift.duration_s - t.break_s for t in field])) if field else 0.0
        calls, service_s = service.get(key, (0.0, 0.0))
        rows.append({"pool": key, "now_heads": len(staff), "now_field": len(field),
                     "now_bench": sum(t.role == BENCH for t in staff),
                     "now_counter": sum(t.role in COUNTER_ROLES for t in staff),
                     "now_utilisation": calls * service_s / (on_duty * net_s) if on_duty and net_s else float("nan")})
    return pd.DataFrame(rows)


def staff_table(dataset: Dataset, plan: StaffingPlan) -> pd.DataFrame:
    """The recommendation and the current roster side by side, one row per prefecture and a total."""
    names, area = {}, area_of_centre(dataset.network)
    for c in sorted(dataset.network, key=lambda c: int(c.tier)):  # the city centre names its prefecture
        if c.tier in (Tier.CITY, Tier.PROVINCE):
            names[area[c.id]] = c.name.split(" ")[0]
    rec = plan.pool_frame().merge(current_frame(dataset, plan), on="pool", how="outer").fillna(0)
    rec.insert(1, "name", [names.get(k, "") for k in rec["pool"]])
    total = rec.select_dtypes("number").sum()
    busy = (rec["travelling_per_day"] * rec["service_min"]).sum() * 60
    net_s = plan.params.net_shift_s
    total["utilisation"] = busy / (total["field_on_duty_mean"] * net_s) if total["field_on_duty_mean"] else float("nan")
    field_on_duty_now = (rec["travelling_per_day"] * rec["service_min"] * 60 / rec["now_utilisation"].replace(0, np.nan)).sum()
    total["now_utilisation"] = busy / field_on_duty_now if field_on_duty_now else float("nan")
    total["service_min"] = busy / 60 / total["travelling_per_day"] if total["travelling_per_day"] else float("nan")
    rows = pd.concat([rec, pd.DataFrame([{**total.to_dict(), "pool": "total", "name": "", "binding": ""}])],
                     ignore_index=True)
    return rows


def format_staff_table(table: pd.DataFrame) -> str:
    cols = {"pool": "prefecture", "name": "", "travelling_per_day": "calls/day", "service_min": "job min",
            "field": "field", "field_on_duty_mean": "on duty", "rest_cover": "rest cover", "binding": "binds",
            "bench": "bench", "counter": "counter", "of_them_bench_counter": "of them +bench", "heads": "heads",
            "utilisation": "field util", "now_heads": "now heads", "now_field": "now field",
            "now_utilisation": "now util"}
    out = table[list(cols)].copy()
    for c in ("utilisation", "now_utilisation"):
        out[c] = [pct(x) for x in out[c]]
    for c in ("travelling_per_day", "service_min", "field_on_duty_mean"):
        out[c] = [f"{x:.1f}" for x in out[c]]
    for c in ("field", "rest_cover", "bench", "counter", "of_them_bench_counter", "heads", "now_heads", "now_field"):
        out[c] = [f"{int(x)}" for x in out[c]]
    return out.rename(columns=cols).to_string(index=False)


@click.command("staff")
@source_options("zhejiang")
@click.option("--service-level", default=0.95, show_default=True, type=click.FloatRange(0, 1, min_open=True, max_open=True),
              help="Share of travelling calls to set off within the target.")
@click.option("--target-min", default=DEFAULT_RULES.dispatch_target_s // 60, show_default=True,
              type=click.IntRange(1, 24 * 60), help="The dispatch target, minutes of opening hours.")
@click.option("--roster", "sizing", default="workload", show_default=True, type=click.Choice(SIZINGS),
              help="With --preset: how the current roster is generated (sqrt: the roster before staffing).")
@bad_input_on_dispatch_error
def staff(source: str | None, preset: str | None, seed: int, population: str | None, service_level: float,
          target_min: int, sizing: str) -> None:
    """The recommended roster per prefecture (field, bench, counter, rest-day cover, expected
    field utilisation) beside the current one. SOURCE: sized on its own calls; --preset: on the
    generator's expected calls."""
    params = StaffingParams(service_level=service_level, target_s=target_min * 60)
    if source:
        dataset = read_dataset(source)
        plan = recommend(workload_from_dataset(dataset), params)
    else:
        gen = GeneratorParams()
        gen = replace(gen, roster=replace(gen.roster, sizing=sizing, staffing=params))
        dataset, plan = preset_staffing(preset or "zhejiang", seed, gen, load_population(population))
    w = plan.workload
    click.echo(f"Staffing for {pct(service_level)} of travelling calls set off within {target_min} min; "
               f"workload: {w.source}")
    click.echo(f"clock starts: {pct(w.backlog_share)} at the opening (before it, or booked for the next morning), "
               f"busiest later hour {pct(w.busy_hour_share)}; weekday factors "
               + " ".join(f"{f:.2f}" for f in w.weekday_factors))
    click.echo(format_staff_table(staff_table(dataset, plan)))
    click.echo("field: heads (each rests one weekday, staggered); on duty: an average day; rest cover: heads beyond "
               "the quietest day's need; binds: the opening backlog or the busiest hour's Erlang C; counter: people "
               "holding the counter (of them +bench: bench+counter); field util: travel and work over the net shift "
               "of those on duty, expected; now: the current roster with the same workload.")


COMMANDS = (staff,)
