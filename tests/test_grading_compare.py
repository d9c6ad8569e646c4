"""rnncourse.grading.compare: the comparison that decides whether a case passed."""
import numpy as np

from rnncourse.grading.compare import compare


def test_an_expected_infinity_is_matched_only_by_the_same_infinity():
    # |5 - inf| <= atol + rtol * inf is inf <= inf: true, so a tolerance test alone accepts anything
    assert compare(np.inf, 5.0, "loss", 1e-6, 1e-9) is not None
    assert compare(-np.inf, 1e300, "loss", 1e-6, 1e-9) is not None
    assert compare(np.inf, np.inf, "loss", 1e-6, 1e-9) is None
    assert compare(np.array([1.0, np.inf]), np.array([1.0, 5.0]), "dx", 1e-6, 1e-9) is not None
    assert compare(np.array([1.0, np.inf]), np.array([1.0, np.inf]), "dx", 1e-6, 1e-9) is None
    assert compare(np.array([1.0, -np.inf]), np.array([1.0, np.inf]), "dx", 1e-6, 1e-9) is not None


def test_finite_values_within_the_tolerance_still_match():
    assert compare(1.0, 1.0 + 1e-9, "loss", 1e-6, 1e-9) is None
    assert compare(np.array([1.0, 2.0]), np.array([1.0, 2.0 + 1e-9]), "dx", 1e-6, 1e-9) is None
    assert compare(np.array([1.0, 2.0]), np.array([1.0, 2.1]), "dx", 1e-6, 1e-9) is not None
