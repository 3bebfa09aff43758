"""``scripts/rank_agreement.py``'s calibration check: random search's proposals scored by the surrogate
with and without its calibration map, against the live run (docs/fmnist_benchmark.md, section 5).

A fake live run of six archs from the shipped archive (their measured accuracy and MACs); no data set.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ofa_bench.benchmark.surrogate import ShippedSurrogate, load_surrogate
from ofa_bench.metrics.anytime import anytime_hypervolume
from ofa_bench.metrics.normalise import Normalisation

ROOT = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location("rank_agreement", ROOT / "scripts" / "rank_agreement.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def live_run(tmp_path_factory) -> tuple[Path, list, pd.DataFrame]:
    archive = pd.read_csv(ROOT / "ofa_bench/benchmark/shipped/fmnist/archive/archive.csv")
    rows = archive.sort_values("accuracy").iloc[[0, 500, 1000, 1500, 2000, -1]]  # weak to best
    out = tmp_path_factory.mktemp("agreement") / "live"
    unit = out / "units" / "random-s0"
    unit.mkdir(parents=True)
    lines, records = [], []
    for n, row in enumerate(rows.itertuples(), start=1):
        record = {"accuracy": row.accuracy, "latency:mmacs": row.macs / 1e6}
        lines.append(json.dumps({"n": n, "arch": json.loads(row.arch), "record": record}))
        records.append({"n": n, **record})
    (unit / "log.jsonl").write_text("\n".join(lines) + "\n")
    return out, [json.loads(a) for a in rows["arch"]], pd.DataFrame(records)


def _norm() -> Normalisation:
    """The agreement suite's fixed box (benchmarks/agreement.yaml), as its ``suite.json`` records it."""
    return Normalisation.from_dict({
        "objectives": [{"column": "accuracy", "direction": "max"}, {"column": "latency:mmacs", "direction": "min"}],
        "bounds": {"accuracy": [0.80, 0.92], "latency:mmacs": [0.7, 15.2]}, "reference": 2.0,
    })  # fmt: skip


def test_bias_before_and_after_calibration_on_the_same_archs(live_run) -> None:
    out, archs, records = live_run
    norm = _norm()
    live = float(anytime_hypervolume(records, norm)["hv"].iloc[-1])
    effect = _script().calibration_effect(out, norm, pd.Series({0: live}))
    row = effect["by_seed"][0]

    calibrated = load_surrogate("fmnist")
    assert calibrated.calibration is not None  # the shipped surrogate is calibrated: the two must differ
    raw = ShippedSurrogate(predictor=calibrated.predictor, target=calibrated.target, label=calibrated.label)
    space = calibrated.predictor.space_
    decoded = [space.from_dict(a) for a in archs]
    for name, surrogate in (("before", raw), ("after", calibrated)):
        predicted = surrogate.predict(decoded)
        expected = float(anytime_hypervolume(records.assign(accuracy=predicted), norm)["hv"].iloc[-1]) - live
        assert row[name] == pytest.approx(expected, abs=1e-12)
    assert row["before"] != row["after"] and row["live"] == live
    assert effect["bias_before"]["seeds"] == 1 and effect["bias_after"]["median"] == row["after"]
    assert effect["bias_before"]["negative_seeds"] == int(row["before"] < 0)
    assert np.isfinite([row["before"], row["after"]]).all()


def test_a_live_hypervolume_that_is_not_the_runs_own_is_refused(live_run) -> None:
    out, _, records = live_run
    norm = _norm()
    live = float(anytime_hypervolume(records, norm)["hv"].iloc[-1])
    with pytest.raises(SystemExit, match="recomputed live hv"):
        _script().calibration_effect(out, norm, pd.Series({0: live + 0.01}))
