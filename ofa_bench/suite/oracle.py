"""The surrogate accuracy oracle of a suite: a predictor fitted once on a measured archive.

(Or, with ``oracle.mode: shipped``, the benchmark's shipped surrogate, :func:`shipped_oracle`:
no archive, no fit, no data.)

The archive is measured live through the benchmark's evaluator (so its cache makes it free the
second time) and the fitted predictor is saved in the suite's output directory; a resumed suite
loads that file rather than fitting again, so every run of a suite sees the same oracle. The
archive is drawn from the suite's own ``oracle_archive`` random stream
(:mod:`ofa_bench.search.streams`) and written to ``oracle_archive.csv`` (``arch`` as OFA's dict
in JSON, and its measured accuracy), so anyone can count how many of a run's archs the oracle
was fitted on (``oracle_overlap`` in the results).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ofa_bench.benchmark.trained import Benchmark
from ofa_bench.errors import OfaBenchError
from ofa_bench.io.atomic import write_text_atomic
from ofa_bench.plugins import registry
from ofa_bench.plugins.interfaces import Predictor
from ofa_bench.suite.leakage import ARCHIVE_FILE

if TYPE_CHECKING:
    from ofa_bench.suite.config import Suite

__all__ = ["ARCHIVE_FILE", "ORACLE_FILE", "ORACLE_INFO_FILE", "Progress", "fit_oracle", "oracle_for", "shipped_oracle"]

#: The fitted surrogate oracle inside a suite's output directory.
ORACLE_FILE = "oracle.predictor"
#: Its description (predictor, archive, held-out quality), written after it.
ORACLE_INFO_FILE = "oracle.json"
#: The measured archive it was fitted on: ``arch`` (OFA dict, JSON) and ``accuracy``.

#: Called as ``progress(stage, done, total)``; stages: ``benchmark``, ``archive``, ``reference``, ``runs``.
Progress = Callable[[str, int, int], None]


def fit_oracle(
    suite: Suite, bench: Benchmark, progress: Progress | None = None, chunk: int = 10
) -> tuple[Predictor, dict[str, Any]]:
    """Measure the suite's archive and fit its oracle predictor on it.

    With ``oracle.holdout > 0`` a first fit on the head of the archive is scored on the rest
    (Kendall tau, RMSE), for the report; the oracle itself is then fitted on the whole archive.

    Args:
        suite: The suite (its ``oracle`` section is used).
        bench: The benchmark whose supernet measures the archive.
        progress: Called as ``progress("archive", done, total)`` while measuring.
        chunk: Archs measured between progress calls.

    Returns:
        The fitted predictor and a description of it and its quality, JSON-ready but for
        ``archive``: the measured archive as a table (``arch`` as OFA dict JSON, ``accuracy``).
    """
    from ofa_bench.evaluate import Evaluator
    from ofa_bench.metrics.ranking import kendall_tau
    from ofa_bench.search.streams import stream_rng

    section = suite.oracle
    archs = bench.space.sample(section.archive_size, stream_rng(suite.seed, "oracle_archive", section.archive_seed))
    accuracy = np.zeros(len(archs))
    with Evaluator(bench, device=suite.benchmark.device) as evaluator:
        for lo in range(0, len(archs), chunk):
            part = archs[lo : lo + chunk]
            accuracy[lo : lo + len(part)] = evaluator.evaluate(part, ())["accuracy"].to_numpy(np.float64)
            if progress is not None:
                progress("archive", lo + len(part), len(archs))
    if not np.isfinite(accuracy).all():
        raise OfaBenchError(f"oracle: {int((~np.isfinite(accuracy)).sum())} archive archs have no accuracy")
    info: dict[str, Any] = {
        "predictor": section.predictor,
        "params": section.params,
        "archive_size": section.archive_size,
        "archive_seed": section.archive_seed,
        "archive_accuracy": [float(accuracy.min()), float(np.median(accuracy)), float(accuracy.max())],
    }
    split = int(round(len(archs) * (1 - section.holdout)))
    if section.holdout > 0 and 2 <= split <= len(archs) - 2:
        order = stream_rng(suite.seed, "holdout_split").permutation(len(archs))
        train, test = order[:split], order[split:]
        held = _create(section.predictor, section.params).fit([archs[i] for i in train], accuracy[train])
        predicted = np.asarray(held.predict([archs[i] for i in test]), dtype=np.float64)
        tau = kendall_tau(predicted, accuracy[test])
        info["holdout"] = {
            "train": split,
            "test": len(archs) - split,
            "kendall_tau": None if not math.isfinite(tau) else float(tau),
            "rmse": float(np.sqrt(np.mean((predicted - accuracy[test]) ** 2))),
        }
    predictor = _create(section.predictor, section.params).fit(archs, accuracy)
    info["label"] = f"surrogate:{type(predictor).__name__}"
    info["archive"] = pd.DataFrame({"arch": [json.dumps(a.to_dict()) for a in archs], "accuracy": accuracy})
    return predictor, info


def oracle_for(
    suite: Suite, bench: Benchmark, out_dir: Path, progress: Progress | None = None
) -> tuple[Predictor | None, dict[str, Any]]:
    """The suite's oracle: ``None`` (live), the shipped surrogate, or the saved or a newly fitted predictor.

    A newly fitted predictor is saved to ``out_dir/oracle.predictor`` when its plug-in supports
    saving (:mod:`ofa_bench.io.predictor_files`), then described in ``oracle.json``; one that cannot
    be saved is fitted again on resume, which gives the same oracle only if its fit is
    deterministic (``info["saved"]`` says which).
    """
    if suite.oracle.mode == "live":
        return None, {"mode": "live", "label": "live"}
    if suite.oracle.mode == "shipped":
        return shipped_oracle(bench)
    from ofa_bench.io.predictor_files import load_predictor, save_predictor

    path, info_path = out_dir / ORACLE_FILE, out_dir / ORACLE_INFO_FILE
    if path.exists() and info_path.exists():
        from ofa_bench.io.untrusted import read_json

        return load_predictor(path), read_json(info_path, f"oracle info {str(info_path)!r}")
    predictor, info = fit_oracle(suite, bench, progress)
    archive = info.pop("archive")
    write_text_atomic(out_dir / ARCHIVE_FILE, archive.to_csv(index=False))
    info["mode"] = "surrogate"
    try:
        save_predictor(predictor, path)
        info["saved"] = True
    except OfaBenchError as exc:
        info["saved"] = False
        info["not_saved_because"] = str(exc)
    write_text_atomic(info_path, json.dumps(info, indent=2, default=str) + "\n")
    return predictor, info


def shipped_oracle(bench: Benchmark) -> tuple[Predictor, dict[str, Any]]:
    """The benchmark's shipped surrogate of validation accuracy and its description for ``suite.json``.

    Nothing is fitted or measured, and nothing is written to the suite's output directory: the
    surrogate stays in its benchmark, named by its fingerprint in the label.
    """
    from ofa_bench.benchmark.surrogate import load_surrogate, surrogate_info

    oracle = load_surrogate(bench.directory, "valid", benchmark=bench)
    info = surrogate_info(bench.directory) or {}
    return oracle, {
        "mode": "shipped",
        "label": oracle.oracle_label,
        "predictor": info.get("predictor"),
        "kendall_tau": info.get("kendall_tau"),
        "noise_sd": oracle.noise_sd,
        "quality": info.get("quality"),
        "archive": info.get("archive"),
        "targets": sorted(info.get("targets", {})),
        "command": info.get("command"),
    }


def _create(name: str, params: dict[str, Any]) -> Predictor:
    predictor = registry.create("predictor", name, **params)
    if not isinstance(predictor, Predictor):
        raise OfaBenchError(f"oracle.predictor: {name!r} did not create a Predictor")
    return predictor
