"""The performance gate's arithmetic (benchmarks/gate.py), on made-up timings: no clocks involved."""

from __future__ import annotations

import json

import pytest

from benchmarks import gate
from benchmarks.gate import Timing

FIXTURES = gate.ROOT / "benchmarks" / "perf_fixtures"


def _bench(name, seconds, kind, rounds=5, kernel=None):
    info = {"calibration": kind}
    if kernel is not None:
        info["kernel_min"] = kernel
    return {"fullname": f"benchmarks/{name}", "stats": {"min": seconds, "rounds": rounds}, "extra_info": info}


def _kernel(kind, seconds):
    info = {"calibration": kind, "calibration_kernel": kind}
    return {"fullname": f"benchmarks/test_calibration.py::test_calibration[{kind}]", "stats": {"min": seconds, "rounds": 15}, "extra_info": info}


def _write(path, benches, kernels):
    path.write_text(json.dumps({"benchmarks": benches + kernels, "machine_info": {"cpu": {"brand_raw": "test"}}}))
    return path


def _row(rows, name):
    return next(r for r in rows if r.name == name)


@pytest.fixture
def baseline(tmp_path):
    run = _write(tmp_path / "base_run.json", [_bench("a.py::fast", 0.01, "numpy"), _bench("a.py::conv", 0.1, "torch")],
                 [_kernel("numpy", 0.002), _kernel("torch", 0.02)])  # fmt: skip
    dest = tmp_path / "baseline.json"
    gate.save([run], dest)
    return gate.read_baseline(dest)


def test_uniformly_slower_machine_passes(baseline):
    base, kernels = baseline
    now = {"a.py::fast": Timing(0.03, 5, "numpy"), "a.py::conv": Timing(0.3, 5, "torch"),
           "k1": Timing(0.006, 15, "numpy", True), "k2": Timing(0.06, 15, "torch", True)}  # fmt: skip
    rows = gate.compare(base, kernels, now)
    assert [r.status for r in rows] == ["PASS", "PASS"]
    assert all(r.normalised == pytest.approx(1.0) for r in rows)
    assert not gate.failed(rows)


def test_2x_slower_benchmark_fails_and_names_it(baseline):
    base, kernels = baseline
    now = {"a.py::fast": Timing(0.01, 5, "numpy"), "a.py::conv": Timing(0.2, 5, "torch"),
           "k1": Timing(0.002, 15, "numpy", True), "k2": Timing(0.02, 15, "torch", True)}  # fmt: skip
    rows = {r.name: r for r in gate.compare(base, kernels, now)}
    assert rows["a.py::conv"].status == "FAIL" and rows["a.py::conv"].normalised == pytest.approx(2.0)
    assert rows["a.py::fast"].status == "PASS"
    assert "FAIL" in gate.table(list(rows.values())).splitlines()[-1]


def test_a_machine_faster_at_the_kernel_is_never_accused(baseline):
    """Same wall time on a machine twice as fast at the kernel: normalised 2.0, but raw 1.0, so it passes.

    Dividing by a kernel that ran faster is what failed three fresh machines whose code had not changed
    (an AMD EPYC's torch kernel at 0.58-0.66 of the Intel baseline, the benchmark itself at 0.96-1.06).
    """
    base, kernels = baseline
    now = {"a.py::fast": Timing(0.01, 5, "numpy"), "a.py::conv": Timing(0.1, 5, "torch"),
           "k1": Timing(0.001, 15, "numpy", True), "k2": Timing(0.02, 15, "torch", True)}  # fmt: skip
    rows = {r.name: r for r in gate.compare(base, kernels, now)}
    assert rows["a.py::fast"].normalised == pytest.approx(2.0) and rows["a.py::fast"].judged == pytest.approx(1.0)
    assert rows["a.py::fast"].status == "PASS"


def test_2x_slower_fails_on_a_faster_machine_and_is_excused_on_a_2x_slower_one(baseline):
    base, kernels = baseline
    faster = {"a.py::fast": Timing(0.02, 5, "numpy"), "k1": Timing(0.001, 15, "numpy", True)}
    row = _row(gate.compare(base, kernels, faster), "a.py::fast")
    assert row.status == "FAIL" and row.ratio == pytest.approx(2.0) and row.judged == pytest.approx(2.0)
    slower = {"a.py::fast": Timing(0.02, 5, "numpy"), "k1": Timing(0.004, 15, "numpy", True)}
    row = _row(gate.compare(base, kernels, slower), "a.py::fast")
    assert row.status == "PASS" and row.judged == pytest.approx(1.0)
    # Slower than the threshold raw, and the machine only 1.1x slower: 1.8 / 1.1 = 1.64 > 1.6 fails.
    slightly = {"a.py::fast": Timing(0.018, 5, "numpy"), "k1": Timing(0.0022, 15, "numpy", True)}
    row = _row(gate.compare(base, kernels, slightly), "a.py::fast")
    assert row.status == "FAIL" and row.judged == pytest.approx(1.8 / 1.1)


@pytest.mark.parametrize("run", sorted(FIXTURES.glob("amd-*.json")), ids=lambda p: p.stem)
def test_runs_from_other_cpus_pass_the_gate(run):
    """Runs of unchanged code on AMD EPYC machines pass against the Intel Xeon baseline of that code."""
    base, kernels = gate.read_baseline(FIXTURES / "baseline-9bce53d.json")
    rows = gate.compare(base, kernels, gate.read_run(run))
    assert not gate.failed(rows), gate.table(rows)
    gated = [r for r in rows if r.judged is not None]
    assert len(gated) >= 40
    # The case the old rule failed: the torch kernel ran faster there, the benchmark did not get slower.
    forward = [r for r in gated if r.name.startswith("test_core_perf.py::test_elastic_vs_static_forward")]
    assert forward and all(r.factor < 0.75 and r.ratio < 1.1 for r in forward)


def test_the_baseline_machines_2x_still_fails_with_the_fixture_kernels():
    """A 2x slowdown of one benchmark in an AMD run (its own kernels kept) fails the gate."""
    base, kernels = gate.read_baseline(FIXTURES / "baseline-9bce53d.json")
    now = gate.read_run(FIXTURES / "amd-epyc-2core-9bce53d.json")
    name = "test_core_perf.py::test_costs_throughput_array"
    slowed = {**now, name: Timing(2 * base[name].min, now[name].rounds, now[name].kind, kernel=now[name].kernel)}
    rows = {r.name: r for r in gate.compare(base, kernels, slowed)}
    assert rows[name].status == "FAIL"


def test_adjacent_kernel_is_preferred_to_the_sessions():
    base = {"b": Timing(0.01, 5, "numpy", kernel=0.002)}
    now = {"b": Timing(0.02, 5, "numpy", kernel=0.004), "k": Timing(0.002, 15, "numpy", True)}
    (row,) = gate.compare(base, {"numpy": 0.002}, now)
    assert row.factor == pytest.approx(2.0) and row.status == "PASS"


def test_single_round_and_missing_kind_are_invalid(baseline):
    base, kernels = baseline
    now = {"a.py::fast": Timing(0.01, 1, "numpy"), "a.py::conv": Timing(0.1, 5, None),
           "k1": Timing(0.002, 15, "numpy", True)}  # fmt: skip
    rows = {r.name: r for r in gate.compare(base, kernels, now)}
    assert rows["a.py::fast"].status == "INVALID" and "rounds" in rows["a.py::fast"].note
    assert rows["a.py::conv"].status == "INVALID"
    assert len(gate.failed(list(rows.values()))) == 2


def test_new_and_skipped_benchmarks_are_listed_not_failed(baseline):
    base, kernels = baseline
    now = {"a.py::fast": Timing(0.01, 5, "numpy"), "a.py::new": Timing(0.1, 5, "numpy"),
           "k1": Timing(0.002, 15, "numpy", True)}  # fmt: skip
    rows = {r.name: r for r in gate.compare(base, kernels, now)}
    assert rows["a.py::new"].status == "NEW" and rows["a.py::conv"].status == "NOT RUN"
    assert not gate.failed(list(rows.values()))


def test_confirm_keeps_only_repeated_failures():
    first = [gate.Row("x", "numpy", "FAIL", 2.0, 1.0, 2.0), gate.Row("y", "numpy", "FAIL", 2.0, 1.0, 2.0)]
    retry = [gate.Row("x", "numpy", "PASS", 1.1, 1.0, 1.1), gate.Row("y", "numpy", "FAIL", 2.1, 1.0, 2.1)]
    out = {r.name: r for r in gate.confirm(first, retry)}
    assert out["x"].status == "PASS" and out["y"].status == "FAIL"
    assert "re-measured" in out["y"].note


def test_bad_files_exit_2(tmp_path, capsys):
    (tmp_path / "bad.json").write_text("{not json")
    assert gate.main(["check", str(tmp_path / "bad.json"), "--baseline", str(tmp_path / "bad.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gate: cannot read") and len(err.strip().splitlines()) == 1


def test_committed_baseline_covers_every_benchmark_kind():
    base, kernels = gate.read_baseline(gate.DEFAULT_BASELINE)
    assert base and {t.kind for t in base.values()} <= set(kernels)
    assert all(t.rounds >= gate.MIN_ROUNDS for t in base.values())


def test_targets_table_says_pass_miss_and_not_measured():
    from benchmarks import targets

    figures = {"forward_ratio": [0.96, 0.98, 0.99, 1.2], "costs_rate": [60_000.0], "strategy_overhead_ms": [1.0, 6.0]}
    verdicts = {(t.measure, t.key): v for t, _, v in targets.verdicts(figures)}
    by_key = {}
    for (measure, key), verdict in verdicts.items():
        by_key.setdefault(key, []).append(verdict)
    assert by_key["forward_ratio"] == ["PASS", "MISS"]  # median 0.985 <= 1.0; worst 1.2 > 1.0
    assert by_key["costs_rate"] == ["PASS"]
    assert by_key["strategy_overhead_ms"] == ["MISS"]  # the worst built-in counts
    assert by_key["live_eval_s"] == ["not measured"]
    assert targets.table(figures)[-1].endswith("not measured")
    with pytest.raises(KeyError):
        targets.record("no-such-target", 1.0)


def test_a_miss_says_whether_its_ceiling_could_meet_the_bound():
    from benchmarks import targets

    figures = {"evolution_vs_ofa_own_counter": [8.0], "evolution_vs_ofa_flops": [60.0], "costs_rate": [60_000.0]}
    ceilings = {"evolution_vs_ofa_own_counter": 28.0, "evolution_vs_ofa_flops": 208.0, "costs_rate": 1e6}
    rows = {line.split("  ")[0].strip(): line for line in targets.table(figures, ceilings)[1:]}
    own = next(v for k, v in rows.items() if k.startswith("evolution / ofa EvolutionFinder, both"))
    flops = next(v for k, v in rows.items() if k.startswith("evolution / ofa EvolutionFinder with"))
    assert own.endswith("MISS (ceiling 28.0 here: out of reach)")  # 28 < 50: no strategy gets there
    assert flops.endswith("MISS (ceiling 208)")  # within reach: the strategy's own cost is what misses
    assert next(v for k, v in rows.items() if k.startswith("analytic MACs")).endswith("PASS")  # a PASS stays bare
    with pytest.raises(KeyError):
        targets.record_ceiling("no-such-target", 1.0)


def test_a_changed_kind_is_invalid_not_normalised_by_the_wrong_kernel():
    base = {"b": Timing(0.01, 5, "numpy", kernel=0.002)}
    now = {"b": Timing(0.01, 5, "torch", kernel=0.02)}
    (row,) = gate.compare(base, {}, now)
    assert row.status == "INVALID" and "'numpy'" in row.note


def test_targets_name_the_cpu_they_were_measured_on(monkeypatch):
    from benchmarks import targets

    line = targets.machine_line(1)
    assert targets.cpu_model() in line and "1 thread(s) per runtime" in line
    assert "not a failed build" in line
    monkeypatch.setattr("builtins.open", lambda *a, **k: (_ for _ in ()).throw(OSError("no /proc")))
    assert targets.cpu_model()  # falls back to platform.processor() / machine()
