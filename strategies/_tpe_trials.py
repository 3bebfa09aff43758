"""Optuna trial bookkeeping for a fixed space of categorical parameters, without its per-parameter cost.

:func:`ask` gives a new trial and its parameters exactly as ``study.ask()`` followed by one
``trial.suggest_categorical`` per parameter would: same values, same stored trial, same calls to
the sampler. Optuna handles each suggested parameter on its own: a copy of the trial, a check of
the sampler's distribution against the given one and another against the study's, choice by
choice, and a storage update that copies the trial again, which for 26 parameters costs about
as much as TPE's own sampling. Where the sampler's joint proposal covers every parameter (TPE
after its start-up trials) and the study lives in memory, the parameters are written in one
update here instead; every other case (start-up trials, enqueued trials, other storages) goes
through ``suggest_categorical``.

:func:`tell` finishes a trial without the deep copy ``study.tell`` returns.
"""

from __future__ import annotations

import copy
import functools
import inspect
from typing import Any

from optuna.distributions import BaseDistribution, check_distribution_compatibility
from optuna.storages import InMemoryStorage

__all__ = ["ask", "tell"]

#: What :func:`_suggest_all` uses of Optuna's trial and in-memory storage beyond their public API.
_TRIAL_INTERNALS = ("_cached_frozen_trial", "_fixed_params", "_trial_id", "relative_search_space")
_STORAGE_INTERNALS = ("_lock", "_get_trial", "_set_trial", "_trial_id_to_study_id_and_number", "_studies")


def ask(study: Any, distributions: dict[str, BaseDistribution], *, fast: bool = True) -> tuple[Any, dict[str, Any]]:
    """A new trial of ``study`` and its value of each of ``distributions`` (all categorical).

    Args:
        study: The Optuna study.
        distributions: Parameter name to distribution, suggested in this order.
        fast: Write the sampler's joint proposal in one update where possible (module docstring);
            ``False`` suggests parameter by parameter.
    """
    trial = study.ask()
    params = _suggest_all(study, trial, distributions) if fast else None
    if params is None:
        params = {name: trial.suggest_categorical(name, d.choices) for name, d in distributions.items()}
    return trial, params


def _suggest_all(study: Any, trial: Any, distributions: dict[str, BaseDistribution]) -> dict[str, Any] | None:
    """Every parameter as Optuna's ``Trial._suggest`` gives it, written at once; ``None`` (nothing written) if unsure.

    For a new trial without fixed (enqueued) parameters, ``_suggest`` gives a single-choice
    distribution its choice and any other parameter the sampler's relative proposal, provided the
    parameter is in the relative search space with a compatible distribution and the value lies in
    it; the relative proposal is computed once per trial, at the first such parameter. Reading
    ``trial.relative_params`` here computes it at the same point (before anything else is drawn),
    and Optuna's path, taken when a parameter is not covered, reuses it: the sampler is asked once
    either way. The distributions are compared by identity: the same object is trivially
    compatible (``CategoricalDistribution.__eq__`` of a distribution with itself compares each
    choice with itself), and any other goes through Optuna's path and its full check.
    """
    storage = study._storage
    if type(storage) is not InMemoryStorage or not _has_internals(trial, storage):
        return None
    frozen = trial._cached_frozen_trial
    if trial._fixed_params or frozen.distributions or all(d.single() for d in distributions.values()):
        return None  # enqueued, already suggested, or never asking the sampler: Optuna's path
    relative = trial.relative_params
    space = trial.relative_search_space or {}
    params = {}
    for name, dist in distributions.items():
        if dist.single():  # as Optuna's ``_get_single_value``; such parameters are not relative
            index = 0
        elif name in relative and space.get(name) is dist:
            index = dist.to_internal_repr(relative[name])
            if not dist._contains(index):
                return None
        else:
            return None
        # Stored as Optuna stores it: the external value of the internal one.
        params[name] = dist.to_external_repr(index)
    _set_params(storage, trial._trial_id, params, distributions)
    # As ``_suggest``: the trial's own frozen copy learns the parameters too.
    frozen.params.update(params)
    frozen.distributions.update(distributions)
    return params


def _set_params(
    storage: InMemoryStorage, trial_id: int, params: dict[str, Any], distributions: dict[str, BaseDistribution]
) -> None:
    """``storage.set_trial_param`` for every parameter, as one update of the stored trial.

    Each parameter is checked against the study's distribution of that name as Optuna checks it,
    except that an identical object is accepted at once; the stored trial is replaced by a copy
    with the new parameters (never changed in place: trials handed out earlier keep their values).
    """
    with storage._lock:
        stored = storage._get_trial(trial_id)
        storage.check_trial_is_updatable(trial_id, stored.state)
        study_id = storage._trial_id_to_study_id_and_number[trial_id][0]
        known = storage._studies[study_id].param_distribution
        for name, dist in distributions.items():
            if name in known and known[name] is not dist:
                check_distribution_compatibility(known[name], dist)
            known[name] = dist
        updated = copy.copy(stored)
        updated.params = {**stored.params, **params}
        updated.distributions = {**stored.distributions, **distributions}
        storage._set_trial(trial_id, updated)


def _has_internals(trial: Any, storage: Any) -> bool:
    # ``relative_params`` is looked up on the class: reading it on the trial would ask the sampler.
    return (
        isinstance(getattr(type(trial), "relative_params", None), property)
        and all(hasattr(trial, name) for name in _TRIAL_INTERNALS)
        and all(hasattr(storage, name) for name in _STORAGE_INTERNALS)
    )


def tell(study: Any, trial: Any, values: list[float] | None, state: Any = None) -> None:
    """``study.tell`` without the deep copy of the finished trial it returns (unused here).

    Falls back to ``study.tell`` where Optuna's internal function differs from the one known.
    """
    finish = _tell_function()
    if finish is None:
        study.tell(trial, values, state=state)
    else:
        finish(study=study, trial=trial, value_or_values=values, state=state)


@functools.lru_cache(maxsize=1)
def _tell_function() -> Any:
    try:
        from optuna.study._tell import _tell_with_warning
    except ImportError:
        return None
    wanted = {"study", "trial", "value_or_values", "state"}
    return _tell_with_warning if wanted <= inspect.signature(_tell_with_warning).parameters.keys() else None
