"""rnncourse.tree: the one walker of nested parameter containers."""
import numpy as np
import pytest

from rnncourse.gru import GRUParams
from rnncourse.rnn import RNNParams
from rnncourse.tree import tree_get, tree_leaves, tree_map, tree_replace


def _tree():
    p = RNNParams(np.ones((2, 3)), np.zeros((2, 2)), np.arange(2.0))
    return {"layers": [p, GRUParams(np.ones((3, 1)), np.ones((3, 1)), np.ones(3), None)],
            "V": (np.full(2, 5.0),)}


def test_leaves_labels_and_paths_in_order():
    leaves = tree_leaves(_tree(), "params")
    labels = [lab for lab, _, _ in leaves]
    assert labels == ["params['layers'][0].U", "params['layers'][0].W", "params['layers'][0].b",
                      "params['layers'][1].U", "params['layers'][1].W", "params['layers'][1].b",
                      "params['layers'][1].b_hn", "params['V'][0]"]
    assert leaves[6][2] is None
    assert leaves[2][1] == ("layers", 0, "b")
    for _, path, leaf in leaves:
        assert tree_get(_tree(), path) is leaf or np.array_equal(tree_get(_tree(), path), leaf)


def test_map_rebuilds_container_types_and_zips_trees():
    a, b = _tree(), _tree()
    out = tree_map(lambda lab, x, y: None if x is None else x + 2 * y, a, b, label="p")
    assert isinstance(out, dict) and isinstance(out["layers"], list)
    assert isinstance(out["layers"][0], RNNParams) and isinstance(out["V"], tuple)
    np.testing.assert_array_equal(out["layers"][0].b, 3 * np.arange(2.0))
    assert out["layers"][1].b_hn is None


def test_map_structure_mismatch_names_both_trees():
    a = _tree()
    b = _tree()
    b["layers"] = b["layers"][:1]
    with pytest.raises(ValueError, match=r"sgd_step: grads\['layers'\] must have the same "
                                         r"structure as params\['layers'\] \(list of 2\), got list of 1"):
        tree_map(lambda lab, x, y: x, a, b, label="params", names=("params", "grads"),
                 func="sgd_step")


def test_replace_copies_the_path_only():
    t = _tree()
    new = tree_replace(t, ("layers", 0, "W"), np.ones((2, 2)))
    np.testing.assert_array_equal(new["layers"][0].W, np.ones((2, 2)))
    np.testing.assert_array_equal(t["layers"][0].W, np.zeros((2, 2)))      # original untouched
    assert new["layers"][0].U is t["layers"][0].U and new["V"] is t["V"]   # rest shared
    assert tree_get(t, ("layers", 5, "W")) is None
