"""The single-run search loop: ask, evaluate, tell, log; the loop, not the strategy, owns the budget.

Every arch a strategy asks for costs one evaluation, duplicates too. Batches move as arrays
(:meth:`Strategy.ask_array` / :meth:`Strategy.tell_array`), so with a cheap evaluation (a
predictor, see :mod:`ofa_bench.search.predictor_evaluate`) the loop stays vectorised. With ``run_dir`` every
evaluation is logged (:mod:`ofa_bench.search.runlog`) and a rerun resumes: the strategy is set
up with the same seed, asked the same batch sizes, checked to propose the logged archs and told
the logged records; only what is missing is evaluated.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ofa_bench.errors import OfaBenchError, PluginError, SpaceError
from ofa_bench.objectives import check_satisfiable, format_constraint, parse_constraint, parse_objectives
from ofa_bench.plugins import registry
from ofa_bench.plugins.guard import plugin_code
from ofa_bench.plugins.interfaces import Constraint, Objective, Strategy
from ofa_bench.search.run_result import RunResult, as_columns
from ofa_bench.search.runlog import RunLog, entry_record
from ofa_bench.space import Arch, SearchSpace, get_space

__all__ = ["EvaluateFn", "RunResult", "evaluator_fn", "run_search"]

#: One record (column name to number, NaN or ``None`` for a failure) per arch, in order.
EvaluateFn = Callable[[list[Arch]], list[dict[str, float]]]

#: Settings a resumed run must share with the logged one.
_SAME = ("strategy", "strategy_params", "seed", "objectives", "constraints", "space", "batch_size")


def run_search(
    strategy: Strategy | str,
    space: SearchSpace | str,
    objectives: Sequence[Objective] | str,
    constraints: Sequence[Constraint | str],
    evaluate: EvaluateFn | Any,
    budget: int,
    seed: int,
    *,
    batch_size: int | None = None,
    strategy_params: Mapping[str, Any] | None = None,
    run_dir: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    meta: Mapping[str, Any] | None = None,
) -> RunResult:
    """Run one search to a budget of evaluations.

    Args:
        strategy: A strategy name (created through the registry) or instance (not yet set up).
        space: The search space or its preset name.
        objectives: Objectives, or their text form (``"accuracy,latency:mmacs"``).
        constraints: Upper limits, as :class:`Constraint` or text (``"macs<=3e6"``).
        evaluate: ``archs -> records`` (see :data:`EvaluateFn`); an object that also has
            ``evaluate_array(array) -> {column: values}`` is called on batch arrays instead.
        budget: Evaluations to spend (>= 1).
        seed: Seed of the strategy.
        batch_size: Archs per ask (default: the strategy's preferred batch size).
        strategy_params: Parameters when ``strategy`` is a name.
        run_dir: Directory for ``run.json`` and ``log.jsonl``; a rerun with the same settings resumes.
        progress: Called with ``(evaluations done, budget)`` after every batch.
        meta: Extra metadata for ``run.json`` (benchmark fingerprint, oracle label...); the keys
            ``fingerprint``, ``oracle`` and ``backends`` must also match when resuming.

    Returns:
        The :class:`RunResult` with every evaluation in order.

    Raises:
        OfaBenchError: Bad settings, a constraint no arch can meet, a strategy that breaks the
            protocol, or a run directory holding a different run.
    """
    space = get_space(space)
    objectives = parse_objectives(objectives) if isinstance(objectives, str) else tuple(objectives)
    constraints = tuple(parse_constraint(c) if isinstance(c, str) else c for c in constraints)
    if int(budget) < 1:
        raise OfaBenchError(f"budget must be >= 1 evaluation; got {budget}")
    check_satisfiable(space, constraints)
    name, strategy, params = _make_strategy(strategy, strategy_params)
    with plugin_code(f"search strategy {name!r}: setup()"):  # its prints go to stderr; a deadline holds it
        strategy.setup(space, objectives, constraints, seed)
        batch = int(batch_size or strategy.preferred_batch_size())
    if batch < 1:
        raise OfaBenchError(f"batch size must be >= 1; got {batch}")
    settings = {
        "format": "ofa-bench-run",
        "version": 1,
        "strategy": name,
        "strategy_class": f"{type(strategy).__module__}:{type(strategy).__qualname__}",
        "strategy_params": params,
        "seed": seed,
        "objectives": [{"column": o.column, "direction": o.direction} for o in objectives],
        "constraints": [format_constraint(c) for c in constraints],
        "budget": int(budget),
        "batch_size": batch,
        "space": space.name,
        **dict(meta or {}),
        "versions": _versions(),
    }
    run = _Run(strategy, space, objectives, constraints, evaluate, batch, progress, int(budget))
    log = None
    if run_dir is not None:
        log = RunLog.open(run_dir)
        _check_same(log, settings, run_dir)
        run.replay(log)
        log.write_meta({**settings, "status": "running"})
    run.search(log)
    if log is not None:
        log.write_meta({**settings, "status": "done"})
    return run.result(settings)


def evaluator_fn(evaluator: Any, backends: Sequence[Any] = ("mmacs",)) -> EvaluateFn:
    """Records from an :class:`ofa_bench.evaluate.Evaluator`: accuracy, loss, MACs, params, latencies.

    Args:
        evaluator: An open evaluator.
        backends: Hardware backends for the ``latency:<name>`` columns.
    """
    skip = {"arch", "r", "wall_time", "cached", "fingerprint", "oracle", "split"}

    def evaluate(archs: list[Arch]) -> list[dict[str, float]]:
        df = evaluator.evaluate(archs, tuple(backends))
        columns = [c for c in df.columns if c not in skip]
        return [{c: float(v) for c, v in zip(columns, row)} for row in df[columns].itertuples(index=False)]

    return evaluate


# ----- internals ----------------------------------------------------------------------------------


def _make_strategy(strategy: Strategy | str, params: Mapping[str, Any] | None) -> tuple[str, Strategy, dict]:
    if isinstance(strategy, str):
        created = registry.create("strategy", strategy, **dict(params or {}))
        name = strategy
    elif isinstance(strategy, Strategy):
        if params:
            raise PluginError("strategy_params given with a strategy instance; they apply only when creating by name")
        created, name = strategy, strategy.name or type(strategy).__name__
    else:
        raise PluginError(f"expected a strategy name or Strategy instance; got {strategy!r}")
    shown = {k: _jsonable(v) for k, v in sorted(vars(created).items()) if not k.startswith("_")}
    return name, created, shown


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value, allow_nan=False)
        return value
    except (TypeError, ValueError):
        return repr(value)


def _versions() -> dict[str, str]:
    from ofa_bench.version import __version__

    versions = {"ofa-bench": __version__, "python": sys.version.split()[0], "numpy": np.__version__}
    for module in ("pymoo", "optuna", "sklearn", "torch"):
        if module in sys.modules:  # only what this run actually used
            versions[module] = str(getattr(sys.modules[module], "__version__", "?"))
    return versions


def _check_same(log: RunLog, settings: Mapping[str, Any], run_dir: str | Path) -> None:
    if not log.meta or not log.entries:
        return  # nothing evaluated there yet (e.g. a run that failed before its first batch): nothing to keep
    keys = [*_SAME, *(k for k in ("fingerprint", "oracle", "backends") if k in settings or k in log.meta)]
    for key in keys:
        old, new = log.meta.get(key), json.loads(json.dumps(settings.get(key)))
        if old != new:
            raise OfaBenchError(
                f"{str(run_dir)!r} holds another run ({key}: {old!r} there, {new!r} now); "
                "use another output directory, or the same settings to resume"
            )
    if len(log.entries) > settings["budget"]:
        raise OfaBenchError(
            f"{str(run_dir)!r} already holds {len(log.entries)} evaluations, more than the budget "
            f"{settings['budget']}; use a budget >= {len(log.entries)}"
        )


class _Run:
    """The state of one run: the strategy, what was evaluated, and the clocks."""

    def __init__(
        self,
        strategy: Strategy,
        space: SearchSpace,
        objectives: tuple[Objective, ...],
        constraints: tuple[Constraint, ...],
        evaluate: Any,
        batch: int,
        progress: Callable[[int, int], None] | None,
        budget: int,
    ) -> None:
        self.strategy, self.space, self.evaluate = strategy, space, evaluate
        self.needed = [o.column for o in objectives] + [c.column for c in constraints]
        self.batch, self.progress, self.budget = batch, progress, budget
        self.arrays: list[np.ndarray] = []
        self.records: list[dict[str, np.ndarray]] = []
        self.times: list[np.ndarray] = []  # (n, 4): eval_s, strategy_s, elapsed_s, cpu_s
        self.batches: list[np.ndarray] = []
        self.done = 0
        self.n_batches = 0
        self.wall0, self.cpu0 = time.perf_counter(), time.process_time()
        self.cpu_read = self.wall0  # perf_counter() when the CPU clock was last read
        self.elapsed_offset = self.cpu_offset = 0.0
        self.logging = False  # entries are built only for a log: a run without one stays array-only

    # ----- resume ---------------------------------------------------------------------------------

    def replay(self, log: RunLog) -> None:
        """Bring the strategy to where the log ends, evaluating the rest of a half-logged batch."""
        entries = log.entries
        self.logging = True
        if not entries:
            return
        old_budget = int(log.meta.get("budget", self.budget))
        groups: list[list[dict]] = []
        for entry in entries:
            if groups and entry.get("batch") == groups[-1][0].get("batch"):
                groups[-1].append(entry)
            else:
                groups.append([entry])
        for j, group in enumerate(groups):
            last = j == len(groups) - 1
            n = len(group) if not last or log.done else min(self.batch, old_budget - self.done)
            n = max(n, len(group))
            X = self._ask(n)
            logged = self.space.to_array([self.space.from_dict(e["arch"]) for e in group])
            if not np.array_equal(X[: len(group)], logged):
                first = int(np.flatnonzero((X[: len(group)] != logged).any(axis=1))[0])
                raise OfaBenchError(
                    f"cannot resume: the strategy now proposes another arch at evaluation {group[first]['n']} than "
                    "the log holds (not deterministic for its seed, or its code changed); use a fresh output directory"
                )
            records = as_columns([e.get("record", {}) for e in group], len(group))
            times = np.array([[e.get("time", {}).get(k, np.nan) for k in _TIME] for e in group], dtype=np.float64)
            self.n_batches = int(group[0].get("batch") or self.n_batches + 1)
            self.elapsed_offset = float(np.nanmax(times[:, 2], initial=self.elapsed_offset))
            self.cpu_offset = float(np.nanmax(times[:, 3], initial=self.cpu_offset))
            self._keep(X[: len(group)], records, times)
            if n > len(group):  # the crash came mid-batch: measure the rest of it now
                self.wall0, self.cpu0 = time.perf_counter(), time.process_time()
                rest, rest_records, eval_s = self._evaluate(X[len(group) :])
                records = _concat_columns(records, rest_records, len(group), n - len(group))
                tell_s = self._tell(X, records)
                entries = self._entries(rest, rest_records, eval_s, tell_s)
                log.append(entries)
            else:
                self._tell(X, records)
        self.wall0, self.cpu0 = time.perf_counter(), time.process_time()

    # ----- search ---------------------------------------------------------------------------------

    def search(self, log: RunLog | None) -> None:
        """Spend the rest of the budget."""
        self.logging = log is not None
        if self.progress is not None:
            self.progress(self.done, self.budget)
        while self.done < self.budget:
            n = min(self.batch, self.budget - self.done)
            start = time.perf_counter()
            X = self._ask(n)
            ask_s = time.perf_counter() - start
            self.n_batches += 1
            X, records, eval_s = self._evaluate(X)
            tell_s = self._tell(X, records)
            entries = self._entries(X, records, eval_s, ask_s + tell_s)
            if log is not None:
                log.append(entries)
            if self.progress is not None:
                self.progress(self.done, self.budget)

    def _ask(self, n: int) -> np.ndarray:
        name = self.strategy.name or type(self.strategy).__name__
        try:
            with plugin_code(f"search strategy {name!r}: ask({n})"):
                X = np.asarray(self.strategy.ask_array(n))
        except SpaceError as exc:  # ask() returned something other than archs (dicts, say)
            raise PluginError(f"strategy {name!r}: ask({n}) did not return archs of {self.space.name}: {exc}") from None
        if X.ndim != 2 or X.shape[0] != n:
            raise PluginError(f"strategy {name!r} proposed {X.shape[0] if X.ndim else 0} archs when asked for {n}")
        try:
            return self.space.normalise(self.space.validate_array(X))
        except OfaBenchError as exc:
            raise PluginError(f"strategy {name!r} proposed an arch outside {self.space.name}: {exc}") from None

    def _evaluate(self, X: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray], float]:
        start = time.perf_counter()
        if hasattr(self.evaluate, "evaluate_array"):
            columns = self.evaluate.evaluate_array(X)
            records = {k: np.asarray(v, dtype=np.float64).reshape(len(X)) for k, v in columns.items()}
        else:
            rows = list(self.evaluate(self.space.from_array(X)))
            if len(rows) != len(X):
                raise OfaBenchError(f"evaluate returned {len(rows)} records for {len(X)} archs")
            records = as_columns(rows, len(X))
        missing = [c for c in self.needed if c not in records]
        if missing:
            raise OfaBenchError(
                f"column {missing[0]!r} is not in the evaluation records; columns: {', '.join(records) or 'none'}"
            )
        return X, records, time.perf_counter() - start

    def _tell(self, X: np.ndarray, records: dict[str, np.ndarray]) -> float:
        start = time.perf_counter()
        with plugin_code(f"search strategy {self.strategy.name or type(self.strategy).__name__!r}: tell()"):
            self.strategy.tell_array(X, records)
        return time.perf_counter() - start

    def _entries(self, X: np.ndarray, records: dict[str, np.ndarray], eval_s: float, strategy_s: float) -> list[dict]:
        n = len(X)
        now = time.perf_counter()
        elapsed = self.elapsed_offset + now - self.wall0
        # The process's CPU clock sums every thread's and can take milliseconds to read on a busy
        # machine: a run without a log reads it at most every _CPU_EVERY_S and at its last batch,
        # and result() interpolates the batches between in wall time (only the last is used anyway).
        cpu = np.nan
        if self.logging or now - self.cpu_read >= _CPU_EVERY_S or self.done + n >= self.budget:
            cpu, self.cpu_read = self.cpu_offset + time.process_time() - self.cpu0, now
        times = np.empty((n, 4))
        times[:] = (eval_s / n, strategy_s / n, elapsed, cpu)
        first = self.done
        self._keep(X, records, times)
        if not self.logging:
            return []
        archs = self.space.from_array(X)
        columns = list(records)
        values = np.column_stack([records[c] for c in columns]) if columns else np.empty((n, 0))
        return [
            {
                "n": first + i + 1,
                "batch": self.n_batches,
                "arch": archs[i].to_dict(),
                "record": entry_record(dict(zip(columns, values[i].tolist()))),
                "time": dict(zip(_TIME, (eval_s / n, strategy_s / n, elapsed, cpu))),
            }
            for i in range(n)
        ]

    def _keep(self, X: np.ndarray, records: dict[str, np.ndarray], times: np.ndarray) -> None:
        self.arrays.append(X)
        self.records.append(records)
        self.times.append(times)
        self.batches.append(np.full(len(X), self.n_batches, dtype=np.int64))
        self.done += len(X)

    def result(self, settings: dict[str, Any]) -> RunResult:
        """Everything evaluated, in order."""
        result = RunResult.from_batches(self.space, settings, self.arrays, self.records, self.times, self.batches)
        times = result.times
        unread = np.isnan(times[:, 3])
        if unread.any() and len(times):  # batches whose CPU clock was not read: interpolated in wall time
            known = ~unread
            wall = np.concatenate([[self.elapsed_offset], times[known, 2]])
            cpu = np.concatenate([[self.cpu_offset], times[known, 3]])
            times[unread, 3] = np.interp(times[unread, 2], wall, cpu)
        return result


_TIME = ("eval_s", "strategy_s", "elapsed_s", "cpu_s")
#: Seconds between readings of the process's CPU clock in a run without a log.
_CPU_EVERY_S = 0.05


def _concat_columns(a: dict[str, np.ndarray], b: dict[str, np.ndarray], na: int, nb: int) -> dict[str, np.ndarray]:
    out = {}
    for column in dict.fromkeys([*a, *b]):
        left = a.get(column, np.full(na, np.nan))
        right = b.get(column, np.full(nb, np.nan))
        out[column] = np.concatenate([left, right])
    return out
