"""A vectorised evaluation by a fitted predictor: its accuracy plus analytic costs, per batch array.

:class:`PredictorEvaluate` answers whole batch arrays at once, with no cache and no
:class:`~ofa_bench.space.Arch` objects, so a search against a predictor (the search-cost
benchmark, quick strategy comparisons) costs what the strategy and the predictor cost. Runs that
should be recorded against a benchmark use :class:`ofa_bench.evaluate.Evaluator` with ``oracle=``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ofa_bench.costs import array_costs
from ofa_bench.errors import OfaBenchError
from ofa_bench.objectives import ANALYTIC_COLUMNS
from ofa_bench.plugins.guard import plugin_code
from ofa_bench.plugins.interfaces import Predictor
from ofa_bench.space import Arch, SearchSpace

__all__ = ["PredictorEvaluate"]


class PredictorEvaluate:
    """Records of ``accuracy`` (from a fitted predictor) and every analytic column, per batch.

    Args:
        space: The search space.
        predictor: A fitted predictor of accuracy. Predictors that take batch arrays (the
            built-ins do) are given arrays; others are given archs.
        column: The record column the predictor fills.
    """

    def __init__(self, space: SearchSpace, predictor: Predictor, column: str = "accuracy") -> None:
        self.space = space
        self.predictor = predictor
        self.column = column
        self._columns: tuple[tuple[str, int, float], ...] | None = None

    @property
    def label(self) -> str:
        """The oracle label, as the evaluator writes it: the predictor's own, else ``surrogate:<predictor class>``."""
        return getattr(self.predictor, "oracle_label", None) or f"surrogate:{type(self.predictor).__name__}"

    def predict(self, array: np.ndarray) -> np.ndarray:
        """The predictor's values for a batch array."""
        # A predictor that declares it takes batch arrays gets the array; any other gets archs.
        batch = array if getattr(self.predictor, "accepts_arrays", False) else self.space.from_array(array)
        with plugin_code(f"oracle {self.label!r}: predict()"):
            values = self.predictor.predict(batch)
        return self._check(values, len(array))

    def _check(self, values: object, n: int) -> np.ndarray:
        out = np.asarray(values, dtype=np.float64).reshape(-1)
        if out.shape != (n,):
            raise OfaBenchError(f"{type(self.predictor).__name__}.predict returned {out.size} values for {n} archs")
        return out

    def evaluate_array(self, array: np.ndarray) -> dict[str, np.ndarray]:
        """Records of a batch array, column-wise."""
        records = {self.column: self.predict(array)}
        records.update(self._analytic(array))
        return records

    def _analytic(self, array: np.ndarray) -> dict[str, np.ndarray]:
        """:func:`~ofa_bench.objectives.analytic_columns` of every analytic column, the costs counted once."""
        columns = self._columns
        if columns is None:  # the first batch: which columns, and from which cost at which scale
            columns = self._columns = tuple((c, *ANALYTIC_COLUMNS[c]) for c in ANALYTIC_COLUMNS)
        need = {index for _, index, _ in columns}
        costs = array_costs(self.space, np.asarray(array, dtype=np.int64), macs=0 in need, params=1 in need)
        as_float = [None if c is None else c.astype(np.float64) for c in costs]
        return {c: as_float[index] * scale if scale != 1.0 else as_float[index].copy() for c, index, scale in columns}

    def __call__(self, archs: Sequence[Arch]) -> list[dict[str, float]]:
        """Records of archs, one dict per arch (the :data:`~ofa_bench.search.loop.EvaluateFn` form)."""
        columns = self.evaluate_array(self.space.to_array(archs))
        names = list(columns)
        return [dict(zip(names, row)) for row in np.column_stack([columns[c] for c in names]).tolist()]
