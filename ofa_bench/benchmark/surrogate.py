"""A benchmark's shipped surrogate: fitted predictors of its accuracies, so suites need no data.

A benchmark directory may hold ``surrogate/surrogate.json`` and one predictor file per target
(:mod:`ofa_bench.io.predictor_files` format)::

    {"format": "ofa-bench-surrogate", "version": 1,
     "fingerprint": "<benchmark fingerprint it was fitted for>",
     "predictor": "<label, e.g. 'gbdt' or 'ensemble(gbdt,mlp)'>",
     "targets": {"valid": "valid.predictor", "test": "test.predictor"},
     "kendall_tau": <held-out Kendall tau on validation accuracy>,
     "quality": {...}, "noise": {"sd": <sd of one live measurement of validation accuracy>, ...},
     "archive": {"file": "../archive.csv" or null, "n": <archs>},
     "calibration": {"valid": {"x": [...], "y": [...]}, "test": {...}},   (optional)
     "command": "<the command that made it>"}

``calibration`` (optional) holds, per target, the knots of a strictly increasing quantile map
(:mod:`ofa_bench.metrics.calibration`) applied to the predictor's output: it undoes the shrinkage of
a regression model toward the mean without changing any ranking. ``valid`` answers a suite's searches (``oracle: {mode: shipped}``), ``test`` re-measures their
final fronts for the verdict. :func:`load_surrogate` returns a :class:`ShippedSurrogate`, whose
:attr:`~ShippedSurrogate.oracle_label` (``shipped:<surrogate fingerprint>``) names it in records
and caches, so its answers never mix with the supernet's or another surrogate's.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ofa_bench.errors import OfaBenchError
from ofa_bench.io.atomic import atomic_path, write_text_atomic
from ofa_bench.io.untrusted import excerpt, read_json
from ofa_bench.metrics.calibration import apply_map
from ofa_bench.plugins.interfaces import Predictor

__all__ = [
    "SURROGATE_DIR",
    "SURROGATE_FILE",
    "SURROGATE_TARGETS",
    "ShippedSurrogate",
    "load_surrogate",
    "no_surrogate_message",
    "save_surrogate",
    "quality_figures",
    "surrogate_fingerprint",
    "surrogate_info",
]

#: The folder of a benchmark's surrogate.
SURROGATE_DIR = "surrogate"
#: Its description, inside :data:`SURROGATE_DIR`.
SURROGATE_FILE = "surrogate.json"
#: What a surrogate may predict: validation accuracy (search) and test accuracy (verdicts).
SURROGATE_TARGETS = ("valid", "test")
FORMAT = "ofa-bench-surrogate"
VERSION = 1
_KEYS = ("fingerprint", "predictor", "targets", "kendall_tau", "quality", "noise", "archive", "command")


def _resolve(directory: str | os.PathLike[str]) -> Path:
    from ofa_bench.benchmark.zoo import resolve_benchmark

    return resolve_benchmark(directory)


def no_surrogate_message(directory: str | os.PathLike[str]) -> str:
    """One line saying that a benchmark has no shipped surrogate and how to get one."""
    return (
        f"benchmark {os.fspath(directory)!r} ships no surrogate ({SURROGATE_DIR}/{SURROGATE_FILE}); make one with "
        "ofa_bench.benchmark.surrogate.save_surrogate, or use oracle.mode surrogate or live"
    )


def surrogate_info(directory: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The validated ``surrogate.json`` of a benchmark directory (or shipped name); ``None`` without one.

    Raises:
        OfaBenchError: One line naming the file and the field that is wrong.
    """
    path = _resolve(directory) / SURROGATE_DIR / SURROGATE_FILE
    if not path.is_file():
        return None
    where = f"surrogate file {str(path)!r}"
    info = read_json(path, where)  # shipped with a package, written by anyone: bounded
    _validate(info, where)
    return info


def quality_figures(info: dict[str, Any]) -> dict[str, Any]:
    """The headline figures of a surrogate's quality, as shipped (calibrated when it is), from its ``surrogate.json``.

    Returns:
        ``kendall_tau`` (held-out, valid target), ``kendall_tau_top_decile``, ``top_precision``,
        ``top_decile_residual`` (mean prediction minus measurement over the held-out archs in the
        top decile of measured accuracy) and ``calibrated``, plus the sizes: ``archs`` (archive),
        ``fit`` and ``heldout``. A figure the file does not hold (an older fit) is ``None``.
    """
    quality = info.get("quality") if isinstance(info.get("quality"), dict) else {}
    calibration = quality.get("calibration") if isinstance(quality.get("calibration"), dict) else {}
    shipped = bool(calibration.get("shipped")) and "calibration" in info
    effect = ((calibration.get("heldout") or {}).get("valid") or {}).get("after" if shipped else "before") or {}
    split = quality.get("split") if isinstance(quality.get("split"), dict) else {}
    archive = info.get("archive") if isinstance(info.get("archive"), dict) else {}
    return {
        "kendall_tau": info.get("kendall_tau"),
        "kendall_tau_top_decile": effect.get("kendall_tau_top_decile"),
        "top_precision": effect.get("top_precision"),
        "top_decile_residual": effect.get("top_decile_residual"),
        "calibrated": shipped,
        "archs": archive.get("n"),
        "fit": split.get("fit"),
        "heldout": split.get("heldout"),
    }


def _validate(info: Any, where: str) -> None:
    if not isinstance(info, dict):
        raise OfaBenchError(f"{where} must hold a JSON object; got {type(info).__name__}")
    if info.get("format") != FORMAT:
        raise OfaBenchError(f"{where}: format must be {FORMAT!r}; got {excerpt(info.get('format'))}")
    if info.get("version") != VERSION:
        raise OfaBenchError(f"{where}: version {excerpt(info.get('version'))}; this ofa-bench reads version {VERSION}")
    for key in _KEYS:
        if key not in info:
            raise OfaBenchError(f"{where}: missing field {key!r}")
    for key in ("fingerprint", "predictor", "command"):
        if not isinstance(info[key], str) or not info[key]:
            raise OfaBenchError(f"{where}: {key} must be a non-empty string; got {excerpt(info[key])}")
    targets = info["targets"]
    if not isinstance(targets, dict) or "valid" not in targets:
        raise OfaBenchError(
            f"{where}: targets must map 'valid' (and optionally 'test') to files; got {excerpt(targets)}"
        )
    for name, file in targets.items():
        if name not in SURROGATE_TARGETS:
            raise OfaBenchError(
                f"{where}: targets: unknown target {excerpt(name)}; allowed: {', '.join(SURROGATE_TARGETS)}"
            )
        if not isinstance(file, str) or not file or Path(file).name != file or file.startswith("."):
            raise OfaBenchError(f"{where}: targets.{name} must be a file name in {SURROGATE_DIR}/; got {excerpt(file)}")
    if not _number(info["kendall_tau"]) or not -1 <= info["kendall_tau"] <= 1:
        raise OfaBenchError(f"{where}: kendall_tau must be a number in [-1, 1]; got {excerpt(info['kendall_tau'])}")
    if not isinstance(info["quality"], dict):
        raise OfaBenchError(f"{where}: quality must be a JSON object; got {excerpt(info['quality'])}")
    noise = info["noise"]
    if not isinstance(noise, dict) or not _number(noise.get("sd")) or noise["sd"] < 0:
        got = noise.get("sd") if isinstance(noise, dict) else noise
        raise OfaBenchError(f"{where}: noise.sd must be a number >= 0; got {excerpt(got)}")
    archive = info["archive"]
    if not isinstance(archive, dict) or not (archive.get("file") is None or isinstance(archive.get("file"), str)):
        raise OfaBenchError(f"{where}: archive.file must be a path or null; got {excerpt(archive)}")
    n = archive.get("n")
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise OfaBenchError(f"{where}: archive.n must be an integer >= 0; got {excerpt(n)}")
    _validate_calibration(info.get("calibration"), info["targets"], where)


def _validate_calibration(calibration: Any, targets: Mapping[str, str], where: str) -> None:
    """``calibration``: absent, or per target knots ``x``, ``y``: equally long (>= 2), finite, strictly increasing."""
    if calibration is None:
        return
    if not isinstance(calibration, dict):
        raise OfaBenchError(f"{where}: calibration must be a JSON object; got {excerpt(calibration)}")
    for target, knots in calibration.items():
        if target not in targets:
            raise OfaBenchError(f"{where}: calibration.{excerpt(target)}: not one of the targets {', '.join(targets)}")
        ok = isinstance(knots, dict) and all(
            isinstance(knots.get(k), list) and len(knots[k]) >= 2 and all(_number(v) for v in knots[k]) for k in "xy"
        )
        if ok and len(knots["x"]) == len(knots["y"]) <= 10_000:
            x, y = np.asarray(knots["x"]), np.asarray(knots["y"])
            ok = bool(np.all(np.diff(x) > 0) and np.all(np.diff(y) > 0))
        else:
            ok = False
        if not ok:
            raise OfaBenchError(
                f"{where}: calibration.{target} must hold x and y: equally long lists (2 to 10,000) of finite, "
                "strictly increasing numbers"
            )


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def surrogate_fingerprint(directory: str | os.PathLike[str]) -> str:
    """16 hex characters of the sha256 of ``surrogate.json`` and its target files: what the surrogate answers.

    Raises:
        OfaBenchError: No surrogate, or a target file that cannot be read.
    """
    folder = _resolve(directory)
    info = surrogate_info(folder)
    if info is None:
        raise OfaBenchError(no_surrogate_message(directory))
    digest = hashlib.sha256((folder / SURROGATE_DIR / SURROGATE_FILE).read_bytes())
    for name in sorted(info["targets"]):
        path = folder / SURROGATE_DIR / info["targets"][name]
        try:
            digest.update(f"\0{name}\0".encode() + path.read_bytes())
        except OSError as exc:
            raise OfaBenchError(f"surrogate target {name!r}: cannot read {str(path)!r}: {exc.strerror}") from None
    return digest.hexdigest()[:16]


def load_surrogate(
    directory: str | os.PathLike[str], target: str = "valid", *, benchmark: Any = None
) -> ShippedSurrogate:
    """A benchmark's shipped surrogate of one target, checked to be fitted for that benchmark.

    Args:
        directory: A benchmark directory or a shipped benchmark's name.
        target: ``valid`` (what searches see) or ``test`` (what verdicts re-measure).
        benchmark: The already loaded :class:`~ofa_bench.benchmark.trained.Benchmark` of ``directory``,
            to avoid loading its weights again for the fingerprint.

    Raises:
        OfaBenchError: No surrogate, an unknown target (the message lists the allowed ones), a
            surrogate fitted for another benchmark fingerprint or search space, or a bad file.
    """
    from ofa_bench.benchmark.trained import Benchmark
    from ofa_bench.io.predictor_files import load_predictor

    folder = _resolve(directory)
    info = surrogate_info(folder)
    if info is None:
        raise OfaBenchError(no_surrogate_message(directory))
    where = f"surrogate file {str(folder / SURROGATE_DIR / SURROGATE_FILE)!r}"
    if target not in info["targets"]:
        raise OfaBenchError(f"{where}: no target {target!r}; allowed: {', '.join(info['targets'])}")
    bench = benchmark if benchmark is not None else Benchmark.load(folder)
    if info["fingerprint"] != bench.fingerprint:
        raise OfaBenchError(
            f"{where}: fitted for benchmark {info['fingerprint']}, but {str(folder)!r} is {bench.fingerprint}; "
            "refit the surrogate on this benchmark's measurements"
        )
    predictor = load_predictor(folder / SURROGATE_DIR / info["targets"][target])
    space = getattr(predictor, "space_", None)
    if space is not None and space.name != bench.space.name:
        raise OfaBenchError(
            f"{where}: targets.{target} predicts space {space.name!r}; the benchmark is {bench.space.name!r}"
        )
    label = f"shipped:{surrogate_fingerprint(folder)}" + ("" if target == "valid" else f":{target}")
    knots = (info.get("calibration") or {}).get(target)
    return ShippedSurrogate(
        predictor=predictor, target=target, label=label, noise_sd=float(info["noise"]["sd"]),
        calibration=(tuple(knots["x"]), tuple(knots["y"])) if knots else None,
    )  # fmt: skip


def save_surrogate(
    directory: str | os.PathLike[str], predictors: Mapping[str, Predictor], info: Mapping[str, Any]
) -> Path:
    """Write a benchmark's surrogate: one predictor file per target, then ``surrogate.json``.

    ``surrogate.json`` is removed first and written last (each file atomically), so a reader never
    pairs a description with other predictors.

    Args:
        directory: The benchmark directory (or a shipped benchmark's name).
        predictors: Fitted, saveable predictors by target (``valid`` required, ``test`` optional).
        info: The other fields of ``surrogate.json``: ``kendall_tau``, ``quality``, ``noise``,
            ``archive``, ``command``; ``fingerprint`` defaults to the benchmark's, ``predictor``
            to the valid predictor's registry name.

    Returns:
        The path of ``surrogate.json``.

    Raises:
        OfaBenchError: A missing or unknown target, a fingerprint other than the benchmark's, a
            predictor that cannot be saved, or fields that do not validate (nothing is written then).
    """
    from ofa_bench.benchmark.trained import Benchmark
    from ofa_bench.io.predictor_files import dumps_predictor

    folder = _resolve(directory)
    where = f"save_surrogate({str(folder)!r})"
    unknown = [t for t in predictors if t not in SURROGATE_TARGETS]
    if unknown or "valid" not in predictors:
        got = ", ".join(predictors) or "none"
        raise OfaBenchError(f"{where}: predictors must be given for valid (and optionally test); got {got}")
    fingerprint = Benchmark.load(folder).fingerprint
    if info.get("fingerprint", fingerprint) != fingerprint:
        raise OfaBenchError(f"{where}: info fingerprint {info['fingerprint']!r} is not the benchmark's {fingerprint}")
    targets = {name: f"{name}.predictor" for name in SURROGATE_TARGETS if name in predictors}
    label = info.get("predictor") or type(predictors["valid"]).name or type(predictors["valid"]).__name__
    meta = {
        "format": FORMAT, "version": VERSION, "fingerprint": fingerprint, "predictor": label, "targets": targets,
        **{k: v for k, v in info.items() if k not in ("format", "version", "fingerprint", "predictor", "targets")},
    }  # fmt: skip
    try:
        text = json.dumps(meta, indent=2, allow_nan=False) + "\n"
    except (TypeError, ValueError) as exc:
        raise OfaBenchError(f"{where}: info is not JSON-serialisable: {exc}") from None
    _validate(json.loads(text), where)
    blobs = {name: dumps_predictor(predictors[name]) for name in targets}  # all saveable before anything is written
    out = folder / SURROGATE_DIR
    out.mkdir(exist_ok=True)
    (out / SURROGATE_FILE).unlink(missing_ok=True)
    for name, file in targets.items():
        with atomic_path(out / file) as tmp:
            tmp.write_bytes(blobs[name])
    for name in SURROGATE_TARGETS:
        if name not in targets:  # a target an earlier surrogate had: gone, not left to be mistaken for this one's
            (out / f"{name}.predictor").unlink(missing_ok=True)
    return write_text_atomic(out / SURROGATE_FILE, text)


class ShippedSurrogate(Predictor):
    """A benchmark's shipped surrogate of one target, optionally with seeded measurement noise.

    An :class:`~ofa_bench.evaluate.Evaluator` given one as ``oracle`` records and caches its
    answers under :attr:`oracle_label` and measures only on :attr:`target`'s split.

    Args:
        predictor: The fitted predictor (from the surrogate's file).
        target: The split it predicts: ``valid`` or ``test``.
        label: Its name in records and caches (``shipped:<surrogate fingerprint>[:test]``).
        noise_sd: Standard deviation of one live measurement (``noise.sd`` of ``surrogate.json``).
        noise_seed: ``None`` answers the noise-free mean; an integer adds a Gaussian draw of
            ``noise_sd``, the same for the same arch and seed (so resumed runs see what they saw),
            clipped to [0, 1].
        calibration: Knots ``(x, y)`` of the quantile map applied to the predictor's output before
            any noise, or ``None``.
    """

    accepts_arrays = True

    name = ""  # not a registered plug-in: made by load_surrogate only, never saved

    def __init__(
        self,
        *,
        predictor: Predictor,
        target: str = "valid",
        label: str = "shipped",
        noise_sd: float = 0.0,
        noise_seed: int | None = None,
        calibration: tuple[Sequence[float], Sequence[float]] | None = None,
    ) -> None:
        self.predictor = predictor
        self.target = target
        self.label = label
        self.noise_sd = noise_sd
        self.noise_seed = noise_seed
        self.calibration = calibration

    @property
    def oracle_label(self) -> str:
        """What records and caches call its answers: the label, plus the noise seed of a noisy draw."""
        return self.label if self.noise_seed is None else f"{self.label}+noise:{self.noise_seed}"

    def with_noise(self, seed: int) -> ShippedSurrogate:
        """The same surrogate answering noisy draws seeded by ``seed``."""
        return ShippedSurrogate(
            predictor=self.predictor, target=self.target, label=self.label, noise_sd=self.noise_sd,
            noise_seed=int(seed), calibration=self.calibration,
        )  # fmt: skip

    def fit(self, archs: Sequence[Any], y: Any) -> ShippedSurrogate:
        """Refused: a shipped surrogate is fitted once, by whoever ships it."""
        raise OfaBenchError("a shipped surrogate is fitted already; fit a predictor of its family instead")

    def predict(self, archs: Sequence[Any]) -> np.ndarray:
        """The (calibrated) mean prediction of each arch, plus its seeded noise draw when :attr:`noise_seed` is set."""
        mean = np.asarray(self.predictor.predict(archs), dtype=np.float64).reshape(-1)
        if self.calibration is not None:
            mean = apply_map(mean, *self.calibration)
        if self.noise_seed is None or self.noise_sd == 0:
            return mean
        space = getattr(self.predictor, "space_", None)
        if isinstance(archs, np.ndarray):
            archs = space.from_array(archs)
        noise = np.array([self._draw(arch.to_json()) for arch in archs])
        return np.clip(mean + self.noise_sd * noise, 0.0, 1.0)

    def _draw(self, arch_json: str) -> float:
        # Keyed by the arch, not by call order: the same arch gets the same draw in a resumed run.
        words = np.frombuffer(hashlib.sha256(arch_json.encode()).digest()[:16], dtype=np.uint32)
        sequence = np.random.SeedSequence(self.noise_seed, spawn_key=tuple(int(w) for w in words))
        return float(np.random.default_rng(sequence).standard_normal())
