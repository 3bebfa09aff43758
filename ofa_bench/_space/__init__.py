"""Implementation modules of :mod:`ofa_bench.space`; import the public names from there.

``network`` holds the fixed skeleton (:class:`NetworkSpec`), ``arch`` the single-arch value
(:class:`Arch`) and its validation, ``tables`` the per-column lookup arrays, and ``batch`` the
array operators :class:`~ofa_bench.space.SearchSpace` inherits (sampling, mutation, crossover,
encodings).
"""
