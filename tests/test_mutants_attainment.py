"""Attainment surfaces worked out by hand (mutation testing, docs/testing.md).

Three runs, both objectives minimised. The best second objective a run reaches at or before each
first-objective value that any run has (x = 0.1, 0.2, 0.3, 0.4, 0.6), from its points:

    run A  (0.1, 0.8) (0.4, 0.3) (0.5, 0.35)   0.8  0.8  0.8  0.3  0.3   (0.5, 0.35 is dominated)
    run B  (0.2, 0.6) (0.6, 0.1)               inf  0.6  0.6  0.6  0.1
    run C  (0.3, 0.5)                          inf  inf  0.5  0.5  0.5

(A's dominated point adds x = 0.5, where every surface stays as at 0.4.) The k-attainment surface
is the k-th smallest of the three at each x; its corners are where it steps down.
"""

from __future__ import annotations

import numpy as np
import pytest

from ofa_bench.metrics import attainment_front

# Points given out of order, with a row that is not a point (NaN) and one at infinity: neither counts.
A = np.array([[0.4, 0.3], [np.nan, 0.05], [0.1, 0.8], [0.5, 0.35]])
B = np.array([[0.6, 0.1], [0.2, 0.6], [0.01, np.inf]])
C = np.array([[0.3, 0.5]])

BY_HAND = {
    1: [[0.1, 0.8], [0.2, 0.6], [0.3, 0.5], [0.4, 0.3], [0.6, 0.1]],
    2: [[0.2, 0.8], [0.3, 0.6], [0.4, 0.5], [0.6, 0.3]],
    3: [[0.3, 0.8], [0.4, 0.6], [0.6, 0.5]],
}


@pytest.mark.parametrize("level", [1, 2, 3])
def test_each_level_of_three_runs_by_hand(level: int) -> None:
    np.testing.assert_allclose(attainment_front([A, B, C], level=level), BY_HAND[level])


def test_the_default_level_is_the_median_run() -> None:
    # ceil(3 / 2) = 2 of three runs; of four runs, 2 (not 3).
    np.testing.assert_allclose(attainment_front([A, B, C]), BY_HAND[2])
    # A fourth run that attains everything from x = 0: the 2nd smallest is then the three runs' 1st.
    everything = np.array([[0.0, 0.0]])
    np.testing.assert_allclose(attainment_front([A, B, C, everything]), BY_HAND[1])


def test_a_flat_stretch_is_not_a_corner() -> None:
    # Alone, A's surface is 0.8 up to x = 0.4, then 0.3 (also at x = 0.5): two corners, not three.
    np.testing.assert_allclose(attainment_front([A], level=1), [[0.1, 0.8], [0.4, 0.3]])


def test_a_run_read_at_its_own_first_point() -> None:
    # The surface at a run's own smallest x is that point's y (not "nothing yet", not the next point's).
    np.testing.assert_allclose(attainment_front([np.array([[0.2, 0.3]])]), [[0.2, 0.3]])
    two = np.array([[0.2, 0.7], [0.5, 0.1]])
    np.testing.assert_allclose(attainment_front([two, two], level=2), [[0.2, 0.7], [0.5, 0.1]])


def test_a_run_without_points_attains_nothing_and_does_not_stop_the_others() -> None:
    empty = np.zeros((0, 2))
    np.testing.assert_allclose(attainment_front([empty, A], level=1), [[0.1, 0.8], [0.4, 0.3]])
    assert attainment_front([empty, A], level=2).shape == (0, 2)
    assert attainment_front([empty, empty]).shape == (0, 2)
    assert attainment_front([np.array([[np.nan, np.nan]])]).shape == (0, 2)
    assert attainment_front([]).shape == (0, 2)


@pytest.mark.parametrize("level", [0, 4, -1])
def test_a_level_outside_one_to_the_number_of_runs_is_refused(level: int) -> None:
    with pytest.raises(ValueError, match=r"level must be in 1\.\.3"):
        attainment_front([A, B, C], level=level)


def test_a_missing_value_given_as_none_is_no_point() -> None:
    # A front read from records may hold None for a missing value: that point is left out, as NaN is.
    with_none = [[0.1, None], [0.4, 0.3], [None, 0.01]]
    np.testing.assert_allclose(attainment_front([with_none]), [[0.4, 0.3]])
