"""Colored noise: normalisation as colorednoise 2.2.0, autocorrelation, white noise, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from planners.colored_noise import ColoredNoise, powerlaw_psd_gaussian


def spectrum_amplitudes(beta: float, n: int) -> np.ndarray:
    """|S(f)|^(1/2) per rfft bin, flat below fmin = 1/n (hand-written from Timmer & Koenig)."""
    freqs = np.arange(n // 2 + 1) / n
    freqs[0] = freqs[1]
    return freqs ** (-beta / 2)


def analytic_lag1_autocorrelation(beta: float, n: int) -> float:
    """Lag-1 autocorrelation of the synthesis, from the variances of its Fourier terms.

    For even n: DC and Nyquist coefficients are real with variance 2 s^2 (the sqrt(2) fix), the
    others complex with 4 s_k^2 in the real series; the covariance at lag 1 weighs each term by
    cos(2 pi k / n) (the Nyquist term by -1).
    """
    assert n % 2 == 0
    s2 = spectrum_amplitudes(beta, n) ** 2
    k = np.arange(1, n // 2)
    cov = 2 * s2[0] + 4 * np.sum(s2[1:-1] * np.cos(2 * np.pi * k / n)) - 2 * s2[-1]
    var = 2 * s2[0] + 4 * np.sum(s2[1:-1]) + 2 * s2[-1]
    return float(cov / var)


def empirical_lag1(noise: torch.Tensor) -> float:
    noise = noise.double()
    return float((noise[..., :-1] * noise[..., 1:]).mean() / (noise**2).mean())


@pytest.mark.parametrize("n", [2, 7, 30, 31])
@pytest.mark.parametrize("beta", [0.25, 1.0, 3.0])
def test_matches_colorednoise_given_the_same_normal_draws(n: int, beta: float) -> None:
    colorednoise = pytest.importorskip("colorednoise")
    expected = colorednoise.powerlaw_psd_gaussian(
        beta, (4, 3, n), random_state=np.random.default_rng(7)
    )
    # colorednoise draws all real parts, then all imaginary parts, with Generator.normal.
    rng = np.random.default_rng(7)
    real = rng.standard_normal((4, 3, n // 2 + 1))
    imag = rng.standard_normal((4, 3, n // 2 + 1))
    noise = ColoredNoise(beta, n, dtype=torch.float64)
    got = noise.from_normals(torch.from_numpy(real), torch.from_numpy(imag)).numpy()
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("beta", [0.0, 3.0])
def test_lag1_autocorrelation(beta: float) -> None:
    # 20000 series of length 30: the standard error of the pooled estimate is below 0.002 for
    # white noise; tolerance 0.01.
    generator = torch.Generator().manual_seed(0)
    noise = powerlaw_psd_gaussian(beta, (20000, 30), generator=generator)
    expected = 0.0 if beta == 0 else analytic_lag1_autocorrelation(beta, 30)
    if beta == 3.0:
        assert expected == pytest.approx(0.962, abs=0.005)  # shared/reference/icem.md Sec. 1.7
    assert empirical_lag1(noise) == pytest.approx(expected, abs=0.01)


def test_variance_per_step_is_that_of_colorednoise_2_2() -> None:
    # Reference Sec. 1.7: about 1.42 at beta = 3, n = 30 (above 1: sigma uses non-DC bins only).
    s2 = spectrum_amplitudes(3.0, 30) ** 2
    weights = s2[1:].copy()
    weights[-1] /= 4  # the Nyquist amplitude counts half
    sigma2 = 4 * weights.sum() / 30**2
    expected = (2 * s2[0] + 4 * s2[1:-1].sum() + 2 * s2[-1]) / 30**2 / sigma2
    assert expected == pytest.approx(1.42, abs=0.01)
    noise = powerlaw_psd_gaussian(3.0, (20000, 30), generator=torch.Generator().manual_seed(1))
    assert float(noise.double().var()) == pytest.approx(expected, rel=0.03)


def test_white_noise_is_standard_normal_and_series_are_independent() -> None:
    noise = powerlaw_psd_gaussian(0.0, (4000, 2, 30), generator=torch.Generator().manual_seed(2))
    assert float(noise.mean()) == pytest.approx(0.0, abs=0.01)
    assert float(noise.var()) == pytest.approx(1.0, abs=0.02)
    colored = powerlaw_psd_gaussian(3.0, (4000, 2, 30), generator=torch.Generator().manual_seed(2))
    cross = float((colored[:, 0] * colored[:, 1]).mean() / colored.var())
    assert abs(cross) < 0.03  # action dimensions do not share noise


def test_same_generator_seed_same_noise_and_length_one_is_white() -> None:
    first = powerlaw_psd_gaussian(3.0, (5, 30), generator=torch.Generator().manual_seed(3))
    second = powerlaw_psd_gaussian(3.0, (5, 30), generator=torch.Generator().manual_seed(3))
    assert torch.equal(first, second)
    single = powerlaw_psd_gaussian(3.0, (10, 1), generator=torch.Generator().manual_seed(3))
    assert single.shape == (10, 1) and bool(torch.isfinite(single).all())


@pytest.mark.parametrize(
    ("beta", "samples", "match"),
    [(-1.0, 30, "beta"), (math.nan, 30, "beta"), (3.0, 0, "samples"), (3.0, 2.5, "samples")],
)
def test_bad_arguments(beta: float, samples: int, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ColoredNoise(beta, samples)


def test_from_normals_checks_shapes() -> None:
    noise = ColoredNoise(3.0, 30)
    with pytest.raises(ValueError, match=r"\(\.\.\., 16\)"):
        noise.from_normals(torch.zeros(2, 15), torch.zeros(2, 15))


def test_channels_layout_correlates_along_time_only() -> None:
    # (batch, n, channels): as the planners lay out (population, horizon, action_dim).
    noise = ColoredNoise(3.0, 30).sample((20000,), torch.Generator().manual_seed(4), channels=2)
    assert noise.shape == (20000, 30, 2)
    along_time = empirical_lag1(noise.transpose(-1, -2))
    assert along_time == pytest.approx(analytic_lag1_autocorrelation(3.0, 30), abs=0.01)
    cross = float((noise[..., 0] * noise[..., 1]).mean() / noise.var())
    assert abs(cross) < 0.03
    white = ColoredNoise(0.0, 30).sample((5,), torch.Generator(), channels=2)
    assert white.shape == (5, 30, 2)
