"""Saving and loading predictors: no code runs on load, and every bad file is a one-line error."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from ofa_bench.errors import OfaBenchError
from ofa_bench.io.predictor_files import FORMAT, VERSION, load_predictor, save_predictor
from ofa_bench.plugins import registry
from ofa_bench.plugins.testing.predictors import synthetic_targets
from ofa_bench.space import get_space

MINI = get_space("ofa-mini")


@pytest.fixture(scope="module")
def data():
    archs = MINI.sample(40, rng=1)
    return archs, synthetic_targets(archs, MINI)


@pytest.fixture
def saved(data, tmp_path: Path) -> Path:
    archs, y = data
    return save_predictor(registry.create("predictor", "gp").fit(archs, y), tmp_path / "gp.zip")


def _rewrite(path: Path, out: Path, meta_change=None, member_change=None) -> Path:
    """Copy a predictor file, changing its metadata or the bytes of its state members."""
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            if name == "predictor.json" and meta_change:
                meta = json.loads(data)
                meta_change(meta)
                data = json.dumps(meta).encode()
            elif name != "predictor.json" and member_change:
                data = member_change(data)
            dst.writestr(name, data)
    return out


def _error(path: Path) -> str:
    with pytest.raises(OfaBenchError) as info:
        load_predictor(path)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_file_records_format_name_params_and_space(saved: Path) -> None:
    with zipfile.ZipFile(saved) as archive:
        meta = json.loads(archive.read("predictor.json"))
    assert (meta["format"], meta["version"], meta["predictor"], meta["space"]) == (FORMAT, VERSION, "gp", "ofa-mini")
    assert meta["params"]["kernel"] == "rbf+linear"
    assert meta["state"]["model"]["kind"] == "skops"


def test_the_column_a_predictor_was_fitted_on_travels_and_keeps_it_from_answering_accuracy(
    data, saved: Path, tmp_path: Path
) -> None:
    from ofa_bench.benchmark import Benchmark
    from ofa_bench.data import DataSpec
    from ofa_bench.evaluate import Evaluator
    from ofa_bench.nn import ElasticMobileNetV3

    archs, y = data
    gp = registry.create("predictor", "gp").fit(archs, y)
    macs = load_predictor(save_predictor(gp, tmp_path / "macs.zip", predicts="macs"))
    assert macs.predicts_ == "macs" and not hasattr(load_predictor(saved), "predicts_")  # older files: unknown
    np.testing.assert_allclose(macs.predict(archs), gp.predict(archs))
    bench = Benchmark.create(tmp_path / "bench", ElasticMobileNetV3(MINI), DataSpec(calib_size=16), {}, 16)
    with pytest.raises(OfaBenchError, match="the oracle was fitted to predict 'macs', not accuracy"):
        Evaluator(bench, oracle=macs)
    accuracy = load_predictor(save_predictor(gp, tmp_path / "acc.zip", predicts="accuracy"))
    with Evaluator(bench, oracle=accuracy, cache=False) as evaluator:
        assert len(evaluator.evaluate(archs[:3])) == 3
    bad = _rewrite(tmp_path / "acc.zip", tmp_path / "bad.zip", meta_change=lambda m: m.update(predicts=[1]))
    assert "predicts must be a column name" in _error(bad)


def test_mlp_weights_are_a_torch_weights_only_file(data, tmp_path: Path) -> None:
    import torch

    archs, y = data
    mlp = registry.create("predictor", "mlp", hidden_size=16, max_epochs=5, device="cpu").fit(archs, y)
    path = save_predictor(mlp, tmp_path / "mlp.zip")
    with zipfile.ZipFile(path) as archive:
        import io

        weights = torch.load(io.BytesIO(archive.read("state/weights.pt")), weights_only=True)
    assert weights["0.weight"].shape == (16, mlp.n_features_in_)
    np.testing.assert_array_equal(load_predictor(path).predict(archs), mlp.predict(archs))


def test_version_mismatch(saved: Path, tmp_path: Path) -> None:
    path = _rewrite(saved, tmp_path / "v9.zip", meta_change=lambda m: m.update(version=9))
    assert "format version 9; this ofa-bench reads version 1" in _error(path)


def test_wrong_kind_of_file(saved: Path, tmp_path: Path) -> None:
    not_zip = tmp_path / "records.jsonl"
    not_zip.write_text('{"ks": [3]}\n')
    assert "not an ofa-bench predictor file" in _error(not_zip)
    other_zip = tmp_path / "other.zip"
    with zipfile.ZipFile(other_zip, "w") as archive:
        archive.writestr("data.pkl", b"\x80\x04")
    assert "has no predictor.json" in _error(other_zip)
    foreign = _rewrite(saved, tmp_path / "foreign.zip", meta_change=lambda m: m.update(format="something-else"))
    assert "format 'something-else'" in _error(foreign)


def test_truncated_and_corrupted(saved: Path, tmp_path: Path) -> None:
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(saved.read_bytes()[:-100])
    assert "truncated" in _error(truncated)
    flipped = bytearray(saved.read_bytes())
    start = flipped.find(b"state/model.skops") + 200  # inside the stored model's bytes
    flipped[start : start + 64] = bytes(64)
    corrupted = tmp_path / "corrupted.zip"
    corrupted.write_bytes(bytes(flipped))
    assert "corrupted" in _error(corrupted)
    garbage = _rewrite(saved, tmp_path / "garbage.zip", member_change=lambda b: b"not a model")
    assert "not a valid skops model" in _error(garbage)


def test_unknown_predictor_and_missing_file(saved: Path, tmp_path: Path) -> None:
    path = _rewrite(saved, tmp_path / "unknown.zip", meta_change=lambda m: m.update(predictor="nope"))
    assert "unknown accuracy predictor 'nope'; known: ensemble, gbdt, gp, mlp, rf" in _error(path)
    assert "not found" in _error(tmp_path / "absent.zip")


def test_types_outside_the_class_allowlist_are_refused(saved: Path, tmp_path: Path) -> None:
    """A GP's model relabelled as a gbdt file: skops would have to build kernel types gbdt does not trust."""

    def as_gbdt(meta: dict) -> None:
        meta.update(predictor="gbdt", params={})

    path = _rewrite(saved, tmp_path / "relabelled.zip", meta_change=as_gbdt)
    assert "refusing to load untrusted types sklearn.gaussian_process.kernels" in _error(path)


def test_unfitted_predictor_cannot_be_saved(tmp_path: Path) -> None:
    with pytest.raises(OfaBenchError, match="not fitted"):
        save_predictor(registry.create("predictor", "rf"), tmp_path / "rf.zip")
    assert not (tmp_path / "rf.zip").exists()


def test_save_is_atomic_and_replaces(data, saved: Path) -> None:
    archs, y = data
    before = saved.read_bytes()
    save_predictor(registry.create("predictor", "rf", n_estimators=5).fit(archs, y), saved)
    assert saved.read_bytes() != before
    assert type(load_predictor(saved)).name == "rf"
    assert [p.name for p in saved.parent.iterdir()] == [saved.name]  # no temporary file left
