"""Optuna's TPESampler for a fixed space of categorical parameters, with its per-trial work done faster.

The sampler is Optuna's own (start-up trials, the gamma split, multi-objective ranking with
hypervolume tie-breaks, constraints, weights, candidate scoring); four steps it repeats for
every trial are answered here instead, each with the numbers Optuna would compute, so a seed
gives the same trials as with :class:`optuna.samplers.TPESampler`:

- the relative search space: Optuna intersects the distributions of every trial and deep-copies
  the result; here it is the space every trial is asked with, sorted by name and without
  single-choice parameters as Optuna's;
- the parameters of finished trials as choice indices: Optuna converts every finished trial
  again for every new trial; a finished trial never changes, so here each is converted once;
- the Parzen estimators: Optuna's mixture keeps an array per parameter and loops over the
  parameters in Python, which with 26 parameters costs more than its arithmetic.
  :class:`CategoricalParzenEstimator` computes the same kernels, draws the same random numbers in
  the same order and adds the same terms in the same order. A sampler uses it only after
  checking on probe data that it reproduces the installed Optuna's estimator bit for bit;
  otherwise (another Optuna version, a non-categorical parameter) Optuna's estimator runs;
- the split of the finished trials into good and bad ones: Optuna scores every trial's
  constraints again for every new trial; here each finished trial is scored once
  (:meth:`FixedSpaceTPE._split`; the ranking of feasible trials is Optuna's own function).
  This step, and the one-update ask of :mod:`ofa_bench_strategies._tpe_trials`, are used only after a
  small seeded study run once per process proposes exactly what Optuna's sampler proposes
  (:attr:`FixedSpaceTPE.fast_paths`); with the constant liar Optuna's split runs.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any

import numpy as np
from optuna.distributions import BaseDistribution, CategoricalDistribution
from optuna.samplers import TPESampler
from optuna.samplers._tpe.parzen_estimator import _ParzenEstimator
from optuna.trial import TrialState

__all__ = ["CategoricalParzenEstimator", "FixedSpaceTPE"]


class CategoricalParzenEstimator(_ParzenEstimator):
    """Optuna's multivariate Parzen estimator over categorical parameters, batched across parameters.

    A kernel's weights for a parameter with ``C`` choices are one of ``C + 1`` rows: the prior
    weight spread over the choices plus one at the observed choice, normalised (or, for the prior
    kernel, the prior weight alone). So each choice count gets one small table of those rows,
    computed as Optuna computes each kernel's row, and a kernel is just its observed indices.

    Args:
        observations: Parameter name to the choice indices of the observed trials.
        search_space: Parameter name to its distribution (all categorical).
        parameters: Optuna's estimator parameters (prior weight, weights function).
        predetermined_weights: Kernel weights instead of ``parameters.weights`` (multi-objective below).
    """

    def __init__(
        self,
        observations: dict[str, np.ndarray],
        search_space: dict[str, BaseDistribution],
        parameters: Any,
        predetermined_weights: np.ndarray | None = None,
    ) -> None:
        if parameters.prior_weight < 0:
            raise ValueError(f"prior_weight must be >= 0; got {parameters.prior_weight}")
        self._search_space = search_space
        names = list(search_space)
        sizes = [len(search_space[name].choices) for name in names]
        X = np.array([observations[name] for name in names]).T
        n = len(X)
        if predetermined_weights is not None:
            weights = predetermined_weights
        else:
            weights = self._call_weights_func(parameters.weights, n)
        weights = np.array([1.0]) if n == 0 else np.append(weights, [parameters.prior_weight])
        weights /= weights.sum()
        self._weights = weights
        self._sizes = sizes
        # Each kernel's row of the table per parameter: the observed index; C for the prior kernel.
        self._rows = np.empty((n + 1, len(names)), dtype=np.int64)
        self._rows[:n] = X.astype(int)
        self._rows[n] = sizes
        self._tables: dict[int, np.ndarray] = {}
        for size in set(sizes):
            if n == 0:  # Optuna's estimator without observations: the uniform distribution
                table = np.full((size + 1, size), 1.0 / size)
            else:
                table = np.full((size + 1, size), parameters.prior_weight / (n + 1))
                table[np.arange(size), np.arange(size)] += 1
                sums = table.sum(axis=1, keepdims=True)
                table /= np.where(sums == 0, 1, sums)
            self._tables[size] = table
        self._groups = [(size, np.flatnonzero(np.asarray(sizes) == size)) for size in sorted(self._tables)]
        self._rows_by_param = np.ascontiguousarray(self._rows.T)

    def sample(self, rng: np.random.RandomState, size: int) -> dict[str, np.ndarray]:
        """``size`` draws from the mixture, as choice indices per parameter."""
        active = rng.choice(len(self._weights), p=self._weights, size=size)
        # Optuna draws ``size`` uniforms per parameter, parameter after parameter: the same stream.
        quantiles = rng.rand(len(self._sizes), size)
        rows = self._rows[active]
        out = np.empty((size, len(self._sizes)))
        for choices, cols in self._groups:
            cumulative = np.cumsum(self._tables[choices][rows[:, cols]], axis=-1)
            cumulative[:, :, -1] = 1  # as Optuna: no rounding error past the last choice
            out[:, cols] = np.sum(cumulative < quantiles[cols].T[:, :, None], axis=-1)
        return {name: out[:, j] for j, name in enumerate(self._search_space)}

    def log_pdf(self, samples_dict: dict[str, np.ndarray]) -> np.ndarray:
        """Log density of each sample under the mixture.

        The terms are Optuna's (the log of each kernel's weight of the sample's choice), added in
        its order: from zeros, parameter after parameter, then the log kernel weights. They are
        looked up as whole rows: for each parameter a ``(choices, kernels)`` matrix of the log
        weights every kernel gives every choice, from which each sample takes the row of its choice.
        """
        x = np.array([samples_dict[name] for name in self._search_space]).astype(np.int64)  # (params, samples)
        by_choice: list[np.ndarray] = [np.empty(0)] * len(self._sizes)
        with np.errstate(divide="ignore"):
            for choices, cols in self._groups:
                # (choices, parameters of the group, kernels): entry [c, g, k] is log table[row_kg, c].
                log_by_choice = np.ascontiguousarray(np.log(self._tables[choices]).T)
                block = np.take(log_by_choice, self._rows_by_param[cols], axis=1)
                for g, j in enumerate(cols.tolist()):
                    by_choice[j] = block[:, g]
        per_kernel = np.zeros((x.shape[1], len(self._weights)))
        for j in range(len(self._sizes)):
            per_kernel += by_choice[j][x[j]]
        per_kernel += np.log(self._weights[np.newaxis])
        top = per_kernel.max(axis=1)
        top[np.isneginf(top)] = 0
        with np.errstate(divide="ignore"):
            return np.log(np.exp(per_kernel - top[:, None]).sum(axis=1)) + top


class FixedSpaceTPE(TPESampler):
    """Optuna's TPE sampler over a search space known in advance (see the module docstring).

    A sampler serves one study (the first it samples for; any other gets Optuna's own code).

    Args:
        search_space: Parameter name to distribution; every trial is asked with exactly these.
        constant_liar: Optuna's ``constant_liar`` (running trials count as bad ones).
        verify: Check once per process, on a small seeded study, that the faster split and ask
            propose what Optuna's do before using them (the probe's own sampler runs without).
        **kwargs: Any other :class:`optuna.samplers.TPESampler` argument.

    Attributes:
        fast_paths: Whether the faster split, and :func:`ofa_bench_strategies._tpe_trials.ask`'s one-update
            path, are in use: they reproduced Optuna's proposals on the probe study.
    """

    def __init__(
        self, search_space: dict[str, BaseDistribution], *, constant_liar: bool, verify: bool = True, **kwargs: Any
    ) -> None:
        super().__init__(constant_liar=constant_liar, **kwargs)
        self._liar = constant_liar
        # Only the plain multivariate TPE models the whole space at once (grouped and independent
        # TPE infer their spaces differently; Optuna does that for them).
        self._joint = kwargs.get("multivariate") is True and not kwargs.get("group", False)
        # As Optuna's inferred space: sorted by name, without single-choice parameters.
        self._fixed_space = {name: d for name, d in sorted(search_space.items()) if not d.single()}
        self._names = tuple(self._fixed_space)
        self._study: tuple[Any, Any] | None = None  # (storage, study id) of the study served
        # What is known of each finished trial, by trial number (see :meth:`_learn`).
        self._table = np.zeros((0, len(self._names)), dtype=np.int64)  # choice indices
        self._state = np.zeros(0, dtype=np.int8)  # 0 not seen, 1 in the table, 2 lacks a parameter
        self._score = np.zeros(0)  # Optuna's infeasibility score (0: feasible)
        self._complete = np.zeros(0, dtype=bool)  # COMPLETE, else PRUNED
        categorical = all(isinstance(d, CategoricalDistribution) for d in search_space.values())
        if categorical and _reproduces_optuna(self._parzen_estimator_parameters):
            self._parzen_estimator_cls = CategoricalParzenEstimator
        known = _split_helpers() is not None and all(hasattr(self, name) for name in _SAMPLER_STATE)
        self.fast_paths = known and (not verify or _proposes_as_optuna())

    def infer_relative_search_space(self, study: Any, trial: Any) -> dict[str, BaseDistribution]:
        """The fixed space as Optuna would infer it: sorted by name (the order TPE draws in), no single choices."""
        if not self._joint:
            return super().infer_relative_search_space(study, trial)
        return dict(self._fixed_space)

    def _sample(self, study: Any, trial: Any, search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        """One TPE step as Optuna's ``TPESampler._sample`` takes it, over trial numbers instead of trials.

        Optuna's steps in its order: the finished trials (running ones only count with the
        constant liar, which runs Optuna's code), gamma, the split (:meth:`_split`), a Parzen
        estimator for each side (the good side of several objectives with unit weights), the
        candidates drawn from the good one and the best by the ratio of their densities.
        """
        helpers = _split_helpers()
        plain = not self._liar and self.fast_paths and helpers is not None and tuple(search_space) == self._names
        if not (plain and self._serves(study)):
            return super()._sample(study, trial, search_space)
        trials = study._get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED), use_cache=True)
        if self._gamma is None:  # as Optuna: fixed at the first TPE step by the number of objectives
            self._gamma = helpers.default_gamma if len(study.directions) <= 1 else helpers.default_gamma_multiobjective
        numbers = self._learn(trials, helpers)
        below, above = self._split(study, trials, numbers, self._gamma(len(trials)), helpers)
        mpe_below = self._estimator(search_space, below, unit_weights=len(study.directions) > 1)
        mpe_above = self._estimator(search_space, above, unit_weights=False)
        samples = mpe_below.sample(self._rng.rng, self._n_ei_candidates)
        best = TPESampler._compare(samples, self._compute_acquisition_func(samples, mpe_below, mpe_above))
        return {name: dist.to_external_repr(best[name]) for name, dist in search_space.items()}

    def _serves(self, study: Any) -> bool:
        """Whether the per-trial records describe ``study``: the first study sampled for."""
        key = (getattr(study, "_storage", None), getattr(study, "_study_id", None))
        if self._study is None:
            self._study = key
        return key[0] is not None and self._study[0] is key[0] and self._study[1] == key[1]

    def _learn(self, trials: list, helpers: Any) -> np.ndarray:
        """The numbers of ``trials`` (finished), each trial's choices, state and score recorded once.

        Optuna converts every finished trial to choice indices, and scores its constraints (the
        sum of its positive constraint values), again for every new trial. A finished trial
        cannot change (the storage refuses updates to it), so here each is done once, by number.
        """
        numbers = np.fromiter((t.number for t in trials), dtype=np.int64, count=len(trials))
        if len(numbers) and numbers.max() >= len(self._state):
            size = max(int(numbers.max()) + 1, 2 * len(self._state))
            for name in ("_table", "_state", "_score", "_complete"):
                old = getattr(self, name)
                new = np.zeros((size, *old.shape[1:]), dtype=old.dtype)
                new[: len(old)] = old
                setattr(self, name, new)
        for i in np.flatnonzero(self._state[numbers] == 0).tolist():
            trial, number = trials[i], numbers[i]
            if trial.params.keys() >= self._fixed_space.keys():
                self._table[number] = [d.to_internal_repr(trial.params[k]) for k, d in self._fixed_space.items()]
                self._state[number] = 1
            else:  # Optuna leaves such a trial out of the model
                self._state[number] = 2
            self._score[number] = helpers._get_infeasible_trial_score(trial)
            self._complete[number] = trial.state == TrialState.COMPLETE
        return numbers

    def _split(
        self, study: Any, trials: list, numbers: np.ndarray, n_below: int, helpers: Any
    ) -> tuple[np.ndarray, np.ndarray]:
        """Optuna's ``_split_trials`` of finished trials, as the sorted trial numbers of each side.

        Optuna's order of steps: feasible complete trials by rank (Optuna's own function, given
        the trials), then pruned ones (likewise), then infeasible ones by score in a stable sort
        (as Optuna's ``sorted``). Each step splits its trials in two, so the other side is the
        rest; both sides are in trial number order, as Optuna sorts them.
        """
        infeasible = self._score[numbers] > 0
        complete = self._complete[numbers]
        feasible = [trials[i] for i in np.flatnonzero(complete & ~infeasible)]
        below, _ = helpers._split_complete_trials(feasible, study, n_below)
        n_below = max(0, n_below - len(below))
        pruned = [trials[i] for i in np.flatnonzero(~complete & ~infeasible)]
        below_pruned, _ = helpers._split_pruned_trials(pruned, study, n_below)
        n_below = max(0, n_below - len(below_pruned))
        by_score = numbers[infeasible][np.argsort(self._score[numbers[infeasible]], kind="stable")]
        chosen = [t.number for t in below + below_pruned] + by_score[:n_below].tolist()
        is_below = np.zeros(len(self._state), dtype=bool)
        is_below[chosen] = True
        return np.sort(numbers[is_below[numbers]]), np.sort(numbers[~is_below[numbers]])

    def _estimator(self, search_space: dict[str, BaseDistribution], numbers: np.ndarray, unit_weights: bool) -> Any:
        """Optuna's ``_build_parzen_estimator`` for the trials of ``numbers`` (its ``_get_internal_repr`` rows)."""
        rows = self._table[numbers[self._state[numbers] == 1]]
        observations = {name: rows[:, j] for j, name in enumerate(self._names)}
        weights = np.ones(len(rows)) if unit_weights else None
        return self._parzen_estimator_cls(observations, search_space, self._parzen_estimator_parameters, weights)


@functools.lru_cache(maxsize=8)
def _reproduces_optuna(parameters: Any) -> bool:
    """Whether :class:`CategoricalParzenEstimator` samples and scores as the installed Optuna's estimator."""
    rng = np.random.default_rng(0)
    sizes = (("a", 3), ("b", 9), ("c", 25), ("d", 9), ("e", 1))
    space = {name: CategoricalDistribution(list(range(size))) for name, size in sizes}
    try:
        for n, below in ((0, False), (7, False), (60, False), (6, True)):
            observations = {name: rng.integers(len(d.choices), size=n) for name, d in space.items()}
            fixed = np.ones(n) if below else None
            ours = CategoricalParzenEstimator(observations, space, parameters, fixed)
            theirs = _ParzenEstimator(observations, space, parameters, fixed)
            a, b = ours.sample(np.random.RandomState(n), 30), theirs.sample(np.random.RandomState(n), 30)
            if any(not np.array_equal(a[k], b[k]) for k in space):
                return False
            if not np.array_equal(ours.log_pdf(a), theirs.log_pdf(a)):
                return False
    except Exception:  # noqa: BLE001 - internals that differ mean: use Optuna's own estimator
        return False
    return True


#: What :meth:`FixedSpaceTPE._sample` uses of Optuna's TPE module and sampler beyond their public API.
_MODULE_HELPERS = (
    "_split_complete_trials",
    "_split_pruned_trials",
    "_get_infeasible_trial_score",
    "default_gamma",
    "default_gamma_multiobjective",
)
_SAMPLER_HELPERS = ("_compute_acquisition_func", "_compare")
_SAMPLER_STATE = ("_gamma", "_rng", "_n_ei_candidates", "_parzen_estimator_parameters", "_parzen_estimator_cls")


@functools.lru_cache(maxsize=1)
def _split_helpers() -> Any:
    """Optuna's TPE module where it has the helpers :meth:`FixedSpaceTPE._sample` calls, else ``None``."""
    try:
        from optuna.samplers._tpe import sampler as module
    except ImportError:
        return None
    known = all(hasattr(module, name) for name in _MODULE_HELPERS)
    return module if known and all(hasattr(TPESampler, name) for name in _SAMPLER_HELPERS) else None


@functools.lru_cache(maxsize=1)
def _proposes_as_optuna() -> bool:
    """Whether :class:`FixedSpaceTPE` and :func:`~ofa_bench_strategies._tpe_trials.ask` propose what Optuna's TPE does.

    A small seeded study (two objectives, a constraint most trials break, a failed trial, a
    single-choice parameter) is run
    twice: with :class:`optuna.samplers.TPESampler` asked parameter by parameter, and with this
    sampler and the one-update ask. Any difference in the trials' parameters or distributions, or
    any error, means Optuna's internals differ from those known: its own code is used instead.
    """
    import optuna
    from ofa_bench_strategies._tpe_trials import ask, tell

    space = {
        "a": CategoricalDistribution(["x", "y", "z"]),
        "b": CategoricalDistribution([f"{k}x{e}" for k in (3, 5, 7) for e in (3, 4, 6)]),
        "c": CategoricalDistribution(list(range(128, 228, 4))),
        "d": CategoricalDistribution([4]),
    }
    settings = {"seed": 0, "multivariate": True, "n_startup_trials": 4, "n_ei_candidates": 8, "constant_liar": False}
    settings["constraints_func"] = _probe_constraints
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        runs = []
        for fast in (False, True):
            with warnings.catch_warnings():  # multivariate TPE and constraints_func warn
                warnings.simplefilter("ignore")
                sampler = FixedSpaceTPE(space, verify=False, **settings) if fast else TPESampler(**settings)
            study = optuna.create_study(directions=["minimize", "maximize"], sampler=sampler)
            for i in range(24):
                trial, params = ask(study, space, fast=fast)
                k, e = (int(v) for v in params["b"].split("x"))
                trial.set_user_attr("c", float(k * e - 16))  # two thirds of the pairs break it
                values = [float(k * e + "xyz".index(params["a"])), float(params["c"] // 20)]
                tell(study, trial, None if i == 9 else values, optuna.trial.TrialState.FAIL if i == 9 else None)
            runs.append([(t.params, t.distributions, t.state) for t in study.trials])
        return runs[0] == runs[1]
    except Exception:  # noqa: BLE001 - internals that differ mean: use Optuna's own code
        return False
    finally:
        optuna.logging.set_verbosity(verbosity)


def _probe_constraints(trial: Any) -> list[float]:
    return [trial.user_attrs["c"]]
