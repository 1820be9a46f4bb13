"""A day's call legs, priced in bulk for a live area before the day's calls come.

A live insertion prices the new call's legs to and from every node of the area, at the call's
hour (``Insertion._price_rows``), one ask of the travel model per call. A simulation knows at
the day's start which calls will be offered to an area: the book prices, per departure hour,
the legs between those calls and every point the area may hold that day (its nodes at the
start and those calls) in one ask each way, and a call's row is then read from it. The legs
are the travel model's own, asked with the same points and hour; a call or a node the book
does not hold is asked of the model as before.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import numpy as np

from dispatch.travel import Travel, legs_per_class

Key = tuple[float, float, int]  # a call's point and the departure (s of the day) that prices its legs


class LegBook:
    """The legs between ``calls`` (keys, in the order they will come) and ``points`` (the area's
    nodes at the day's start, then the calls' points), per speed class of ``travel``. The calls
    are asked per departure hour when the model prices a departure by its hour
    (``depart_resolution_s``; else per second), each against the points up to the hour's
    last call: a call finds as nodes only points that came before it."""

    def __init__(self, travel: Travel, points: Iterable[tuple[float, float]], calls: Iterable[Key]) -> None:
        keys = list(dict.fromkeys(calls))
        self._col: dict[tuple[float, float], int] = {}
        for p in points:
            self._col.setdefault(p, len(self._col))
        top = len(self._col) - 1  # the area's nodes at the start are every call's columns
        for x, y, _ in keys:
            self._col.setdefault((x, y), len(self._col))
        lon = np.array([p[0] for p in self._col])
        lat = np.array([p[1] for p in self._col])
        step = getattr(travel, "depart_resolution_s", 1)
        by_depart: dict[int, list[Key]] = defaultdict(list)
        seen: dict[Key, int] = {}  # each call's last column: every point up to it (it may stand at an earlier one)
        for k in keys:
            by_depart[k[2] // step].append(k)
            top = seen[k] = max(top, self._col[k[0], k[1]])
        # key -> (times from the calls, to them, distances from, to; its row; the columns priced)
        self._row: dict[Key, tuple[tuple[np.ndarray, ...], int, int]] = {}
        classes = travel.speed_classes
        for group in by_depart.values():
            upto = 1 + max(seen[k] for k in group)
            glon = np.array([k[0] for k in group])[:, None]
            glat = np.array([k[1] for k in group])[:, None]
            plon, plat = lon[None, :upto], lat[None, :upto]
            out = legs_per_class(travel, glon, glat, plon, plat, classes, group[0][2])
            back = legs_per_class(travel, plon, plat, glon, glat, classes, group[0][2])
            # [class, call, point]; the distances are the last class's (the area keeps one)
            legs = (np.stack([t for t, _ in out]), np.stack([t for t, _ in back]), out[-1][1], back[-1][1])
            for i, k in enumerate(group):
                self._row[k] = (legs, i, upto)
        self._nodes = np.zeros(len(self._col), dtype=np.intp)  # the column of each node read so far
        self._known = 0  # how many nodes that is
        self._last = -1  # the highest of their columns

    def legs(self, key: Key, lon: np.ndarray, lat: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
        """The legs between the call ``key`` and each of the nodes at ``lon``/``lat``: the times
        from the call and to it ([speed class, node]), then the distances from it and to it (the
        last class's: a ferry route's distance may differ by class, and the area keeps one); None
        when the book lacks the call or a node. The nodes are the area's, which only grow: all
        but the last (the call itself) never move, so their columns are looked up once."""
        got = self._row.get(key)
        if got is None:
            return None
        n = len(lon) - 1
        if n >= len(self._nodes):  # more nodes than points (calls at one point): room for them
            self._nodes = np.concatenate([self._nodes, np.zeros(n + 1, dtype=np.intp)])
        if self._known < n:
            for x, y in zip(lon[self._known: n].tolist(), lat[self._known: n].tolist()):
                c = self._col.get((x, y))
                if c is None:
                    return None  # a node the book has no column for: asked of the model
                self._nodes[self._known] = c
                self._known += 1
                self._last = max(self._last, c)
        (t_from, t_to, d_from, d_to), i, upto = got
        if self._last >= upto:
            return None  # a node that came before its turn: asked of the model
        self._nodes[n] = self._col[key[0], key[1]]
        at = self._nodes[: n + 1]
        return t_from[:, i, at], t_to[:, i, at], d_from[i, at], d_to[i, at]
