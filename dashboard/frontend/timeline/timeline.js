// The board's drag-and-drop timeline (dashboard/dragboard.py builds its data, Streamlit's
// components v2 mounts it): a movable job's work bar dragged to another technician's row and
// time, snapped to the quarter hour, is sent back once as the trigger "drop"; the board fills its
// move form with it. Nothing here decides a move: the service does, when the form is submitted.
// Self-contained: no import, no URL.

const DAY_S = 86400;
const DRAG_PX = 4; // a press that moves less than this is a click (hover), not a drag

function hhmm(s) {
  const d = ((Math.round(s) % DAY_S) + DAY_S) % DAY_S;
  const h = Math.floor(d / 3600), m = Math.floor((d % 3600) / 60);
  return `${String(h).padStart(2, "0")}:${String(m).padStart(2, "0")}`;
}

function el(tag, cls, parent) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (parent) parent.appendChild(e);
  return e;
}

export default function ({ parentElement, data, setTriggerValue }) {
  const d = data || {};
  const rows = d.rows || [];
  const text = d.text || {};
  const lo = d.lo_s, hi = d.hi_s, slot = d.slot_s;
  const pxPerS = d.hour_px / 3600;
  const laneW = Math.ceil((hi - lo) * pxPerS);
  const colour = Object.fromEntries((d.kinds || []).map(([k, , c]) => [k, c]));
  const kindName = Object.fromEntries((d.kinds || []).map(([k, n]) => [k, n]));
  const x = (s) => (s - lo) * pxPerS;

  const kept = parentElement.__tlScroll; // the scroll position survives a redraw
  // Only our own root is replaced: Streamlit keeps the component's <style> in parentElement too.
  for (const old of parentElement.querySelectorAll(".tl")) old.remove();
  const root = el("div", "tl", parentElement);
  root.style.setProperty("--row-px", `${d.row_px}px`);
  root.style.setProperty("--label-px", `${d.label_px}px`);

  const legend = el("div", "tl-legend", root);
  for (const [k, name, c] of d.kinds || []) {
    const item = el("span", "", legend);
    el("i", "", item).style.background = c;
    item.append(name);
  }
  el("span", "tl-hint", legend).textContent = text.hint || "";

  const scroll = el("div", "tl-scroll", root);
  const grid = el("div", "tl-grid", scroll);
  grid.style.width = `${d.label_px + laneW}px`;
  const axis = el("div", "tl-axis", grid);
  el("div", "tl-label", axis).textContent = text.axis || "";
  const axisLane = el("div", "tl-lane", axis);
  axisLane.style.width = `${laneW}px`;
  for (let s = Math.ceil(lo / 3600) * 3600; s < hi; s += 3600) {
    const tick = el("div", "tl-tick", axisLane);
    tick.style.left = `${x(s)}px`;
    tick.textContent = hhmm(s);
  }

  const rowEls = [];
  let group = null;
  rows.forEach((r, i) => {
    if (r.group !== group) {
      group = r.group;
      const g = el("div", "tl-group", grid); // a centre's name: as wide as it needs, no lane
      el("div", "tl-label", g).textContent = group;
    }
    const row = el("div", "tl-row", grid);
    row.dataset.tech = r.id;
    const label = el("div", "tl-label", row);
    label.textContent = r.label;
    label.title = r.label;
    const lane = el("div", "tl-lane", row);
    lane.style.width = `${laneW}px`;
    rowEls[i] = { row, lane, r };
  });

  for (const [i, kind, a, b, job] of d.segs || []) {
    const seg = el("div", `tl-seg tl-${kind}`, rowEls[i].lane);
    seg.style.left = `${x(a)}px`;
    seg.style.width = `${Math.max(1, (b - a) * pxPerS)}px`;
    seg.style.background = colour[kind] || "#999";
    seg.dataset.kind = kind;
    seg.dataset.tech = rowEls[i].r.id;
    seg.dataset.start = a;
    seg.dataset.end = b;
    if (job) seg.dataset.job = job;
    const info = job && d.jobs[job];
    if (kind === "work" && info && info.movable) seg.classList.add("tl-movable");
    seg.setAttribute("aria-label", `${kindName[kind] || kind} ${job || ""} ${hhmm(a)}-${hhmm(b)}`);
  }

  // The move the board's form proposes (a drop, or a pick by clicking): where the bar would go.
  const p = d.pending;
  const bar = p && grid.querySelector(`.tl-seg.tl-work[data-job="${CSS.escape(p.request_id)}"]`);
  const to = p && rowEls.find((re) => re.r.id === p.technician_id);
  if (bar && to) {
    const g = el("div", "tl-ghost tl-pending", grid);
    g.style.width = bar.style.width;
    g.style.background = bar.style.background;
    g.style.left = `${d.label_px + x(p.start_s)}px`;
    g.style.top = `${to.row.offsetTop + (d.row_px - 14) / 2}px`;
    el("b", "", g).textContent = `${p.request_id} → ${p.technician_id} ${hhmm(p.start_s)}`;
    bar.classList.add("tl-picked");
  }

  if (d.now_s != null && d.now_s >= lo && d.now_s <= hi) {
    el("div", "tl-now", grid).style.left = `${d.label_px + x(d.now_s)}px`;
  }

  // Hover: the job, its customer window and state (and why it cannot be dragged).
  const tip = el("div", "tl-tip", root);
  tip.hidden = true;
  const describe = (seg) => {
    const job = seg.dataset.job, kind = seg.dataset.kind;
    const lines = [`${kindName[kind] || kind} ${hhmm(+seg.dataset.start)}–${hhmm(+seg.dataset.end)}`,
                   `${text.technician}: ${seg.dataset.tech}`];
    const info = job && d.jobs[job];
    if (info) {
      lines.unshift(`${text.job}: ${job}`);
      lines.push(`${text.window}: ${info.window}`, `${text.state}: ${info.state_label}`);
      if (kind === "work") lines.push(info.movable ? text.drag_me : text.not_movable);
    } else if (job) {
      lines.unshift(job);
    }
    return lines.join("\n");
  };
  const showTip = (ev, content) => {
    tip.textContent = content;
    tip.hidden = false;
    const w = tip.offsetWidth, h = tip.offsetHeight;
    tip.style.left = `${Math.min(ev.clientX + 14, window.innerWidth - w - 4)}px`;
    tip.style.top = `${ev.clientY + 16 + h > window.innerHeight ? ev.clientY - h - 10 : ev.clientY + 16}px`;
  };
  const onHover = (ev) => {
    if (drag) return;
    const seg = ev.target.closest && ev.target.closest(".tl-seg");
    if (seg) showTip(ev, describe(seg));
    else tip.hidden = true;
  };
  const onLeave = () => { if (!drag) tip.hidden = true; };

  // Dragging a movable work bar: a ghost follows the pointer, snapped to a row and a quarter hour.
  let drag = null;
  const target = (ev) => {
    const top = grid.getBoundingClientRect().top;
    const y = ev.clientY - top;
    let hit = null;
    for (const re of rowEls) {
      const t = re.row.offsetTop;
      if (y >= t && y < t + d.row_px) { hit = re; break; }
    }
    const laneLeft = rowEls[0].lane.getBoundingClientRect().left;
    const raw = lo + (ev.clientX - laneLeft - drag.grab) / pxPerS;
    const snapped = Math.round(raw / slot) * slot;
    const start = Math.min(Math.max(snapped, Math.ceil(lo / slot) * slot), hi - slot);
    return { hit, start };
  };
  const place = (ev) => {
    const { hit, start } = target(ev);
    for (const re of rowEls) re.row.classList.remove("tl-target", "tl-barred");
    drag.to = null;
    if (!hit) { drag.ghost.style.display = "none"; return; }
    const barred = drag.area != null && hit.r.area != null && hit.r.area !== drag.area;
    hit.row.classList.add(barred ? "tl-barred" : "tl-target");
    const g = drag.ghost;
    g.style.display = "";
    g.classList.toggle("tl-no", barred);
    g.style.left = `${d.label_px + x(start)}px`;
    g.style.top = `${hit.row.offsetTop + (d.row_px - 14) / 2}px`;
    g.firstChild.textContent = barred ? text.other_area.replace("{tech}", hit.r.id)
                                      : `${drag.job} → ${hit.r.id} ${hhmm(start)}`;
    if (!barred) drag.to = { tech: hit.r.id, start };
    // Near the scroller's edge: scroll the day along.
    const box = scroll.getBoundingClientRect();
    if (ev.clientX > box.right - 40) scroll.scrollLeft += 24;
    else if (ev.clientX < box.left + d.label_px + 40) scroll.scrollLeft -= 24;
  };
  const onDown = (ev) => {
    const seg = ev.target.closest && ev.target.closest(".tl-seg.tl-work");
    if (!seg || ev.button !== 0) return;
    const info = d.jobs[seg.dataset.job];
    if (!info || !info.movable) { showTip(ev, describe(seg)); return; }
    ev.preventDefault();
    const box = seg.getBoundingClientRect();
    drag = { seg, job: seg.dataset.job, from: seg.dataset.tech, start0: +seg.dataset.start, area: info.area,
             grab: ev.clientX - box.left, x0: ev.clientX, y0: ev.clientY, moving: false, to: null, ghost: null };
    grid.setPointerCapture && grid.setPointerCapture(ev.pointerId);
  };
  const onMove = (ev) => {
    if (!drag) return onHover(ev);
    if (!drag.moving) {
      if (Math.abs(ev.clientX - drag.x0) + Math.abs(ev.clientY - drag.y0) < DRAG_PX) return;
      drag.moving = true;
      tip.hidden = true;
      for (const old of grid.querySelectorAll(".tl-pending")) old.remove();
      root.classList.add("tl-dragging");
      const g = el("div", "tl-ghost", grid);
      g.style.width = drag.seg.style.width;
      g.style.background = drag.seg.style.background;
      el("b", "", g);
      drag.ghost = g;
    }
    place(ev);
  };
  const finish = (ev, cancelled) => {
    if (!drag) return;
    const done = drag;
    drag = null;
    root.classList.remove("tl-dragging");
    for (const re of rowEls) re.row.classList.remove("tl-target", "tl-barred");
    if (grid.hasPointerCapture && grid.hasPointerCapture(ev.pointerId)) grid.releasePointerCapture(ev.pointerId);
    if (!done.moving) return;
    const to = cancelled ? null : done.to;
    if (!to || (to.tech === done.from && to.start === done.start0)) { done.ghost.remove(); return; }
    // Kept in place until the board redraws the timeline with the form filled below it.
    setTriggerValue("drop", { request_id: done.job, technician_id: to.tech, start_s: to.start,
                              drop_id: `${Date.now()}-${Math.random().toString(36).slice(2, 8)}` });
  };
  const onUp = (ev) => finish(ev, false);
  const onCancel = (ev) => finish(ev, true);
  const onKey = (ev) => { if (ev.key === "Escape" && drag) finish(ev, true); };
  const onScroll = () => { parentElement.__tlScroll = scroll.scrollLeft; };

  const listeners = [[grid, "pointerdown", onDown], [grid, "pointermove", onMove], [grid, "pointerup", onUp],
                     [grid, "pointercancel", onCancel], [grid, "pointerleave", onLeave], [window, "keydown", onKey],
                     [scroll, "scroll", onScroll]];
  for (const [target, name, handler] of listeners) target.addEventListener(name, handler);
  // First shown: from the whole hour two hours before the clock (a redraw keeps where one was).
  const early = d.now_s != null ? Math.max(lo, Math.floor(d.now_s / 3600 - 2) * 3600) : lo;
  scroll.scrollLeft = kept != null ? kept : x(early);

  return () => {
    for (const [target, name, handler] of listeners) target.removeEventListener(name, handler);
  };
}
