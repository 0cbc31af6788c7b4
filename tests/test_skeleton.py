import numpy as np
import pytest

from ampose.data.skeleton import H36M16, H36M17, group_adjacency, normalise_groups, skeleton_for


def neighbours(skel, joint, group):
    a = skel.neighbour_groups()[group]
    return set(np.flatnonzero(a[joint]).tolist())


@pytest.mark.parametrize(
    "joint, closer, farther",
    [(2, {1}, {3}), (8, {7}, {9, 11, 14}), (0, set(), {1, 4, 7}), (16, {15}, set()), (10, {9}, set())],
)
def test_groups_17_by_hand(joint, closer, farther):
    assert neighbours(H36M17, joint, 0) == {joint}
    assert neighbours(H36M17, joint, 1) == closer
    assert neighbours(H36M17, joint, 2) == farther


@pytest.mark.parametrize(
    "joint, closer, farther",
    [(2, {1}, {3}), (8, {7}, {9, 10, 13}), (9, {8}, set()), (10, {8}, {11}), (15, {14}, set())],
)
def test_groups_16_by_hand(joint, closer, farther):
    # 16-joint: Neck/Nose removed, so Head (now 9) hangs from Thorax (8).
    assert neighbours(H36M16, joint, 1) == closer
    assert neighbours(H36M16, joint, 2) == farther


def test_16_joint_facts():
    assert H36M16.parents == (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 8, 10, 11, 8, 13, 14)
    assert H36M16.left == (4, 5, 6, 10, 11, 12)
    assert H36M16.right == (1, 2, 3, 13, 14, 15)


@pytest.mark.parametrize("skel", [H36M17, H36M16])
def test_flip_permutation_is_involution_and_swaps_sides(skel):
    perm = np.array(skel.flip_permutation)
    assert (perm[perm] == np.arange(skel.num_joints)).all()
    for a, b in zip(skel.left, skel.right):
        assert perm[a] == b and perm[b] == a
    assert perm[0] == 0


def test_normalisation_by_hand():
    adj = group_adjacency(17).numpy()
    # Group 0 is the identity; thorax (3 children) receives 1/sqrt(3) from each child.
    assert np.allclose(adj[0], np.eye(17))
    assert np.isclose(adj[2, 8, 9], 1 / np.sqrt(3))
    assert np.isclose(adj[1, 11, 8], 1 / np.sqrt(3))
    assert np.isclose(adj[1, 2, 1], 1.0)  # knee <- hip: one child, one parent
    # Zero-degree rows stay zero: the root has no closer neighbour, feet no farther one.
    assert not adj[1, 0].any() and not adj[2, 3].any()
    assert np.isfinite(adj).all()


def test_normalise_groups_symmetric_matches_formula():
    a = np.array([[[0, 1, 1], [1, 0, 0], [1, 0, 0]]], dtype=np.float32)
    d = a[0].sum(1)
    expected = a[0] / np.sqrt(np.outer(d, d))
    assert np.allclose(normalise_groups(a)[0], expected)


def test_unknown_joint_count():
    with pytest.raises(ValueError, match="17 .* or 16"):
        skeleton_for(15)
