"""Choosing, validating and fitting the surrogate a benchmark ships, from its measured archive.

The archive (:mod:`ofa_bench.benchmark.archive`) is split once, seeded: ``holdout`` archs drawn from
the random and trajectory rows are never used for fitting or for choosing (the space's extreme
corners always stay in the fitting part). On the fitting part, every candidate predictor is scored
by k-fold cross-validated Kendall tau, and the best is chosen; it is then fitted on the whole
fitting part, once on validation accuracy (the oracle a search sees) and once on test accuracy (for
verdicts), and scored on the held-out archs: Kendall tau, Spearman rho, R^2, RMSE and top-10%
precision. The shipped predictors are exactly these fits, so the held-out figures describe them.

Two more checks, as NAS-Bench-301 reports them: **leave-one-source-out** (fit on every archive row
not from one source, e.g. the random archs or one strategy's trajectory, and score on that source),
and a **learning curve** (held-out tau against the number of fitting archs), which says whether the
archive's size or the benchmark's own noise (its split-half noise ceiling) limits the surrogate.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold

from ofa_bench.errors import OfaBenchError
from ofa_bench.metrics.calibration import apply_map, quantile_map, top_residual
from ofa_bench.metrics.predictors import score
from ofa_bench.metrics.ranking import kendall_tau
from ofa_bench.plugins import registry
from ofa_bench.plugins.interfaces import Predictor
from ofa_bench.space import Arch, SearchSpace

__all__ = ["CANDIDATES", "SurrogateFit", "candidate_params", "fit_shipped_surrogate", "ship_surrogate", "split_labels"]

#: The default candidates. A label is a predictor spec (``gbdt``, ``gbdt:n_estimators=2000``) or
#: ``ensemble(a,b,...)`` of registered names, averaged with weights from their cross-validated tau.
CANDIDATES: tuple[str, ...] = (
    "gbdt",
    "gbdt:n_estimators=2000:learning_rate=0.02:max_leaf_nodes=15",
    "rf",
    "gp",
    "mlp",
    "ensemble(gbdt,gp)",
    "ensemble(gbdt,mlp)",
    "ensemble(gbdt,rf,gp,mlp)",
)


@dataclass
class SurrogateFit:
    """The chosen surrogate, fitted per target, and everything measured on the way.

    Attributes:
        label: The chosen candidate's label.
        predictors: ``{"valid": ..., "test": ...}``, each fitted on the fitting part only.
        quality: Cross-validation of every candidate, held-out scores per target, leave-one-source-out,
            the learning curve and the calibration's effect (JSON-ready).
        calibration: Per target, the knots ``{"x": [...], "y": [...]}`` of the quantile map the shipped
            surrogate applies (:mod:`ofa_bench.metrics.calibration`), or ``None`` when calibrating did
            not remove the best archs' bias without costing ranking quality.
    """

    label: str
    predictors: dict[str, Predictor]
    quality: dict[str, Any]
    calibration: dict[str, dict[str, list[float]]] | None = None


def _parse(label: str) -> tuple[str, dict[str, Any]]:
    """A candidate label as a registered name and parameters."""
    members = re.fullmatch(r"\s*ensemble\((.*)\)\s*", label)
    if members:
        return "ensemble", {"members": ",".join(m.strip() for m in members.group(1).split(",")), "mode": "weighted"}
    return registry.parse_spec(label)


def _create(label: str, seed: int) -> Predictor:
    name, params = _parse(label)
    predictor = registry.create("predictor", name, **params)
    if "seed" in predictor.get_params(deep=False):
        predictor.set_params(seed=seed)
    return predictor


def _r2(y: np.ndarray, p: np.ndarray) -> float:
    total = float(np.sum((y - y.mean()) ** 2))
    return float(1 - np.sum((y - p) ** 2) / total) if total > 0 else 0.0


def _scores(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    return {**score(y, p), "r2": _r2(y, p), "n": len(y)}


def fit_shipped_surrogate(
    table: pd.DataFrame,
    space: SearchSpace,
    *,
    candidates: Sequence[str] = CANDIDATES,
    holdout: int = 300,
    folds: int = 5,
    seed: int = 0,
    curve: Sequence[int] = (100, 200, 400),
    progress: Callable[[str], None] | None = None,
) -> SurrogateFit:
    """Choose the best candidate by cross-validation, fit it per target, and validate it on held-out archs.

    Args:
        table: The archive (``archive.csv`` of :func:`ofa_bench.benchmark.archive.build_archive`):
            ``arch`` (OFA dict JSON), ``source``, ``accuracy``, ``test_accuracy``.
        space: The benchmark's search space.
        candidates: Labels to choose from (:data:`CANDIDATES` by default): predictor specs or
            ``ensemble(a,b,...)``.
        holdout: Archs held out from fitting and choosing (random and trajectory rows only).
        folds: Cross-validation folds for the choice.
        seed: Seed of the held-out draw, the folds and every seeded predictor.
        curve: Fitting-part sizes of the learning curve (the whole part is added).
        progress: Called with a line describing each step.

    Raises:
        OfaBenchError: Too few archs for the held-out set, a missing column or an unknown candidate.
    """
    say = progress or (lambda line: None)
    for column in ("arch", "source", "accuracy", "test_accuracy"):
        if column not in table.columns:
            raise OfaBenchError(f"archive: missing column {column!r}; has {', '.join(map(str, table.columns))}")
    for label in candidates:
        name, params = _parse(label)
        if name not in registry.names("predictor"):
            raise OfaBenchError(f"unknown surrogate candidate {label!r}: no predictor {name!r}; known: "
                                f"{', '.join(registry.names('predictor'))}")  # fmt: skip
        _create(label, seed)  # parameters the predictor refuses fail here, before any fitting
    archs: list[Arch] = [space.from_dict(json.loads(a)) for a in table["arch"]]
    sources = table["source"].astype(str).to_numpy()
    targets = {"valid": table["accuracy"].to_numpy(np.float64), "test": table["test_accuracy"].to_numpy(np.float64)}
    eligible = np.flatnonzero(sources != "extreme")
    if holdout < 10 or len(eligible) < holdout + 2 * folds:
        raise OfaBenchError(
            f"surrogate: {len(eligible)} random and trajectory archs cannot hold out {holdout} (at least 10) "
            f"and still fit with {folds} folds"
        )
    rng = np.random.default_rng(seed)
    held = np.sort(rng.choice(eligible, size=holdout, replace=False))
    fit_rows = np.setdiff1d(np.arange(len(archs)), held)
    pick = lambda rows: [archs[i] for i in rows]

    # 1. choose by k-fold cross-validated tau on the fitting part (validation accuracy, the oracle).
    y = targets["valid"]
    kfold = KFold(n_splits=folds, shuffle=True, random_state=seed)
    cv: dict[str, dict[str, float]] = {}
    for label in candidates:
        predicted = np.empty(len(fit_rows))
        for train, test in kfold.split(fit_rows):
            model = _create(label, seed).fit(pick(fit_rows[train]), y[fit_rows[train]])
            predicted[test] = np.asarray(model.predict(pick(fit_rows[test])), dtype=np.float64)
        cv[label] = _scores(y[fit_rows], predicted)
        say(f"cross-validated {label}: Kendall tau {cv[label]['kendall_tau']:.3f}")
    best = max(cv, key=lambda label: cv[label]["kendall_tau"])

    # 2. the shipped fits, scored on the held-out archs.
    predictors, heldout, by_source = {}, {}, {}
    for target, values in targets.items():
        if not np.isfinite(values).all():
            raise OfaBenchError(f"archive: {int((~np.isfinite(values)).sum())} archs have no {target} accuracy")
        predictors[target] = _create(best, seed).fit(pick(fit_rows), values[fit_rows])
        guess = np.asarray(predictors[target].predict(pick(held)), dtype=np.float64)
        heldout[target] = _scores(values[held], guess)
        say(f"held-out {target}: Kendall tau {heldout[target]['kendall_tau']:.3f} on {len(held)} archs")
        # Per kind of source: a tau over archs of wide and narrow accuracy ranges together is higher
        # than within either, so the random archs' own figure is the one the noise ceiling compares with.
        kinds = np.array([source.partition(":")[0] for source in sources[held]])
        by_source[target] = {
            kind: {**_scores(values[held][kinds == kind], guess[kinds == kind]), "n": int((kinds == kind).sum())}
            for kind in sorted(set(kinds)) if (kinds == kind).sum() >= 20
        }  # fmt: skip

    # 2b. calibration: a quantile map fitted on out-of-fold predictions of the fitting part, per target.
    maps, effect = {}, {}
    for target, values in targets.items():
        oof = np.empty(len(fit_rows))
        for train, test in kfold.split(fit_rows):
            model = _create(best, seed).fit(pick(fit_rows[train]), values[fit_rows[train]])
            oof[test] = np.asarray(model.predict(pick(fit_rows[test])), dtype=np.float64)
        x, y_map = quantile_map(oof, values[fit_rows])
        raw = np.asarray(predictors[target].predict(pick(held)), dtype=np.float64)
        mapped = apply_map(raw, x, y_map)
        effect[target] = _calibration_effect(values[held], raw, mapped)
        maps[target] = {"x": x.tolist(), "y": y_map.tolist()}
        say(f"calibration of {target}: top-decile residual {effect[target]['before']['top_decile_residual']:+.4f} "
            f"-> {effect[target]['after']['top_decile_residual']:+.4f}")  # fmt: skip
    valid = effect["valid"]
    calibrate = abs(valid["after"]["top_decile_residual"]) < abs(valid["before"]["top_decile_residual"]) and (
        valid["after"]["kendall_tau"] >= valid["before"]["kendall_tau"] - 1e-9
    )

    # 3. leave one source out: fit on the other sources' fitting rows, score on all of this source's rows.
    loso = {}
    for source in sorted(set(sources) - {"extreme"}):
        train = fit_rows[sources[fit_rows] != source]
        test = np.flatnonzero(sources == source)
        if len(test) < 3 or len(train) < 10:
            continue
        model = _create(best, seed).fit(pick(train), y[train])
        loso[source] = _scores(y[test], np.asarray(model.predict(pick(test)), dtype=np.float64))
        say(f"leave out {source}: Kendall tau {loso[source]['kendall_tau']:.3f} on {len(test)} archs")

    # 4. learning curve: nested random subsets of the fitting part, scored on the same held-out archs.
    order = np.random.default_rng(seed + 1).permutation(fit_rows)
    points = []
    for size in sorted({*(s for s in curve if s < len(order)), len(order)}):
        model = _create(best, seed).fit(pick(order[:size]), y[order[:size]])
        tau = _scores(y[held], np.asarray(model.predict(pick(held)), dtype=np.float64))["kendall_tau"]
        points.append({"archs": int(size), "kendall_tau": tau})
        say(f"learning curve: {size} archs, held-out Kendall tau {tau:.3f}")

    quality = {
        "chosen": best,
        "choice": {"folds": folds, "cross_validated": cv},
        "split": {
            "fit": len(fit_rows),
            "heldout": len(held),
            "seed": seed,
            "heldout_from": "random and trajectory archs",
        },
        "heldout": heldout,
        "heldout_by_source": by_source,
        "leave_one_source_out": loso,
        "learning_curve": points,
        "calibration": {
            "method": "quantile map of out-of-fold predictions onto the fitting part's accuracies",
            "shipped": calibrate,
            "heldout": effect,
        },
    }
    return SurrogateFit(best, predictors, quality, maps if calibrate else None)


def _calibration_effect(measured: np.ndarray, raw: np.ndarray, mapped: np.ndarray) -> dict[str, dict[str, float]]:
    """Held-out figures before and after the map: ranking, bias of the best archs, spread."""

    def figures(predicted: np.ndarray) -> dict[str, float]:
        top = np.argsort(-measured, kind="stable")[: max(2, round(0.1 * len(measured)))]
        return {
            "kendall_tau": kendall_tau(measured, predicted),
            "kendall_tau_top_decile": kendall_tau(measured[top], predicted[top]),
            "top_precision": score(measured, predicted)["top_precision"],
            "top_decile_residual": top_residual(predicted, measured, 0.1, by="measured"),
            "top_decile_residual_by_prediction": top_residual(predicted, measured, 0.1, by="predicted"),
            "mean_residual": float(np.mean(predicted - measured)),
            "sd_ratio": float(np.std(predicted) / np.std(measured)) if np.std(measured) > 0 else float("nan"),
        }

    return {"before": figures(raw), "after": figures(mapped)}


def candidate_params(label: str) -> Mapping[str, Any]:
    """The registered name and parameters of a candidate label."""
    name, params = _parse(label)
    return {"registered_name": name, "params": dict(params)}


def split_labels(text: str) -> list[str]:
    """Candidate labels from a comma-separated list, splitting only between labels: ``gbdt,ensemble(gbdt,gp)``."""
    return [c.strip() for c in re.split(r",(?![^()]*\))", text) if c.strip()]


def ship_surrogate(
    bench_ref: str | Path,
    archive_dir: str | Path,
    *,
    candidates: Sequence[str] = CANDIDATES,
    holdout: int = 300,
    folds: int = 5,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
    command: str | None = None,
) -> tuple[SurrogateFit, dict[str, Any]]:
    """Choose, validate and fit a benchmark's surrogate on its measured archive, and store it in the benchmark.

    Args:
        bench_ref: The benchmark directory or a shipped benchmark's name.
        archive_dir: A ``build-archive`` output folder of that benchmark (``archive.csv``, ``archive.json``),
            or ``shipped:<name>``.
        candidates, holdout, folds, seed, progress: See :func:`fit_shipped_surrogate`.
        command: The command line recorded with the surrogate.

    Returns:
        The fit and the description stored beside it (``surrogate.json``).

    Raises:
        OfaBenchError: No archive there, or an archive of other weights.
    """
    from ofa_bench.benchmark.surrogate import SURROGATE_DIR, save_surrogate
    from ofa_bench.benchmark.trained import Benchmark
    from ofa_bench.benchmark.zoo import resolve_archive, resolve_benchmark
    from ofa_bench.io.untrusted import read_json

    folder = resolve_archive(archive_dir)
    csv, meta = folder / "archive.csv", folder / "archive.json"
    if not csv.is_file() or not meta.is_file():
        raise OfaBenchError(f"--archive {str(folder)!r}: no archive.csv and archive.json there; make them with build-archive")
    archive_info = read_json(meta, f"archive description {str(meta)!r}")
    directory = resolve_benchmark(bench_ref)
    bench = Benchmark.load(directory)
    if archive_info.get("fingerprint") != bench.fingerprint:
        raise OfaBenchError(
            f"archive {str(folder)!r} was measured on benchmark {archive_info.get('fingerprint')}, not {bench.fingerprint}"
        )
    table = pd.read_csv(csv)
    fit = fit_shipped_surrogate(
        table, bench.space, candidates=candidates, holdout=holdout, folds=folds, seed=seed, progress=progress
    )
    summary = archive_info.get("summary", {})
    noise = dict(summary.get("noise") or {})
    noise["sd"] = noise.get("sd") or 0.0  # none when the archive has no re-measured archs
    noise["split_half"] = summary.get("split_half")
    info = {
        "predictor": fit.label,
        **candidate_params(fit.label),
        "kendall_tau": fit.quality["heldout"]["valid"]["kendall_tau"],
        "quality": fit.quality,
        "noise": noise,
        **({"calibration": fit.calibration} if fit.calibration is not None else {}),
        "archive": {
            "file": os.path.relpath(csv.resolve(), (directory / SURROGATE_DIR).resolve()),
            "n": len(table),
            "fingerprint": bench.fingerprint,
        },
        "command": command,
    }
    save_surrogate(directory, fit.predictors, info)
    return fit, info
