"""Figures people judge micrographs by: images beside their Fourier amplitudes."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def log_fft_amplitude(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image, dtype=np.float64).squeeze()
    window = np.hanning(image.shape[0])[:, None] * np.hanning(image.shape[1])[None, :]
    return np.log10(np.abs(np.fft.fftshift(np.fft.fft2((image - image.mean()) * window))) + 1e-3)


def cycle_grid(sim, fake_exp, cycled_sim, exp, title: str = ""):
    """Rows = examples; columns = sim, G(sim), F(G(sim)), experimental, each followed by its FFT amplitude."""
    columns = [("sim", sim), ("G(sim)", fake_exp), ("F(G(sim))", cycled_sim), ("experimental", exp)]
    rows = min(len(sim), len(exp))
    fig, axes = plt.subplots(rows, 2 * len(columns), figsize=(2 * 2 * len(columns), 2 * rows), squeeze=False)
    for c, (name, images) in enumerate(columns):
        for r in range(rows):
            image = np.asarray(images[r]).squeeze()
            axes[r, 2 * c].imshow(image, cmap="gray", vmin=-1, vmax=1)
            axes[r, 2 * c + 1].imshow(log_fft_amplitude(image), cmap="magma")
        axes[0, 2 * c].set_title(name, fontsize=9)
        axes[0, 2 * c + 1].set_title(f"|FFT| {name}", fontsize=9)
    for ax in axes.ravel():
        ax.set_axis_off()
    fig.suptitle(title)
    fig.tight_layout()
    return fig
