"""Realism metrics between two image sets (e.g. G(sim) vs experimental), none needing downloaded weights.

- spectrum: radially averaged power spectrum distance (decades, over a band in Å^-1), noise-floor
  power ratio (beyond twice the probe aperture, where only noise lives) and low-frequency power
  ratio (contamination scale);
- histogram: Wasserstein distance between normalised intensity distributions;
- KID: unbiased kernel inception distance with the cubic polynomial kernel, on features of a network
  of this project (any Keras model; e.g. the defect FCN's encoder);
- C2ST: a small CNN trained to tell the two sets apart; AUC on a held-out split (0.5 = indistinguishable)
  with a bootstrap interval.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stemgan.data.tiles import cut_tiles
from stemgan.evaluation.spectra import paired_spectra, radial_power_spectrum, shared_bins, spectra_distance


def band_power(k: np.ndarray, power: np.ndarray, k_low: float, k_high: float) -> float:
    """Mean of a radial power spectrum over k_low <= k < k_high (Å^-1); NaN where no bin lies there."""
    band = (k >= k_low) & (k < k_high)
    return float(power[band].mean()) if band.any() else float("nan")


NOISE_FLOOR_BAND_A = (1.6, 2.4)  # Å^-1, the noise floor's band (capped at Nyquist where sampling is coarser)
LOW_FREQUENCY_BAND_A = (0.01, 0.05)  # Å^-1, the contamination scale: 20-100 Å


def spectral_metrics(
    a: np.ndarray,
    b: np.ndarray,
    pixel_size_A: float,
    noise_band_A: tuple[float, float] = NOISE_FLOOR_BAND_A,
    low_band_A: tuple[float, float] = LOW_FREQUENCY_BAND_A,
) -> dict[str, float]:
    """Spectrum distance of a to b, and a/b power ratios in the noise-floor and low-frequency bands
    (NaN for a band the images are too small or too coarsely sampled to contain)."""
    return band_metrics(*paired_spectra(a, b, pixel_size_A), pixel_size_A, noise_band_A, low_band_A)


def band_metrics(
    k: np.ndarray,
    pa: np.ndarray,
    pb: np.ndarray,
    pixel_size_A: float,
    noise_band_A: tuple[float, float] = NOISE_FLOOR_BAND_A,
    low_band_A: tuple[float, float] = LOW_FREQUENCY_BAND_A,
) -> dict[str, float]:
    """spectral_metrics of two radial power spectra on the same k bins (Å^-1)."""
    noise_band = (noise_band_A[0], min(noise_band_A[1], 0.5 / pixel_size_A))  # up to Nyquist
    return {
        "spectrum_distance": spectra_distance(k, pa, pb),
        "noise_floor_ratio": band_power(k, pa, *noise_band) / band_power(k, pb, *noise_band),
        "low_frequency_ratio": band_power(k, pa, *low_band_A) / band_power(k, pb, *low_band_A),
    }


def histogram_distance(a: np.ndarray, b: np.ndarray, n_quantiles: int = 2001) -> float:
    """Wasserstein-1 distance between the pixel intensity distributions (normalised images), computed
    on quantile functions: exact 0 for identical sets, no sampling."""
    return quantile_distance(intensity_quantiles(a, n_quantiles), intensity_quantiles(b, n_quantiles))


def intensity_quantiles(images: np.ndarray, n_quantiles: int = 2001) -> np.ndarray:
    """The set's pixel intensity quantile function at n_quantiles evenly spaced levels."""
    # sorted first: the same values, but np.quantile's partition around 2001 points is 6x slower than a sort
    return np.quantile(np.sort(np.ravel(images)), np.linspace(0.0, 1.0, n_quantiles))


def quantile_distance(qa: np.ndarray, qb: np.ndarray) -> float:
    return float(np.mean(np.abs(qa - qb)))


def kernel_inception_distance(fa: np.ndarray, fb: np.ndarray) -> float:
    """Unbiased MMD^2 with k(x, y) = (x.y / d + 1)^3 (Binkowski et al.); ~0 for identical distributions."""
    fa, fb = np.asarray(fa, np.float64), np.asarray(fb, np.float64)
    d = fa.shape[1]
    kxx, kyy, kxy = ((fa @ fa.T / d + 1) ** 3, (fb @ fb.T / d + 1) ** 3, (fa @ fb.T / d + 1) ** 3)
    m, n = len(fa), len(fb)
    return float(
        (kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1)) - 2 * kxy.mean()
    )


def bottleneck_layer(model) -> str:
    """The layer feeding a U-net's first upsampling (its bottleneck); else the widest 4-D layer."""
    import keras

    for previous, layer in zip(model.layers, model.layers[1:]):
        if isinstance(layer, (keras.layers.UpSampling2D, keras.layers.Conv2DTranspose)):
            return previous.name
    four_d = [layer for layer in model.layers if len(layer.output.shape) == 4]
    return max(four_d, key=lambda layer: layer.output.shape[-1]).name


def feature_extractor(model, layer_name: str | None = None):
    """A Keras model of `model`'s inputs to one layer's activations (default: the bottleneck)."""
    import keras

    return keras.Model(model.inputs, model.get_layer(layer_name or bottleneck_layer(model)).output)


def pooled_features(extractor, tiles: np.ndarray) -> np.ndarray:
    """Global-average-pooled activations of a feature_extractor; one extractor for every set it compares keeps
    its traced predict function."""
    return extractor.predict(tiles, batch_size=32, verbose=0).mean(axis=(1, 2))


@dataclass(frozen=True)
class TwoSampleTest:
    auc: float
    auc_low: float
    auc_high: float
    n_test: int


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Mann-Whitney AUC (ties count half)."""
    from scipy.stats import rankdata

    ranks = rankdata(scores)
    positives = labels == 1
    n_pos, n_neg = positives.sum(), (~positives).sum()
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def classifier_two_sample_test(
    a: np.ndarray, b: np.ndarray, seed: int = 0, epochs: int = 5, bootstrap: int = 500
) -> TwoSampleTest:
    """Train a small CNN on half of each set to tell them apart; AUC on the other half (0.5 = alike)."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    x = (
        np.concatenate([a, b]).astype(np.float32)[..., None]
        if a.ndim == 3
        else np.concatenate([a, b]).astype(np.float32)
    )
    y = np.concatenate([np.zeros(len(a)), np.ones(len(b))]).astype(np.float32)
    order = rng.permutation(len(x))
    x, y = x[order], y[order]
    half = len(x) // 2
    net = keras.Sequential(
        [
            keras.Input(x.shape[1:]),
            layers.Conv2D(8, 3, strides=2, activation="relu", padding="same"),
            layers.Conv2D(16, 3, strides=2, activation="relu", padding="same"),
            layers.Conv2D(32, 3, strides=2, activation="relu", padding="same"),
            layers.GlobalAveragePooling2D(),
            layers.Dense(1),
        ]
    )
    net.compile(optimizer=keras.optimizers.Adam(1e-3), loss=keras.losses.BinaryCrossentropy(from_logits=True))
    net.optimizer.build(net.trainable_variables)  # slots now: a first step that creates them is traced twice
    net.fit(x[:half], y[:half], epochs=epochs, batch_size=16, verbose=0, shuffle=True)
    scores = net.predict(x[half:], verbose=0).ravel()
    labels = y[half:]
    auc = roc_auc(labels, scores)
    picks = rng.integers(0, len(labels), size=(bootstrap, len(labels)))
    boots = [roc_auc(labels[p], scores[p]) for p in picks if 0 < labels[p].sum() < len(p)]
    return TwoSampleTest(auc, float(np.percentile(boots, 2.5)), float(np.percentile(boots, 97.5)), len(labels))


class ReferenceSet:
    """The set every source is compared with (the experimental images): its spectra and intensity quantiles
    computed once, however many sources are compared with it."""

    def __init__(self, images: np.ndarray, pixel_size_A: float):
        self.images, self.pixel_size_A = images, pixel_size_A
        self.quantiles = intensity_quantiles(images)
        self._spectra: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def spectrum(self, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
        if n_bins not in self._spectra:
            self._spectra[n_bins] = radial_power_spectrum(self.images, self.pixel_size_A, n_bins)
        return self._spectra[n_bins]

    def histogram_and_spectra(self, images: np.ndarray) -> dict[str, float]:
        """spectral_metrics and histogram_distance of `images` against this set."""
        n_bins = shared_bins(images, self.images)
        k, power = radial_power_spectrum(images, self.pixel_size_A, n_bins)
        return {
            **band_metrics(k, power, self.spectrum(n_bins)[1], self.pixel_size_A),
            "histogram_distance": quantile_distance(intensity_quantiles(images), self.quantiles),
        }


TILE_PX = 64  # tiles for the feature-based metrics (KID, C2ST)


def tiles_of(images: np.ndarray, max_tiles: int, seed: int) -> np.ndarray:
    tiles = np.concatenate([cut_tiles(i, TILE_PX, TILE_PX)[0] for i in images])
    return tiles[np.random.default_rng(seed).permutation(len(tiles))[:max_tiles]]


def realism_report(
    sources: dict[str, np.ndarray],
    experimental: np.ndarray,
    pixel_size_A: float,
    feature_model,
    seed: int,
    max_tiles: int = 256,
) -> dict[str, dict[str, float]]:
    """Metrics of each source against the experimental images (all normalised the same way)."""
    exp_tiles = tiles_of(experimental, max_tiles, seed)
    reference = ReferenceSet(experimental, pixel_size_A)
    extractor = feature_extractor(feature_model) if feature_model is not None else None
    exp_features = pooled_features(extractor, exp_tiles[..., None]) if extractor is not None else None
    report = {}
    for name, images in sources.items():
        metrics = reference.histogram_and_spectra(images)
        tiles = tiles_of(images, max_tiles, seed + 1)
        if extractor is not None:
            metrics["kid"] = kernel_inception_distance(pooled_features(extractor, tiles[..., None]), exp_features)
        c2st = classifier_two_sample_test(tiles, exp_tiles, seed=seed, epochs=5)
        metrics.update(c2st_auc=c2st.auc, c2st_auc_low=c2st.auc_low, c2st_auc_high=c2st.auc_high)
        report[name] = metrics
    return report
