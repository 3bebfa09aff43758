"""``python -m ofa_bench``: the ``ofa-bench`` command (also what torchrun launches)."""

from __future__ import annotations

import sys

from ofa_bench.cli import main

sys.exit(main())
