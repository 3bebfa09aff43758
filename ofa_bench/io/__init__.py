"""Files in and out: atomic writes, JSON lines of archs, the measurement cache, predictor files, ONNX
export, and the readers of input ofa-bench did not write (:mod:`ofa_bench.io.untrusted`).

Nothing here knows about suites or searches; every writer is atomic (a crash leaves the old file or
the new one, never half of one).
"""
