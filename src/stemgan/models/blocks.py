"""Small block builders shared by the generator and discriminators (as in the keras.io cycleGAN)."""

from __future__ import annotations

import keras
from keras import layers, ops

from stemgan.models.cpu_conv import Conv2D, Conv2DTranspose

INIT = keras.initializers.RandomNormal(mean=0.0, stddev=0.02)  # pix2pix/cycleGAN weight init


@keras.saving.register_keras_serializable(package="stemgan")
class InstanceNormalization(layers.Layer):
    """Per image and channel: zero mean and unit variance over the spatial axes, then a learned scale and offset
    (as GroupNormalization with one group per channel, in one fused moments op: a quarter of the generator's
    train step time less on CPU). Statistics in float32 whatever the mixed-precision policy. keras.ops only
    (tf.nn.moments under TensorFlow), so the networks also build under Keras's JAX backend."""

    def __init__(self, epsilon: float = 1e-5, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = epsilon

    def build(self, input_shape):
        channels = input_shape[-1]
        self.gamma = self.add_weight(shape=(channels,), initializer="ones", name="gamma")
        self.beta = self.add_weight(shape=(channels,), initializer="zeros", name="beta")

    def call(self, x):
        x32 = ops.cast(x, "float32")
        mean, variance = ops.moments(x32, axes=(1, 2), keepdims=True)
        scale = ops.rsqrt(variance + self.epsilon) * ops.cast(self.gamma, "float32")
        return ops.cast(x32 * scale + (ops.cast(self.beta, "float32") - mean * scale), self.compute_dtype)

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


def normalization(kind: str) -> layers.Layer | None:
    """instance, batch, or none."""
    if kind == "instance":
        return InstanceNormalization()
    if kind == "batch":
        return layers.BatchNormalization()
    if kind == "none":
        return None
    raise ValueError(f"unknown norm '{kind}'; use instance, batch or none")


def downsample(x, filters: int, norm: str, strides: int = 2, activation: bool = True):
    x = Conv2D(filters, 4, strides=strides, padding="same", kernel_initializer=INIT, use_bias=norm == "none")(x)
    layer = normalization(norm)
    if layer is not None:
        x = layer(x)
    return layers.LeakyReLU(0.2)(x) if activation else x


def upscale_conv(x, filters: int, upsampling: str, use_bias: bool):
    """2x upsampling convolution. Strided transposed convs overlap unevenly and print a checkerboard, a
    grid of peaks in the FFT that a Fourier discriminator sees at once (Odena et al., Distill 2016);
    bilinear resize then a 3x3 conv has no such pattern."""
    if upsampling == "transpose":
        return Conv2DTranspose(filters, 4, strides=2, padding="same", kernel_initializer=INIT, use_bias=use_bias)(x)
    if upsampling == "resize":
        x = layers.UpSampling2D(2, interpolation="bilinear")(x)
        return Conv2D(filters, 3, padding="same", kernel_initializer=INIT, use_bias=use_bias)(x)
    raise ValueError(f"unknown upsampling '{upsampling}'; use resize or transpose")


def upsample(x, filters: int, norm: str, dropout: float = 0.0, upsampling: str = "transpose"):
    x = upscale_conv(x, filters, upsampling, use_bias=norm == "none")
    layer = normalization(norm)
    if layer is not None:
        x = layer(x)
    if dropout:
        x = layers.Dropout(dropout)(x)
    return layers.ReLU()(x)
