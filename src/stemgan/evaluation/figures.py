"""Figures people judge micrographs by: images beside their Fourier amplitudes."""

from __future__ import annotations

import math

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


MARKERS = ("o", "s", "^", "D", "v", "P", "X")


def detection_overlay(image, detections, classes: tuple[str, ...], pixel_size_A: float, title: str = ""):
    """The image (its own pixel grid) with each class's detections ringed, and a scale bar."""
    h, w = image.shape
    figure, axis = plt.subplots(figsize=(6, 6 * h / w))
    low, high = np.percentile(image, [0.5, 99.5])
    axis.imshow(image, cmap="gray", vmin=low, vmax=high)
    for k, kind in enumerate(classes):
        found = detections[detections.defect == kind]
        axis.scatter(
            found.x_px,
            found.y_px,
            s=60,
            marker=MARKERS[k % len(MARKERS)],
            facecolors="none",
            edgecolors=f"C{k + 1}",
            linewidths=1.2,
            label=f"{kind} ({len(found)})",
        )
    bar_nm = _round_length(w * pixel_size_A / 10.0 / 5)  # about a fifth of the field
    bar_px = bar_nm * 10.0 / pixel_size_A
    axis.add_patch(plt.Rectangle((0.04 * w, 0.93 * h), bar_px, 0.012 * h, color="white"))
    axis.text(0.04 * w + bar_px / 2, 0.91 * h, f"{bar_nm:g} nm", color="white", ha="center", va="bottom")
    axis.set_axis_off()
    axis.legend(loc="upper right", fontsize=8, framealpha=0.6)
    axis.set_title(title, fontsize=9)
    figure.tight_layout()
    return figure


def _round_length(length: float) -> float:
    """1, 2 or 5 times a power of ten, at most `length`."""
    power = 10 ** math.floor(math.log10(length))
    return max(m * power for m in (1, 2, 5) if m * power <= length)
