"""Tests of archs and search spaces: validation, normalisation, serialisation, batch operators."""

from __future__ import annotations

import json
import pickle
import re

import numpy as np
import pytest

from ofa_bench.errors import SpaceError
from ofa_bench.space import Arch, NetworkSpec, SearchSpace, get_space, make_divisible, preset_names

W10 = "ofa-mbv3-w1.0"

# Upper 1e-4 tail of the chi-square distribution, by degrees of freedom: with a fixed seed the
# check is deterministic, and a fair sampler passes it with a wide margin.
CHI2_CRIT = {2: 18.42, 4: 23.51, 24: 59.70}


@pytest.fixture
def space() -> SearchSpace:
    return get_space(W10)


def _kwargs(space: SearchSpace, **changes):
    args = {"ks": [5] * space.n_blocks, "e": [4] * space.n_blocks, "d": [3] * space.n_stages, "r": 192}
    args.update(changes)
    return args


def _raises(match: str):
    return pytest.raises(SpaceError, match=re.escape(match))


# ----- presets and shape ---------------------------------------------------------------------


def test_presets_are_listed_and_shaped_like_ofa():
    assert preset_names() == ["ofa-fmnist", "ofa-mbv3-w1.0", "ofa-mbv3-w1.2", "ofa-mini"]
    space = get_space(W10)
    assert (space.n_stages, space.max_depth, space.n_blocks) == (5, 4, 20)
    assert space.n_columns == 2 * 20 + 5 + 1
    assert space.resolutions == tuple(range(128, 225, 4))
    assert get_space(space) is space
    assert get_space("ofa-mini").resolutions == (12, 16, 20, 24)


def test_unknown_preset_lists_known_ones():
    with _raises("unknown search space 'nope'; known: ofa-fmnist, ofa-mbv3-w1.0, ofa-mbv3-w1.2, ofa-mini"):
        get_space("nope")
    with pytest.raises(SpaceError, match="unknown search space"):
        get_space(None)  # type: ignore[arg-type]


def test_space_size_closed_form():
    per_stage = 9**2 + 9**3 + 9**4  # 3 kernels x 3 expands per block, depth 2, 3 or 4
    assert get_space(W10).size == per_stage**5 * 25
    assert get_space("ofa-mbv3-w1.2").size == per_stage**5 * 25
    assert get_space("ofa-mini").size == per_stage**5 * 4
    # OFA's "more than 10^19 sub-networks" at one resolution.
    assert per_stage**5 > 10**19


def test_spaces_compare_by_name():
    assert get_space(W10) != get_space("ofa-mbv3-w1.2")
    assert SearchSpace(W10, NetworkSpec()) == get_space(W10)
    assert hash(SearchSpace(W10, NetworkSpec())) == hash(get_space(W10))
    assert repr(get_space(W10)) == "SearchSpace('ofa-mbv3-w1.0')"


@pytest.mark.parametrize(
    ("value", "expected"), [(16, 16), (16 * 1.2, 24), (24 * 1.2, 32), (960 * 1.2, 1152), (1280 * 1.2, 1536), (3, 8)]
)
def test_make_divisible_matches_mobilenet_rounding(value, expected):
    assert make_divisible(value) == expected


def test_make_divisible_agrees_with_ofa():
    ofa_utils = pytest.importorskip("ofa.utils")
    for value in [x / 4 for x in range(4, 8000)]:
        assert make_divisible(value, 8) == ofa_utils.make_divisible(value, 8), value


def test_column_names(space):
    assert space.column_name(0) == ("ks", 0)
    assert space.column_name(19) == ("ks", 19)
    assert space.column_name(20) == ("e", 0)
    assert space.column_name(27) == ("e", 7)
    assert space.column_name(40) == ("d", 0)
    assert space.column_name(44) == ("d", 4)
    assert space.column_name(45) == ("r", None)


# ----- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "length", "needed", "detail"),
    [
        ("ks", 19, 20, "5 stages x 4 blocks"),
        ("e", 21, 20, "5 stages x 4 blocks"),
        ("d", 4, 5, "one per stage"),
        ("d", 0, 5, "one per stage"),
    ],
)
def test_wrong_list_length_names_field_and_needed_length(space, field, length, needed, detail):
    value = {"ks": 3, "e": 3, "d": 2}[field]
    with _raises(f"{field} has {length} values; ofa-mbv3-w1.0 needs {needed} ({detail})"):
        space.arch(**_kwargs(space, **{field: [value] * length}))


def test_bad_kernel_names_position_and_choices(space):
    ks = [3] * 20
    ks[4] = 4
    with _raises("ks[4]=4 is not allowed in ofa-mbv3-w1.0; allowed: 3, 5, 7"):
        space.arch(**_kwargs(space, ks=ks))


def test_bad_numpy_value_is_shown_as_a_plain_number(space):
    ks = np.full(20, 3)
    ks[4] = 4
    with _raises("ks[4]=4 is not allowed in ofa-mbv3-w1.0; allowed: 3, 5, 7"):
        space.arch(**_kwargs(space, ks=ks))
    with _raises("r=130 is not allowed"):
        space.arch(**_kwargs(space, r=np.int64(130)))


def test_bad_value_in_inactive_block_is_still_rejected(space):
    e = [4] * 20
    e[3] = 5  # stage 0 has depth 3, so block 3 does not run; the value is still invalid
    with _raises("e[3]=5 is not allowed in ofa-mbv3-w1.0; allowed: 3, 4, 6"):
        space.arch(**_kwargs(space, e=e))


def test_bad_depth_and_resolution(space):
    with _raises("d[2]=5 is not allowed in ofa-mbv3-w1.0; allowed: 2, 3, 4"):
        space.arch(**_kwargs(space, d=[3, 3, 5, 3, 3]))
    with _raises("r=130 is not allowed in ofa-mbv3-w1.0; allowed: 128..224 step 4"):
        space.arch(**_kwargs(space, r=130))
    mini = get_space("ofa-mini")
    with _raises("r=36 is not allowed in ofa-mini; allowed: 12, 16, 20, 24"):
        mini.arch(**_kwargs(mini, r=36))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"r": True}, "r=True is not an integer"),
        ({"r": "224"}, "r='224' is not an integer"),
        ({"r": 224.5}, "r=224.5 is not an integer"),
        ({"r": float("nan")}, "r=nan is not an integer"),
        ({"r": None}, "r=None is not an integer"),
        ({"ks": [True] + [3] * 19}, "ks[0]=True is not an integer; allowed: 3, 5, 7"),
        ({"e": [3] * 19 + ["6"]}, "e[19]='6' is not an integer; allowed: 3, 4, 6"),
        ({"d": [2, 2, 2.5, 2, 2]}, "d[2]=2.5 is not an integer; allowed: 2, 3, 4"),
        ({"ks": "33333333333333333333"}, "ks must be a list of 20 integers; got str"),
        ({"e": 4}, "e must be a list of 20 integers; got int"),
        ({"d": {"a": 1}}, "d must be a list of 5 integers; got dict"),
    ],
)
def test_non_integer_values_are_rejected(space, changes, message):
    with _raises(message):
        space.arch(**_kwargs(space, **changes))


def test_integral_floats_and_numpy_ints_become_python_ints(space):
    arch = space.arch(
        **_kwargs(space, ks=np.full(20, 7), e=[6.0] * 20, d=np.array([4] * 5, dtype=np.int32), r=np.int64(224))
    )
    assert arch == space.largest()
    assert all(type(v) is int for v in (*arch.ks, *arch.e, *arch.d, arch.r))
    json.loads(arch.to_json())  # would fail on numpy scalars


def test_from_dict_unknown_and_missing_keys(space):
    good = space.largest().to_dict()
    with _raises("unknown arch key 'depth'; allowed keys: ks, e, d, r"):
        space.from_dict({**good, "depth": 4})
    for key in ("ks", "e", "d", "r"):
        data = {k: v for k, v in good.items() if k != key}
        with _raises(f"arch is missing key {key!r}; an arch needs ks, e, d, r"):
            space.from_dict(data)
    with _raises("an arch must be a JSON object with keys ks, e, d, r; got list"):
        space.from_dict([7, 6, 4])  # type: ignore[arg-type]


def test_from_dict_r_may_be_omitted_only_with_one_resolution():
    single = SearchSpace("single-res", NetworkSpec(), resolutions=(160,))
    arch = single.from_dict({"ks": 7, "e": 6, "d": 4})
    assert arch.r == 160 and arch == single.largest()


def test_from_json_errors(space):
    with pytest.raises(SpaceError, match=r"malformed JSON at line 1 column \d+"):
        space.from_json('{"ks": [7,')
    with _raises("an arch must be a JSON object"):
        space.from_json("[1, 2]")


def test_replace_validates(space):
    arch = space.largest()
    assert arch.replace(r=128).r == 128 and arch.replace(r=128).ks == arch.ks
    with _raises("unknown arch field 'k'; fields: ks, e, d, r"):
        arch.replace(k=3)
    with _raises("r=127 is not allowed"):
        arch.replace(r=127)


# ----- value semantics -----------------------------------------------------------------------


def test_arch_is_immutable(space):
    ks = [5] * 20
    arch = space.arch(**_kwargs(space, ks=ks))
    for name in ("ks", "e", "d", "r", "space", "new_field"):
        with pytest.raises(AttributeError, match="immutable"):
            setattr(arch, name, 3)
    ks[0] = 7  # the caller's list is not shared
    assert arch.ks[0] == 5
    assert isinstance(arch.ks, tuple) and isinstance(arch.e, tuple) and isinstance(arch.d, tuple)


def test_equality_and_hashing(space):
    a = space.arch(**_kwargs(space))
    b = space.arch(**_kwargs(space))
    assert a == b and hash(a) == hash(b) and a is not b
    assert len({a, b, space.largest(), space.largest()}) == 2
    assert a != a.replace(r=196)
    assert a != a.replace(ks=(7,) + a.ks[1:])
    assert a != "not an arch" and (a == 1) is False
    other = get_space("ofa-mbv3-w1.2")
    twin = other.arch(**_kwargs(other))
    assert twin.to_dict() == a.to_dict()
    assert twin != a  # same genes, different network


def test_inactive_blocks_are_normalised(space):
    ks_a, ks_b = [5] * 20, [5] * 20
    e_a, e_b = [4] * 20, [4] * 20
    ks_b[3], e_b[3] = 7, 6  # block 3 of stage 0: inactive at depth 3
    ks_b[18], e_b[19] = 3, 3  # blocks 2, 3 of stage 4: inactive at depth 2
    d = [3, 4, 4, 4, 2]
    a = space.arch(ks_a, e_a, d, 192)
    b = space.arch(ks_b, e_b, d, 192)
    assert a == b and hash(a) == hash(b)
    assert a.ks[3] == 3 and a.e[3] == 3  # smallest choices
    assert a.ks[18:] == (3, 3) and a.e[18:] == (3, 3)
    assert a.ks[:3] == (5, 5, 5) and a.ks[16:18] == (5, 5)
    # Changing an active block does change the arch.
    ks_b[2] = 7
    assert space.arch(ks_b, e_b, d, 192) != a


def test_active_blocks(space):
    arch = space.arch(**_kwargs(space, d=[2, 3, 4, 2, 3]))
    assert [flat for _, _, flat in arch.active_blocks] == [0, 1, 4, 5, 6, 8, 9, 10, 11, 12, 13, 16, 17, 18]
    assert arch.active_blocks[2] == (1, 0, 4)


def test_dict_round_trip_and_ofa_dict_forms(space):
    arch = space.sample(1, rng=3)[0]
    data = arch.to_dict()
    assert set(data) == {"ks", "e", "d", "r"} and isinstance(data["ks"], list)
    assert space.from_dict(data) == arch
    # OFA's forms: scalars for set_active_subnet, r as a one-item list, "wid": None in net configs.
    assert space.from_dict({"ks": 7, "e": 6, "d": 4, "r": 224}) == space.largest()
    assert space.from_dict({"ks": 3, "e": 3, "d": 2, "r": [160], "wid": None}) == space.smallest(160)
    mixed = space.from_dict({"ks": 5, "e": [3, 4, 6, 6] * 5, "d": [2, 3, 4, 3, 2], "r": 200})
    assert mixed.ks[:2] == (5, 5) and mixed.ks[2:4] == (3, 3)  # stage 0 has depth 2: normalised
    assert mixed.e[:4] == (3, 4, 3, 3) and mixed.e[4:8] == (3, 4, 6, 3)


def test_json_round_trip(space):
    for arch in space.sample(20, rng=11) + [space.largest(), space.smallest(128)]:
        text = arch.to_json()
        assert "\n" not in text and " " not in text
        assert json.loads(text) == arch.to_dict()
        assert space.from_json(text) == arch
    assert repr(space.largest()).startswith('Arch(ofa-mbv3-w1.0, {"ks":[7,')


def test_pickle_round_trip():
    for name in preset_names():
        space = get_space(name)
        for arch in space.sample(5, rng=0):
            clone = pickle.loads(pickle.dumps(arch))
            assert clone == arch and hash(clone) == hash(arch)
            assert clone.space == space and clone.space.resolutions == space.resolutions
            assert space.to_array([clone]).tolist() == space.to_array([arch]).tolist()


def test_pickle_round_trip_of_a_custom_space():
    """Archs of a space that is not a preset must survive pickling too (multiprocessing, caches)."""
    custom = SearchSpace("custom-k35", NetworkSpec(), ks_choices=(3, 5), resolutions=(160, 192))
    arch = custom.sample(1, rng=0)[0]
    clone = pickle.loads(pickle.dumps(arch))
    assert clone == arch and clone.space == custom


# ----- sampling ------------------------------------------------------------------------------


def test_sampling_is_seeded_and_valid(space):
    a, b = space.sample(200, rng=42), space.sample(200, rng=42)
    assert a == b
    assert space.sample(200, rng=43) != a
    rng = np.random.default_rng(5)
    first, second = space.sample(10, rng), space.sample(10, rng)
    assert first != second  # a Generator advances
    for arch in a:
        assert Arch(space, arch.ks, arch.e, arch.d, arch.r) == arch  # valid and already normalised
    array = space.sample_array(200, rng=42)
    assert array.dtype == np.int64 and array.shape == (200, space.n_columns)
    np.testing.assert_array_equal(array, space.to_array(a))
    np.testing.assert_array_equal(space.normalise(array), array)
    assert len(set(a)) == 200


def test_sample_edge_cases(space):
    assert space.sample(0, rng=0) == []
    with _raises("n must be >= 0; got -1"):
        space.sample(-1)


def _chi2(counts: np.ndarray) -> float:
    expected = counts.sum() / len(counts)
    return float(((counts - expected) ** 2 / expected).sum())


def test_sample_is_uniform_per_choice(space):
    n = 20000
    array = space.sample_array(n, rng=1234)
    nb, ns = space.n_blocks, space.n_stages
    active = space.active_mask(array)

    def counts(values: np.ndarray, choices) -> np.ndarray:
        return np.array([(values == c).sum() for c in choices])

    for s in range(ns):
        assert _chi2(counts(array[:, 2 * nb + s], space.d_choices)) < CHI2_CRIT[2]
    r_counts = counts(array[:, -1], space.resolutions)
    assert r_counts.sum() == n and _chi2(r_counts) < CHI2_CRIT[24]
    for b in range(nb):
        on = active[:, b]
        for col, choices in ((b, space.ks_choices), (nb + b, space.e_choices)):
            c = counts(array[on, col], choices)
            assert c.sum() == on.sum()
            assert _chi2(c) < CHI2_CRIT[2], (space.column_name(col), c)
    # Depth uniform over 2, 3, 4: block j of a stage runs with probability 1, 1, 2/3, 1/3.
    rate = active.reshape(n, ns, space.max_depth).mean(axis=(0, 1))
    np.testing.assert_allclose(rate, [1, 1, 2 / 3, 1 / 3], atol=0.01)
    # Joint check: the 9 (ks, e) pairs of an always-active block are uniform too.
    pairs = array[:, 0] * 10 + array[:, nb]
    pair_counts = np.unique(pairs, return_counts=True)[1]
    assert len(pair_counts) == 9 and _chi2(pair_counts) < 27.88  # df=8, 1e-4 tail


# ----- mutation and crossover ----------------------------------------------------------------


def test_mutate_with_prob_zero_is_identity(space):
    array = space.sample_array(300, rng=0)
    np.testing.assert_array_equal(space.mutate_array(array, prob=0.0, rng=1), array)
    for arch in space.sample(20, rng=2):
        assert space.mutate(arch, prob=0.0, rng=3) == arch


def test_mutate_with_prob_one_changes_many(space):
    array = space.sample_array(500, rng=0)
    child = space.mutate_array(array, prob=1.0, rng=1)
    # Every gene is redrawn: an active 3-way gene keeps its value 1/3 of the time.
    changed = (child != array).mean()
    assert changed > 0.45
    assert (child != array).any(axis=1).all()
    assert (child[:, -1] != array[:, -1]).mean() > 0.9  # 25 resolutions


def test_mutate_is_valid_normalised_and_seeded(space):
    array = space.sample_array(300, rng=0)
    for prob in (0.1, 0.5, 1.0):
        child = space.mutate_array(array, prob=prob, rng=7)
        space.validate_array(child)
        np.testing.assert_array_equal(space.normalise(child), child)
        np.testing.assert_array_equal(child, space.mutate_array(array, prob=prob, rng=7))
        assert not np.array_equal(child, space.mutate_array(array, prob=prob, rng=8))
    arch = space.sample(1, rng=9)[0]
    assert space.mutate(arch, 0.3, rng=4) == space.mutate(arch, 0.3, rng=4)
    mutated = space.mutate(arch, 0.3, rng=4)
    assert Arch(space, mutated.ks, mutated.e, mutated.d, mutated.r) == mutated


def test_mutate_fills_switched_on_blocks_with_fresh_choices(space):
    """Blocks a depth mutation switches on are uniform, not stuck at the normalised minimum."""
    smallest = space.to_array([space.smallest()] * 4000)
    child = space.mutate_array(smallest, prob=0.3, rng=0)
    deep = child[:, 2 * space.n_blocks] == 4  # stage 0 grew to depth 4
    assert deep.sum() > 200
    ks3 = np.array([(child[deep, 3] == k).sum() for k in space.ks_choices])
    e3 = np.array([(child[deep, space.n_blocks + 3] == e).sum() for e in space.e_choices])
    assert _chi2(ks3) < CHI2_CRIT[2] and _chi2(e3) < CHI2_CRIT[2]


def test_crossover_is_valid_normalised_and_seeded(space):
    a, b = space.sample_array(300, rng=0), space.sample_array(300, rng=1)
    child = space.crossover_array(a, b, rng=5)
    space.validate_array(child)
    np.testing.assert_array_equal(space.normalise(child), child)
    np.testing.assert_array_equal(child, space.crossover_array(a, b, rng=5))
    assert not np.array_equal(child, space.crossover_array(a, b, rng=6))
    x, y = space.sample(2, rng=3)
    assert space.crossover(x, y, rng=1) == space.crossover(x, y, rng=1)
    assert space.crossover(x, x, rng=1) == x


def test_crossover_genes_come_from_a_parent_where_active(space):
    a, b = space.sample_array(1000, rng=0), space.sample_array(1000, rng=1)
    child = space.crossover_array(a, b, rng=2)
    nb = space.n_blocks
    act_a, act_b, act_c = space.active_mask(a), space.active_mask(b), space.active_mask(child)
    # Depths and resolution come from either parent.
    tail = slice(2 * nb, None)
    assert ((child[:, tail] == a[:, tail]) | (child[:, tail] == b[:, tail])).all()
    # Both parents contribute.
    assert 0.4 < (child[:, tail] == a[:, tail]).mean() < 0.8
    for lo in (0, nb):
        genes = child[:, lo : lo + nb]
        from_a = (genes == a[:, lo : lo + nb]) & act_a
        from_b = (genes == b[:, lo : lo + nb]) & act_b
        inherited = act_c & (act_a | act_b)
        assert (from_a | from_b)[inherited].all()
    # A child's depths come from its parents, so each block it runs is active in some parent.
    assert not (act_c & ~act_a & ~act_b).any()
    # Where both parents run a block, the child takes each gene from either with equal odds.
    both = act_c & act_a & act_b & (a[:, :nb] != b[:, :nb])
    assert 0.4 < (child[:, :nb] == a[:, :nb])[both].mean() < 0.6


# ----- arrays and encodings ------------------------------------------------------------------


def test_array_round_trip(space):
    archs = space.sample(50, rng=0) + [space.largest(), space.smallest()]
    array = space.to_array(archs)
    assert array.dtype == np.int64 and array.shape == (52, 46)
    np.testing.assert_array_equal(array[-1], [3] * 20 + [3] * 20 + [2] * 5 + [128])  # smallest: at the lowest resolution
    assert space.from_array(array) == archs
    assert space.to_array([]).shape == (0, 46)
    assert space.from_array(np.empty((0, 46), dtype=np.int64)) == []


def test_from_array_normalises(space):
    row = space.to_array([space.smallest()])
    row[0, 3] = 7  # inactive block 3 of stage 0
    (arch,) = space.from_array(row)
    assert arch == space.smallest() and arch.ks[3] == 3


def test_to_array_rejects_archs_of_another_space(space):
    other = get_space("ofa-mbv3-w1.2").largest()
    with _raises("arch 1 is of space 'ofa-mbv3-w1.2'; expected an arch of 'ofa-mbv3-w1.0'"):
        space.to_array([space.largest(), other])
    with _raises("arch 0 is of space 'ofa-mbv3-w1.2'"):
        space.encode_onehot([other])


@pytest.mark.parametrize(
    ("col", "value", "message"),
    [
        (27, 5, "e[7]=5 is not allowed in ofa-mbv3-w1.0; allowed: 3, 4, 6"),
        (4, 4, "ks[4]=4 is not allowed"),
        (0, 1000, "ks[0]=1000 is not allowed"),
        (1, -3, "ks[1]=-3 is not allowed"),
        (42, 1, "d[2]=1 is not allowed"),
        (45, 130, "r=130 is not allowed in ofa-mbv3-w1.0; allowed: 128..224 step 4"),
    ],
)
def test_validate_array_names_the_column(space, col, value, message):
    array = space.sample_array(5, rng=0)
    array[3, col] = value
    with _raises(message):
        space.validate_array(array)
    with _raises(message):
        space.from_array(array)


def test_validate_array_shape(space):
    with _raises("arch array must have shape (n, 46) for ofa-mbv3-w1.0; got (3, 45)"):
        space.validate_array(np.zeros((3, 45), dtype=np.int64))
    with _raises("got (46,)"):
        space.validate_array(space.sample_array(1, rng=0)[0])


def test_encode_onehot(space):
    archs = space.sample(100, rng=0) + [space.largest(), space.smallest(128)]
    onehot = space.encode_onehot(archs)
    nb, nr = space.n_blocks, len(space.resolutions)
    assert onehot.dtype == np.float32 and onehot.shape == (102, nr + nb * 6)
    assert set(np.unique(onehot)) <= {0.0, 1.0}
    n_active = np.array([len(a.active_blocks) for a in archs])
    np.testing.assert_array_equal(onehot.sum(axis=1), 2 * n_active + 1)
    np.testing.assert_array_equal(onehot, space.encode_onehot(space.to_array(archs)))
    # Layout (OFA's): r | kernel one-hot per block | expand one-hot per block.
    kernels = onehot[:, nr : nr + nb * 3].reshape(102, nb, 3)
    expands = onehot[:, nr + nb * 3 :].reshape(102, nb, 3)
    active = space.active_mask(space.to_array(archs))
    assert not kernels[~active].any() and not expands[~active].any()  # inactive blocks: all zeros
    np.testing.assert_array_equal(kernels[active].sum(axis=1), 1)
    np.testing.assert_array_equal(expands[active].sum(axis=1), 1)
    np.testing.assert_array_equal(onehot[:, :nr].sum(axis=1), 1)
    # Positions: largest = last kernel, last expand everywhere, r=224 is the last resolution.
    largest, smallest = onehot[-2], onehot[-1]
    np.testing.assert_array_equal(kernels[-2], np.tile([0, 0, 1], (nb, 1)))
    np.testing.assert_array_equal(expands[-2], np.tile([0, 0, 1], (nb, 1)))
    assert largest[nr - 1] == 1 and largest[: nr - 1].sum() == 0
    assert smallest[0] == 1  # r=128 is the first resolution
    np.testing.assert_array_equal(kernels[-1, [0, 1]], [[1, 0, 0]] * 2)
    assert not kernels[-1, [2, 3]].any()


def _ofa_arch_encoder():
    """OFA's ``MobileNetArchEncoder``, loaded without its package ``__init__`` (which needs tqdm)."""
    import importlib.util

    pytest.importorskip("ofa")
    spec = importlib.util.find_spec("ofa.nas")
    assert spec is not None and spec.submodule_search_locations
    path = f"{spec.submodule_search_locations[0]}/accuracy_predictor/arch_encoder.py"
    module_spec = importlib.util.spec_from_file_location("_ofa_arch_encoder", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module.MobileNetArchEncoder


def test_encode_onehot_equals_ofa_encoder():
    """Our one-hot rows are OFA's accuracy-predictor features, column for column (OFA's own
    encoder as the oracle), so predictors trained on OFA's features read ours unchanged."""
    MobileNetArchEncoder = _ofa_arch_encoder()

    space = get_space(W10)
    encoder = MobileNetArchEncoder(
        image_size_list=list(space.resolutions), ks_list=[3, 5, 7], expand_list=[3, 4, 6], depth_list=[2, 3, 4]
    )
    archs = space.sample(50, rng=0) + [space.largest(), space.smallest()]
    ours = space.encode_onehot(archs)
    theirs = np.stack([encoder.arch2feature({**a.to_dict(), "image_size": a.r}) for a in archs])
    assert encoder.n_dim == ours.shape[1]
    np.testing.assert_array_equal(ours, theirs)


def test_encode_ordinal(space):
    arch = space.arch([5] * 20, [6] * 20, [2, 3, 4, 2, 2], 132)
    (row,) = space.encode_ordinal([arch])
    assert row.dtype == np.float32 and row.shape == (46,)
    expected_blocks = np.array([1, 1, -1, -1, 1, 1, 1, -1, 1, 1, 1, 1, 1, 1, -1, -1, 1, 1, -1, -1], dtype=np.float32)
    np.testing.assert_array_equal(row[:20], expected_blocks)  # ks=5 is index 1
    np.testing.assert_array_equal(row[20:40], np.where(expected_blocks < 0, -1, 2))  # e=6 is index 2
    np.testing.assert_array_equal(row[40:45], [0, 1, 2, 0, 0])
    assert row[45] == 1  # 132 is the second resolution
    many = space.sample(50, rng=1)
    enc = space.encode_ordinal(many)
    active = space.active_mask(space.to_array(many))
    assert (enc[:, :20][~active] == -1).all() and (enc[:, :20][active] >= 0).all()
    assert (enc[:, 40:] >= 0).all()
