"""Reading input ofa-bench did not write, within fixed bounds; see ``docs/security.md``.

:mod:`~ofa_bench.io.untrusted.text` reads YAML and JSON (size, nesting and alias-expansion bounds),
:mod:`~ofa_bench.io.untrusted.zipped` opens zip-based files (member count and inflated sizes checked
before inflating), and :mod:`~ofa_bench.io.untrusted.limits` holds the bounds of counts, seeds and
floats that files and flags set.
"""

from __future__ import annotations

from ofa_bench.io.untrusted.limits import (
    MAX_ARCHIVE_SIZE,
    MAX_ARCHS,
    MAX_BATCH,
    MAX_BUDGET,
    MAX_EPOCHS,
    MAX_EPOCHS_SCALE,
    MAX_JOBS,
    MAX_REFERENCE_SAMPLE,
    MAX_REPEATS,
    MAX_RUNS,
    MAX_SEED,
    MAX_SEEDS,
    check_count,
    check_finite,
    check_seed,
    clip,
    excerpt,
)
from ofa_bench.io.untrusted.text import (
    MAX_ALIAS_NODES,
    MAX_ALIASES,
    MAX_DEPTH,
    MAX_JSON_BYTES,
    MAX_NODES,
    MAX_YAML_BYTES,
    parse_json,
    parse_yaml,
    read_json,
    read_untrusted_text,
    read_yaml,
)
from ofa_bench.io.untrusted.zipped import (
    CHECKPOINT_LIMITS,
    PREDICTOR_LIMITS,
    ZipLimits,
    check_zip,
    load_torch,
    open_zip,
    read_member,
)

__all__ = [
    "CHECKPOINT_LIMITS",
    "MAX_ALIASES",
    "MAX_ALIAS_NODES",
    "MAX_ARCHIVE_SIZE",
    "MAX_ARCHS",
    "MAX_BATCH",
    "MAX_BUDGET",
    "MAX_DEPTH",
    "MAX_EPOCHS",
    "MAX_EPOCHS_SCALE",
    "MAX_JOBS",
    "MAX_JSON_BYTES",
    "MAX_NODES",
    "MAX_REFERENCE_SAMPLE",
    "MAX_REPEATS",
    "MAX_RUNS",
    "MAX_SEED",
    "MAX_SEEDS",
    "MAX_YAML_BYTES",
    "PREDICTOR_LIMITS",
    "ZipLimits",
    "check_count",
    "check_finite",
    "check_seed",
    "check_zip",
    "clip",
    "excerpt",
    "load_torch",
    "open_zip",
    "parse_json",
    "parse_yaml",
    "read_json",
    "read_member",
    "read_untrusted_text",
    "read_yaml",
]
