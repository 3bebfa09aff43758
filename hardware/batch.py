"""The two forms a batch of archs reaches a backend in: a list of :class:`Arch` or a choice array.

Strategies hold populations as ``(n, space.n_columns)`` arrays; turning them into ``Arch`` objects
only to turn them back into arrays would cost more than a table lookup, so table and proxy
backends take either form, and runners, which need one network per arch, take either too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ofa_bench.space import as_batch

if TYPE_CHECKING:
    from ofa_bench.space import Arch, SearchSpace

__all__ = ["arch_array", "arch_list"]


def arch_array(archs: Sequence[Arch] | np.ndarray, space: SearchSpace | None) -> tuple[np.ndarray, SearchSpace | None]:
    """Return a batch as a validated, normalised choice array and its space.

    Args:
        archs: Archs of one space, or an ``(n, n_columns)`` array of choice values.
        space: Required with an array; checked against (or inferred from) the archs otherwise.

    Returns:
        ``(array, space)``; ``space`` is ``None`` only for an empty list given without a space.
    """
    given_array = isinstance(archs, np.ndarray)
    if not given_array:
        archs = list(archs)
        if not archs:
            return np.zeros((0, space.n_columns if space is not None else 0), dtype=np.int64), space
        space = space if space is not None else archs[0].space
    array = as_batch(archs, space)  # an array without a space is refused, naming space=
    return (space.normalise(array) if given_array else array), space


def arch_list(archs: Sequence[Arch] | np.ndarray, space: SearchSpace | None) -> list[Arch]:
    """Return a batch as a list of archs (an array needs ``space``)."""
    if isinstance(archs, np.ndarray):
        array = as_batch(archs, space)  # an array without a space is refused, naming space=
        return space.from_array(array)
    archs = list(archs)
    if space is not None and archs:
        space.to_array(archs)  # raises, naming both spaces, when an arch is of another space
    return archs
