"""Built-in accuracy predictors, declared under the ``ofa_bench.predictors`` entry-point group."""
