"""The Fourier-amplitude view of an image batch, for the discriminators that judge spectra."""

from __future__ import annotations

import keras
import tensorflow as tf


def fft_log_amplitude(images: tf.Tensor, window: bool = True, eps: float = 1e-3) -> tf.Tensor:
    """log |FFT2| of (B, H, W, 1) images over the spatial axes only, centred, standardised per image.

    The FFT runs over H and W of each image (never across the batch), fftshift moves the zero
    frequency to the centre of the spatial axes only, and each spectrum gets zero mean and unit std,
    so the discriminator judges the shape of the spectrum, not the overall brightness.
    """
    x = tf.cast(images[..., 0], tf.float32)
    x = x - tf.reduce_mean(x, axis=(1, 2), keepdims=True)
    if window:  # a Hann window removes the cross of edge-discontinuity streaks from the spectrum
        h, w = tf.shape(x)[1], tf.shape(x)[2]
        x = x * (tf.signal.hann_window(h, periodic=False)[:, None] * tf.signal.hann_window(w, periodic=False)[None, :])
    # tf.complex (not tf.cast) keeps the backward pass free of complex-cast warnings
    spectrum = tf.signal.fft2d(tf.complex(x, tf.zeros_like(x)))
    amplitude = tf.math.log(tf.abs(spectrum) + eps)
    amplitude = tf.signal.fftshift(amplitude, axes=(1, 2))
    mean, var = tf.nn.moments(amplitude, axes=(1, 2), keepdims=True)
    return ((amplitude - mean) * tf.math.rsqrt(var + 1e-6))[..., None]


@keras.saving.register_keras_serializable(package="stemgan")
class FourierAmplitude(keras.layers.Layer):
    """Layer form of `fft_log_amplitude` (float32 inside, whatever the mixed-precision policy)."""

    def __init__(self, window: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.window = window

    def call(self, images):
        return tf.cast(fft_log_amplitude(images, self.window), self.compute_dtype)

    def get_config(self):
        return {**super().get_config(), "window": self.window}
