"""Implementation modules of :mod:`ofa_bench.space`; import the public names from there.

``network`` holds the fixed skeleton (:class:`NetworkSpec`), ``shape`` the choices and the shape
of batch arrays (:class:`SpaceShape`, the base of :class:`~ofa_bench.space.SearchSpace`), ``arch``
the single-arch value (:class:`Arch`) and its validation, ``tables`` the per-column lookup arrays,
and ``batch`` the array operators ``SearchSpace`` inherits (sampling, mutation, crossover,
encodings). Nothing here imports :mod:`ofa_bench.space`: the dependency runs one way.
"""
