"""Gaussian noise with power spectrum ``S(f) ~ 1 / f**beta`` along the last axis, in torch.

This is the Timmer & Koenig (1995) spectral synthesis that the iCEM reference draws through the
``colorednoise`` package (``powerlaw_psd_gaussian``), generated here on the planner's device from an
explicit ``torch.Generator``.

Variant: ``colorednoise`` **2.2.0**, i.e. *with* the 2022 magnitude fix (PR #12) that multiplies
the real part of the zero-frequency coefficient, and of the Nyquist coefficient for even lengths,
by ``sqrt(2)``. The low-frequency cutoff is ``fmin = 1 / n`` (the package default), and the output
is divided by the package's theoretical standard deviation, computed from the non-zero frequencies
only. So the per-step variance is *above* one for short series (about 1.42 at ``beta = 3``,
``n = 30``; ``shared/reference/icem.md`` Sec. 1.7), exactly as with the package. Given the same
standard-normal draws, :meth:`ColoredNoise.from_normals` reproduces
``colorednoise.powerlaw_psd_gaussian`` to rounding.

Two choices follow the iCEM reference rather than the package: ``beta == 0`` draws plain standard
normal noise (the reference never calls the package for white noise), and a series of length one
is white noise (the package divides by zero there).
"""

from __future__ import annotations

import math

import torch


class ColoredNoise:
    """Sampler of power-law (colored) Gaussian noise of a fixed length.

    Args:
        beta: spectral exponent ``>= 0``; 0 is white noise, 1 pink, 2 brown; iCEM's default is 3.
        samples: length ``n >= 1`` of each series (the planning horizon).
        device: device on which the noise is generated.
        dtype: floating dtype of the output.

    Raises:
        ValueError: for a negative or non-finite ``beta`` or ``samples < 1``.
    """

    def __init__(
        self,
        beta: float,
        samples: int,
        *,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        if not math.isfinite(beta) or beta < 0:
            raise ValueError(f"beta must be a finite number >= 0, got {beta!r}")
        if int(samples) != samples or samples < 1:
            raise ValueError(f"samples must be an integer >= 1, got {samples!r}")
        self.beta = float(beta)
        self.samples = int(samples)
        self.device = torch.device(device)
        self.dtype = dtype
        self.is_white = self.beta == 0 or self.samples == 1
        self._work_dtype = torch.float64 if dtype == torch.float64 else torch.float32
        self._scale = self._spectral_scale()

    @property
    def num_frequencies(self) -> int:
        """Number of real-FFT frequencies ``n // 2 + 1``."""
        return self.samples // 2 + 1

    def _spectral_scale(self) -> torch.Tensor:
        """``(n // 2 + 1, 2)`` factors of the real and imaginary parts, unit variance included."""
        n = self.samples
        if self.is_white:
            return torch.empty(0, 2, dtype=self._work_dtype, device=self.device)
        freqs = torch.arange(n // 2 + 1, dtype=torch.float64) / n
        freqs[0] = freqs[1]  # flat spectrum below fmin = 1 / n
        amplitude = freqs ** (-self.beta / 2)
        # Theoretical std of the output from the non-DC bins; the Nyquist bin of an even length is
        # real and counts half.
        weights = amplitude[1:].clone()
        if n % 2 == 0:
            weights[-1] = weights[-1] / 2
        sigma = 2 * torch.sqrt(torch.sum(weights**2)) / n
        real = amplitude.clone()
        imag = amplitude.clone()
        real[0] *= math.sqrt(2)  # the DC coefficient is real; magnitude fix of colorednoise 2.2
        imag[0] = 0
        if n % 2 == 0:  # the Nyquist coefficient is real too
            real[-1] *= math.sqrt(2)
            imag[-1] = 0
        return (torch.stack([real, imag], dim=-1) / sigma).to(self.device, self._work_dtype)

    def from_normals(self, real: torch.Tensor, imag: torch.Tensor) -> torch.Tensor:
        """Shape given standard-normal Fourier draws into colored noise.

        Args:
            real: ``(..., n // 2 + 1)`` standard-normal draws for the real parts.
            imag: ``(..., n // 2 + 1)`` standard-normal draws for the imaginary parts.

        Returns:
            ``(..., n)`` noise in :attr:`dtype`, the time axis last.

        Raises:
            ValueError: if the noise is white (no spectrum to shape) or the shapes do not match.
        """
        if self.is_white:
            raise ValueError(
                "from_normals needs beta > 0 and samples > 1 (white noise has no spectrum)"
            )
        expected = self.num_frequencies
        if real.shape != imag.shape or real.shape[-1:] != (expected,):
            raise ValueError(
                f"real and imag must both have shape (..., {expected}), got "
                f"{tuple(real.shape)} and {tuple(imag.shape)}"
            )
        normals = torch.stack([real, imag], dim=-1).to(self.device, self._work_dtype)
        return self._synthesize(normals)

    def _synthesize(self, normals: torch.Tensor) -> torch.Tensor:
        """``(..., n // 2 + 1, 2)`` standard normals (real, imaginary) -> ``(..., n)`` noise."""
        spectrum = torch.view_as_complex(normals * self._scale)
        noise = torch.fft.irfft(spectrum, n=self.samples, dim=-1)
        return noise if noise.dtype == self.dtype else noise.to(self.dtype)

    def sample(
        self,
        batch_shape: tuple[int, ...],
        generator: torch.Generator,
        *,
        channels: int | None = None,
    ) -> torch.Tensor:
        """Draw noise series.

        Args:
            batch_shape: leading shape of independent series.
            generator: source of randomness, on :attr:`device`.
            channels: if given, that many independent series per batch entry, laid out after
                the time axis (as action dimensions after the horizon).

        Returns:
            ``(*batch_shape, n)`` noise, or a ``(*batch_shape, n, channels)`` view of series
            generated time-last (a real FFT along the last axis is much faster on CPU);
            correlated along the time axis only.
        """
        shape = (*batch_shape, *(() if channels is None else (channels,)))
        if self.is_white:
            noise = torch.randn(
                (*shape, self.samples), generator=generator, device=self.device, dtype=self.dtype
            )
        else:
            normals = torch.randn(
                (*shape, self.num_frequencies, 2),
                generator=generator,
                device=self.device,
                dtype=self._work_dtype,
            )
            noise = self._synthesize(normals)
        return noise if channels is None else noise.transpose(-1, -2)


def powerlaw_psd_gaussian(
    beta: float,
    size: tuple[int, ...],
    *,
    generator: torch.Generator,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Torch counterpart of ``colorednoise.powerlaw_psd_gaussian``, on the generator's device.

    Args:
        beta: spectral exponent ``>= 0``.
        size: output shape; the last axis is time.
        generator: source of randomness; its device is the output's device.
        dtype: floating dtype of the output.

    Returns:
        Noise of shape ``size``; see :class:`ColoredNoise` for the normalisation.
    """
    if len(size) == 0:
        raise ValueError("size must have at least one axis (time), got ()")
    noise = ColoredNoise(beta, size[-1], device=generator.device, dtype=dtype)
    return noise.sample(tuple(size[:-1]), generator)
