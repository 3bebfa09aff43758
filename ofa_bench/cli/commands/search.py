"""``ofa-bench search``: one search strategy on one benchmark, to a budget of evaluations.

Writes the run log (``run.json`` + ``log.jsonl``, see :mod:`ofa_bench.search.runlog`) and the final
Pareto set under the constraints (``pareto.jsonl``, ``pareto.csv``) to ``--out``; rerun with the
same ``--out`` and settings to resume after an interruption.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ofa_bench.cli import arguments, output, progress
from ofa_bench.errors import OfaBenchError
from ofa_bench.io.untrusted import limits
from ofa_bench.plugins import registry

__all__ = ["add_commands", "check_columns", "parse_params"]

PARETO_JSONL = "pareto.jsonl"
PARETO_CSV = "pareto.csv"


def add_commands(command: Any, group: Any) -> None:
    """Add ``ofa-bench search``."""
    p = command("search", _cmd_search, "run one search strategy on a benchmark to a budget of evaluations")
    p.set_defaults(on_interrupt=output.rerun_resumes)  # the run log in --out
    p.add_argument(
        "--bench", required=True, metavar="DIR|NAME", help="benchmark directory (benchmark.json + supernet.pt) or shipped name (e.g. fmnist)"
    )
    p.add_argument(
        "--strategy", required=True, metavar="SPEC",
        help="strategy name or spec, e.g. nsga2 or 'nsga2:pop_size=20' (see 'ofa-bench plugins')",
    )
    p.add_argument(
        "--objectives", default="accuracy,latency:mmacs", metavar="A,B",
        help="record columns to optimise; accuracy is maximised, the rest minimised; max:/min: prefixes "
        "override (default accuracy,latency:mmacs)",
    )  # fmt: skip
    p.add_argument(
        "--budget", type=arguments.int_at_least(1, limits.MAX_BUDGET), required=True, metavar="N",
        help="evaluations to spend",
    )
    p.add_argument("--seed", type=arguments.seed, default=0, help="strategy seed (default 0)")
    p.add_argument(
        "--constraint", action="append", default=[], metavar="COL<=X",
        help="upper limit on a record column, e.g. 'macs<=300e6' or 'latency:lut<=12'; repeatable",
    )  # fmt: skip
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="strategy parameter; repeatable")
    p.add_argument(
        "--batch-size", type=arguments.int_at_least(1, limits.MAX_BATCH), metavar="B",
        help="archs per ask (default: strategy's)",
    )
    p.add_argument(
        "--oracle", default="live", metavar="live|shipped|surrogate:FILE",
        help="accuracy from the supernet (live, default), the benchmark's shipped surrogate (no data needed) "
        "or a saved predictor file",
    )  # fmt: skip
    p.add_argument(
        "--backends", type=arguments.backends, default=(), metavar="A,B",
        help="more hardware backends to record (those named in objectives and constraints always are)",
    )  # fmt: skip
    p.add_argument("--device", choices=["cpu", "cuda"], help="where the supernet runs (default: cuda when present)")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the benchmark's cache.sqlite")
    p.add_argument("--out", required=True, metavar="DIR", help="run directory: run.json, log.jsonl, pareto.jsonl/.csv")


def parse_params(items: Sequence[str]) -> dict[str, Any]:
    """``["population_size=50", "dedupe=false"]`` into typed values (YAML scalars).

    Raises:
        OfaBenchError: An item without ``=`` or with an empty key.
    """
    from ofa_bench.io.untrusted import parse_yaml

    params: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise OfaBenchError(f"--param {item!r} must read KEY=VALUE, e.g. population_size=50")
        try:
            params[key.strip()] = parse_yaml(text, f"--param {key.strip()}") if text.strip() else None
        except OfaBenchError:
            params[key.strip()] = text
    return params


def check_columns(columns: Sequence[tuple[str, str]]) -> None:
    """Check that every (role, column) pair names a column some record can hold.

    ``accuracy``, ``loss``, ``macs`` and ``params`` always exist; ``latency:<name>`` needs an
    installed hardware backend ``<name>``.

    Raises:
        OfaBenchError: Naming the column and what is allowed.
    """
    from ofa_bench.objectives import BASE_COLUMNS

    backends = registry.names("hardware")
    for role, column in columns:
        kind, _, backend = column.partition(":")
        if column in BASE_COLUMNS:
            continue
        if kind == "latency" and backend:
            if backend not in backends:
                raise OfaBenchError(
                    f"{role} column {column!r}: no hardware backend {backend!r} provides it; "
                    f"known backends: {', '.join(backends) or 'none'}"
                )
            continue
        raise OfaBenchError(
            f"{role} column {column!r} is not a record column; allowed: {', '.join(BASE_COLUMNS)}, latency:<backend>"
        )


def _cmd_search(args: argparse.Namespace) -> int:
    from ofa_bench.nn import resolve_device
    from ofa_bench.objectives import backends_for, check_satisfiable, parse_constraint, parse_objectives
    from ofa_bench.search.loop import evaluator_fn, run_search

    name, spec_params = registry.parse_spec(args.strategy)
    registry.get("strategy", name)  # an unknown name fails here, listing the known ones
    objectives = parse_objectives(args.objectives)
    constraints = tuple(parse_constraint(c) for c in args.constraint)
    check_columns([("objective", o.column) for o in objectives] + [("constraint", c.column) for c in constraints])
    params = {**spec_params, **parse_params(args.param)}  # checked by registry.create, before any evaluation
    if args.device is not None:
        resolve_device(args.device)  # as evaluate does, whatever the oracle: a shipped one runs on the CPU
    columns = [o.column for o in objectives] + [c.column for c in constraints]
    backends = backends_for(columns, args.backends)
    oracle = _oracle(args.oracle, args.bench)

    from ofa_bench.evaluate import Evaluator

    if oracle is not None and "loss" in columns:
        role = "objective" if "loss" in [o.column for o in objectives] else "constraint"
        raise OfaBenchError(
            f"{role} column 'loss' is measured by the live oracle only; --oracle {args.oracle} answers accuracy "
            "(use --oracle live, or accuracy)"
        )
    with Evaluator(args.bench, device=args.device, cache=not args.no_cache, oracle=oracle) as evaluator:
        check_satisfiable(evaluator.space, constraints)
        out = Path(args.out)
        meta = {
            "benchmark": str(evaluator.benchmark.directory),
            "fingerprint": evaluator.benchmark.fingerprint,
            "oracle": evaluator.oracle_label,
            "backends": list(backends),
        }
        start = time.perf_counter()
        with progress.counting_bar(args, f"{name} search") as update:
            result = run_search(
                name, evaluator.space, objectives, constraints, evaluator_fn(evaluator, backends),
                args.budget, args.seed, batch_size=args.batch_size, strategy_params=params, run_dir=out,
                progress=update, meta=meta,
            )  # fmt: skip
        seconds = time.perf_counter() - start
    pareto = result.pareto()
    _write_pareto(out, pareto)
    return _report(args, result, pareto, seconds)


def _oracle(text: str, bench: str) -> Any:
    if text == "live":
        return None
    if text == "shipped":
        from ofa_bench.benchmark.surrogate import load_surrogate

        return load_surrogate(bench)
    kind, sep, path = text.partition(":")
    if kind != "surrogate" or not sep or not path:
        raise OfaBenchError(f"--oracle {text!r}: use 'live', 'shipped' or 'surrogate:<predictor file>'")
    from ofa_bench.io.predictor_files import load_predictor

    return load_predictor(path)


def _write_pareto(out: Path, pareto: Any) -> None:
    from ofa_bench.io.atomic import write_text_atomic

    lines = []
    for row in pareto.to_dict(orient="records"):
        arch = json.loads(row.pop("arch"))
        lines.append(json.dumps({**arch, **{k: output.plain(v) for k, v in row.items()}}, separators=(",", ":")) + "\n")
    write_text_atomic(out / PARETO_JSONL, "".join(lines))
    write_text_atomic(out / PARETO_CSV, pareto.to_csv(index=False))


def _report(args: argparse.Namespace, result: Any, pareto: Any, seconds: float) -> int:
    import numpy as np

    meta = result.meta
    best = {}
    for o in result.objectives:
        values = result.records.get(o.column, np.zeros(0))
        feasible = values[result.feasible()] if len(values) else values
        pick = np.nanmax if o.direction == "max" else np.nanmin
        best[o.column] = output.plain(float(pick(feasible))) if np.isfinite(feasible).any() else None
    summary = {
        "strategy": meta["strategy"], "seed": meta["seed"], "budget": meta["budget"], "evaluations": len(result),
        "unique": int(len(np.unique(result.X, axis=0))), "feasible": int(result.feasible().sum()),
        "pareto": len(pareto), "best": best, "strategy_s": float(result.times[:, 1].sum()),
        "eval_s": float(result.times[:, 0].sum()), "seconds": round(seconds, 3), "out": str(args.out),
        "fingerprint": meta.get("fingerprint"), "oracle": meta.get("oracle"),
    }  # fmt: skip
    n = len(result)
    rows = [
        ["evaluations", f"{summary['evaluations']} ({summary['unique']} unique, {summary['feasible']} feasible)"],
        ["Pareto set", f"{summary['pareto']} archs -> {Path(args.out) / PARETO_JSONL}"],
        *[[f"best {column}", "-" if value is None else f"{value:.6g}"] for column, value in best.items()],
        ["strategy time", f"{summary['strategy_s']:.3f} s ({1e3 * summary['strategy_s'] / max(1, n):.2f} ms/arch)"],
        ["evaluation time", f"{summary['eval_s']:.1f} s"],
    ]  # fmt: skip
    constraints = ", ".join(meta.get("constraints", [])) or "none"
    oracle = meta.get("oracle")
    caption = f"objectives {args.objectives}; constraints {constraints}; {oracle} accuracy; run log in {args.out}"
    title = f"{meta['strategy']} search, seed {meta['seed']}"
    return output.print_figures(args, summary, title, ["", ""], rows, caption=caption, header=False)
