"""The One-Euro filter against hand-computed cases and its invariants."""

import math

import numpy as np
import pytest

from ampose.smoothing import one_euro, smoothing_factor

FPS = 25.0
ALPHA_1HZ = 2 * math.pi / (2 * math.pi + FPS)  # weight of a new sample at a 1 Hz cut-off, 25 fps


def test_smoothing_factor_by_hand():
    assert smoothing_factor(1.0, FPS) == pytest.approx(ALPHA_1HZ)  # 0.2008
    assert smoothing_factor(FPS / (2 * math.pi), FPS) == pytest.approx(0.5)  # tau equals one frame


def test_step_without_beta_is_an_exponential_smoother():
    x = np.zeros((8, 2, 3))
    x[1:] = 1.0
    y = one_euro(x, FPS, min_cutoff=1.0, beta=0.0)
    expect = [0.0] + [1 - (1 - ALPHA_1HZ) ** n for n in range(1, 8)]
    np.testing.assert_allclose(y[:, 1, 2], expect, rtol=1e-12)


def test_constant_sequence_and_first_frame_unchanged():
    x = np.broadcast_to(np.random.default_rng(0).normal(size=(1, 17, 3)), (30, 17, 3)).astype(np.float32)
    y = one_euro(x, FPS, beta=0.01)
    assert y.dtype == np.float32 and y.shape == x.shape
    np.testing.assert_array_equal(y, x)


def test_causal_later_frames_change_nothing_before_them():
    x = np.random.default_rng(1).normal(size=(40, 5, 3))
    full = one_euro(x, FPS, beta=0.5)
    np.testing.assert_array_equal(one_euro(x[:17], FPS, beta=0.5), full[:17])


def test_commutes_with_a_rotation_of_the_camera_frame():
    rng = np.random.default_rng(2)
    x = np.cumsum(rng.normal(scale=20.0, size=(50, 17, 3)), axis=0)  # a wandering pose, mm
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    y = one_euro(x, FPS, min_cutoff=0.5, beta=0.01)
    np.testing.assert_allclose(one_euro(x @ q.T, FPS, min_cutoff=0.5, beta=0.01), y @ q.T, atol=1e-9)


def test_white_noise_variance_falls_as_the_first_order_formula_says():
    # y_t = (1 - a) y_{t-1} + a x_t on white noise: var(y) / var(x) = a / (2 - a)
    x = np.random.default_rng(3).normal(size=(40_000, 1, 1))
    y = one_euro(x, FPS, min_cutoff=1.0)
    ratio = y[1000:].var() / x.var()
    assert ratio == pytest.approx(ALPHA_1HZ / (2 - ALPHA_1HZ), rel=0.05)


def test_speed_lowers_the_lag_on_a_ramp():
    v = 1000.0  # mm/s
    x = (v * np.arange(200) / FPS)[:, None, None]
    lag_plain = (x - one_euro(x, FPS, beta=0.0))[-1, 0, 0]
    # steady state of the exponential smoother on a ramp: lag = (1 - a) v / (a fps)
    assert lag_plain == pytest.approx((1 - ALPHA_1HZ) * v / (ALPHA_1HZ * FPS), rel=1e-6)
    lag_adaptive = (x - one_euro(x, FPS, beta=0.01))[-1, 0, 0]
    assert 0 < lag_adaptive < lag_plain / 5  # the cut-off rose with the speed (1 + 0.01 * 1000 Hz)


@pytest.mark.parametrize("kwargs, message", [
    ({"fps": 0.0}, "fps"), ({"fps": float("nan")}, "fps"), ({"min_cutoff": 0.0}, "min_cutoff"),
    ({"beta": -1.0}, "beta"), ({"d_cutoff": -2.0}, "d_cutoff")])
def test_bad_parameters_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        one_euro(np.zeros((3, 2, 3)), **{"fps": FPS, **kwargs})


@pytest.mark.parametrize("x, message", [
    (np.zeros((0, 17, 3)), "T >= 1"), (np.zeros((5, 3)), "T >= 1"), (np.full((4, 2, 3), np.nan), "NaN")])
def test_bad_sequences_are_named(x, message):
    with pytest.raises(ValueError, match=message):
        one_euro(x, FPS)
