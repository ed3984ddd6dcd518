"""Rolling-window drift of a served model: counts in the request path, PSI at scrape time.

The window is the last ``slices`` intervals of ``seconds / slices`` seconds each,
aligned to the monotonic clock, the current (partial) interval included: it
always holds the traffic of the last ``seconds - seconds / slices`` to
``seconds`` seconds. Each interval keeps one vector of additive counts (a ring
buffer of ``slices`` vectors); an expired interval is zeroed. A request adds
its rows, missing values and unseen levels to the current interval and queues
its feature matrix and predictions; queued requests are compared with the
training bin edges together, one vectorised comparison of all their rows, when
:data:`BATCH_ROWS` rows are queued and at every scrape (comparing each request on
arrival cost a dozen small numpy calls per request, which a server pays several
times over). So the window keeps no raw rows beyond a bounded queue of the latest
ones, and a request costs a few additions and an append. The vector holds

* for every numeric or boolean input, every categorical indicator and the
  predictions: how many values lie above each training bin edge (numeric: the
  training quantile edges, indicators: 0.5, predictions: the training prediction
  edges); bin counts are their differences;
* missing values per input, unseen levels per categorical input, and rows.

At scrape time the window's sum becomes bin counts: a numeric input's bins are
exactly those of :func:`enet.monitor.drift.bin_counts` on its non-missing values
(a missing value reaches the feature matrix as the input's fill value, so the
window's missing count is taken out of the fill value's side of every edge), a
categorical input's are those of :func:`enet.monitor.profile.categorical_counts`
(its indicators, then rows on none of them); :func:`enet.monitor.drift.psi`
compares them with the training profile, so the values equal what
``enet monitor`` reports for the same rows.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np

from enet.data.encode import ScoreCounts
from enet.monitor.drift import psi
from enet.monitor.monitor import impact_shares
from enet.monitor.profile import feature_slices, has_profile, present_shares

__all__ = ["WindowSpec", "DriftLayout", "DriftWindow", "WindowStats", "InputDrift",
           "BATCH_ROWS"]

#: requests are counted together once this many rows are queued (and at every scrape)
BATCH_ROWS = 1024


@dataclass(frozen=True)
class WindowSpec:
    """The rolling window: ``seconds`` long, advanced in ``slices`` steps."""

    seconds: float = 600.0
    slices: int = 10

    @property
    def slice_seconds(self) -> float:
        return self.seconds / self.slices


@dataclass(frozen=True)
class InputDrift:
    """One input's drift over the window (NaN where the window has no rows)."""

    name: str
    kind: str
    psi: float
    missing_rate: float
    unseen_rate: float | None
    training_missing_rate: float
    impact: float


@dataclass(frozen=True)
class WindowStats:
    rows: int
    seconds: float
    inputs: list[InputDrift]
    prediction_psi: float


class DriftLayout:
    """Which values a model's window counts, against which edges, and where (built once).

    Parameters
    ----------
    model : Model
        A table model with a training profile (:func:`~enet.monitor.profile.has_profile`).
    """

    def __init__(self, model):
        drift = model.profile["drift"]
        entries = drift["inputs"]
        features = feature_slices(model.inputs)
        columns, edges = [], []           # compared columns of X and their edges
        self._inputs = []
        impact = impact_shares(model)
        for c in model.inputs:
            entry = entries[c.name]
            first = len(columns)
            if c.kind == "categorical":
                sl = features[c.name]
                columns.extend(range(sl.start, sl.stop))
                edges.extend(np.array([0.5]) for _ in range(sl.start, sl.stop))
            else:
                columns.append(features[c.name].start)
                edges.append(np.asarray(entry["edges"], dtype=np.float64))
            self._inputs.append((c, range(first, len(columns)),
                                 np.asarray(entry["freq"], dtype=np.float64),
                                 float(entry.get("missing_rate", 0.0)), impact[c.name]))
        edges.append(np.asarray(drift["prediction"]["edges"], dtype=np.float64))
        self._prediction_freq = np.asarray(drift["prediction"]["freq"], dtype=np.float64)
        self._edges = edges
        self.columns = np.array(columns, dtype=np.intp)
        self.edges = np.full((len(edges), max(max(e.size for e in edges), 1)), np.inf)
        for k, e in enumerate(edges):
            self.edges[k, :e.size] = e              # padding with inf: never exceeded
        self.above = self.edges.size               # the vector: counts above each edge,
        self.missing_at = {c.name: self.above + i for i, c in enumerate(model.inputs)}
        cats = [c.name for c in model.inputs if c.kind == "categorical"]
        after = self.above + len(model.inputs)
        self.unseen_at = {name: after + i for i, name in enumerate(cats)}
        self.rows_at = after + len(cats)             # then missing, unseen, rows
        self.size = self.rows_at + 1

    def _bins(self, above: np.ndarray, k: int, present: float,
              fill_count: float = 0.0, fill: float = 0.0) -> np.ndarray:
        """Bin counts of compared value ``k`` from its counts above each edge;
        ``fill_count`` values equal to ``fill`` are taken out."""
        e = self._edges[k]
        over = above[k, :e.size] - fill_count * (fill > e)
        return -np.diff(np.concatenate(([present], over, [0.0])))

    def stats(self, total: np.ndarray, seconds: float) -> WindowStats:
        """PSI, missing and unseen rates from a window's summed count vector."""
        rows = float(total[self.rows_at])
        above = total[:self.above].reshape(self.edges.shape)

        def rate(at: int) -> float:
            return float(total[at]) / rows if rows > 0 else float("nan")

        def index(freq: np.ndarray, counts: np.ndarray) -> float:
            return psi(freq, counts) if freq.size == counts.size else float("nan")

        inputs = []
        for col, ks, freq, train_missing, impact in self._inputs:
            missing = float(total[self.missing_at[col.name]])
            if col.kind == "categorical":
                on = above[list(ks), 0]
                counts = np.append(on, rows - on.sum())
                # levels compared on the rows that have one, as enet monitor does
                freq = present_shares(col, freq, train_missing)
                counts = present_shares(col, counts, missing)
                unseen = rate(self.unseen_at[col.name])
            else:
                counts = self._bins(above, ks[0], rows - missing, missing, col.fill)
                unseen = None
            inputs.append(InputDrift(col.name, col.kind, index(freq, counts),
                                     rate(self.missing_at[col.name]), unseen, train_missing,
                                     impact))
        prediction = index(self._prediction_freq,
                           self._bins(above, len(self._edges) - 1, rows))
        return WindowStats(int(rows), seconds, inputs, prediction)


class DriftWindow:
    """The rolling window of one served model version.

    Parameters
    ----------
    layout : DriftLayout
    spec : WindowSpec
    clock : callable
        Seconds (monotonic); injectable so that tests can move time.
    batch_rows : int
        Queued rows that trigger counting in the request path (memory bound of the
        queue: at most this many rows plus one request's).
    """

    def __init__(self, layout: DriftLayout, spec: WindowSpec, clock=time.monotonic,
                 batch_rows: int = BATCH_ROWS):
        self.layout, self.spec, self.clock, self.batch_rows = layout, spec, clock, batch_rows
        self._queue: list[tuple] = []
        self._queued_rows = 0
        self._slices = np.zeros((spec.slices, layout.size))
        self._above = self._slices[:, :layout.above].reshape(spec.slices, *layout.edges.shape)
        self._step = spec.slice_seconds
        self.started = clock()
        self._slot = int(self.started // self._step)
        self._lock = threading.Lock()        # the shadow is scored in a worker thread

    @classmethod
    def for_model(cls, model, spec: WindowSpec | None) -> "DriftWindow | None":
        """A window for ``model``; None without a spec or a training profile."""
        if spec is None or spec.seconds <= 0 or model.manifest.layout == "matrix" or \
                not has_profile(model):
            return None
        return cls(DriftLayout(model), spec)

    def _advance(self, now: float) -> None:
        slot = int(now // self._step)
        gap = slot - self._slot
        if gap <= 0:
            return
        if gap >= self.spec.slices:
            self._slices[:] = 0.0
        else:
            for s in range(self._slot + 1, slot + 1):
                self._slices[s % self.spec.slices] = 0.0
        self._slot = slot

    def add(self, X: np.ndarray, predictions: np.ndarray, counts: ScoreCounts) -> None:
        """Count one request: its feature matrix, predictions and encoding counts.

        Rows, missing values and unseen levels are added at once; the feature matrix
        and predictions are queued (arrays only, nothing for the garbage collector to
        trace) and compared with the bin edges together, vectorised over all queued
        rows, once ``batch_rows`` rows are queued and at every scrape, each in the
        slice of its arrival.
        """
        L = self.layout
        now = self.clock()
        with self._lock:
            if now // self._step != self._slot:
                self._advance(now)
            row = self._slices[self._slot % self.spec.slices]
            for name, k in counts.missing.items():
                row[L.missing_at[name]] += k
            for name, k in counts.unseen.items():
                row[L.unseen_at[name]] += k
            row[L.rows_at] += X.shape[0]
            self._queue.append((self._slot, X, predictions))
            self._queued_rows += X.shape[0]
            if self._queued_rows >= self.batch_rows:
                self._count_queue()

    def _count_queue(self) -> None:
        """Compare the queued rows with the edges (under the lock, the window advanced);
        a request whose slice has expired is dropped with the slice."""
        queue, self._queue, self._queued_rows = self._queue, [], 0
        oldest = self._slot - self.spec.slices + 1
        by_slot: dict[int, list] = {}
        for item in queue:
            if item[0] >= oldest:
                by_slot.setdefault(item[0], []).append(item)
        L = self.layout
        for slot, items in by_slot.items():
            X = np.concatenate([item[1] for item in items]) if len(items) > 1 else items[0][1]
            # compared values as rows, so that numpy's inner loop runs over the rows
            values = np.empty((L.edges.shape[0], X.shape[0]))
            values[:-1] = X[:, L.columns].T
            values[-1] = np.concatenate([item[2] for item in items])
            over = values[:, None, :] > L.edges[:, :, None]
            self._above[slot % self.spec.slices] += over.view(np.uint8).sum(axis=2,
                                                                           dtype=np.int64)

    def totals(self) -> tuple[np.ndarray, float]:
        """The window's summed counts and the seconds of traffic it spans."""
        now = self.clock()
        with self._lock:
            self._advance(now)
            self._count_queue()
            total = self._slices.sum(axis=0)
            first = (self._slot - self.spec.slices + 1) * self._step
        return total, max(0.0, now - max(first, self.started))

    def stats(self) -> WindowStats:
        """PSI and rates over the window (called at scrape time)."""
        total, seconds = self.totals()
        return self.layout.stats(total, seconds)
