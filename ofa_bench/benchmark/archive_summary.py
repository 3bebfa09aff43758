"""The summary figures of a measured archive: counts per source, accuracy spans, noise ceiling, noise model."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["summarise_archive"]


def summarise_archive(table: pd.DataFrame, noise: pd.DataFrame) -> dict[str, Any]:
    """Counts per source, accuracy spans, the split-half noise ceiling and the calibration-noise model.

    ``split_half`` rests on the random archs: the Kendall tau and Pearson r between the two
    validation halves, the Spearman-Brown reliability of the whole split and the estimated best
    Kendall tau any predictor can reach against it (see :func:`ofa_bench.benchmark.noise.noise_ceiling`).
    ``noise`` rests on the re-measured archs: per-arch standard deviation of validation accuracy over
    the archive's own and the independent calibrations, its mean and maximum, the calibration-only
    Kendall tau between the archive and each re-measurement, the sampling standard deviation of a
    whole validation split (from the halves: ``sd(a - b) / 2``), and ``sd``, the standard deviation
    of one measurement combining both, which a noisy surrogate oracle draws from.
    """
    from ofa_bench.metrics.ranking import kendall_tau

    out: dict[str, Any] = {"archs": len(table), "sources": table["source"].value_counts().sort_index().to_dict()}
    random = table[table["source"] == "random"]
    for column in ("accuracy", "test_accuracy"):
        values = table[column].to_numpy(np.float64)
        values_random = random[column].to_numpy(np.float64)
        if np.isfinite(values).any():
            out[column] = {
                "min": float(np.nanmin(values)),
                "median": float(np.nanmedian(values)),
                "max": float(np.nanmax(values)),
                "random_span_points": float(100 * (np.nanmax(values_random) - np.nanmin(values_random)))
                if len(values_random)
                else None,
            }
    if len(random) >= 3:
        a, b = random["valid_half_a"].to_numpy(np.float64), random["valid_half_b"].to_numpy(np.float64)
        r = float(np.corrcoef(a, b)[0, 1]) if a.std() > 0 and b.std() > 0 else 0.0
        reliability = max(0.0, 2 * r / (1 + r)) if r > -1 else 0.0
        out["split_half"] = {
            "archs": len(random),
            "kendall_tau": kendall_tau(a, b),
            "pearson_r": r,
            "reliability": reliability,
            "tau_ceiling": float(2 / math.pi * math.asin(math.sqrt(reliability))),
            "sampling_sd": float(np.std(a - b, ddof=1) / 2),
        }
    if len(noise):
        own = table.set_index("arch")["accuracy"]
        wide = noise.pivot(index="arch", columns="calibration_seed", values="accuracy")
        wide.insert(0, "own", own.reindex(wide.index).to_numpy())
        per_arch = wide.std(axis=1, ddof=1).to_numpy(np.float64)
        calibration_sd = float(np.sqrt(np.nanmean(per_arch**2)))
        sampling_sd = out.get("split_half", {}).get("sampling_sd", 0.0)
        out["noise"] = {
            "archs": len(wide),
            "measurements_per_arch": int(wide.shape[1]),
            "per_arch_sd_mean": float(np.nanmean(per_arch)),
            "per_arch_sd_max": float(np.nanmax(per_arch)),
            "calibration_sd": calibration_sd,
            "calibration_kendall_tau": [
                kendall_tau(wide["own"], wide[c]) for c in wide.columns if c != "own"
            ],
            "sampling_sd": sampling_sd,
            "sd": float(math.sqrt(calibration_sd**2 + sampling_sd**2)),
        }
    return _finite(out)


def _finite(value: Any) -> Any:
    """``value`` with every NaN or infinity (a tau of constant accuracies, say) as ``None``, for JSON."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
