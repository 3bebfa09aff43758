"""Random search: the baseline every strategy has to beat."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ofa_bench.interfaces import Strategy

if TYPE_CHECKING:
    from ofa_bench.space import Arch

__all__ = ["RandomSearch"]


class RandomSearch(Strategy):
    """Propose archs drawn uniformly from the search space, ignoring all feedback."""

    name = "random"

    def ask(self, n: int) -> list[Arch]:
        """Draw ``n`` archs uniformly at random from the space.

        Args:
            n: How many archs to propose.

        Returns:
            ``n`` archs, drawn with ``self.rng``.
        """
        return self.space.sample(n, rng=self.rng)
