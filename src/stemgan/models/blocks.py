"""Small block builders shared by the generator and discriminators (as in the keras.io cycleGAN)."""

from __future__ import annotations

import keras
from keras import layers

INIT = keras.initializers.RandomNormal(mean=0.0, stddev=0.02)  # pix2pix/cycleGAN weight init


def normalization(kind: str) -> layers.Layer | None:
    """instance (GroupNormalization with one group per channel), batch, or none."""
    if kind == "instance":
        return layers.GroupNormalization(groups=-1, epsilon=1e-5)
    if kind == "batch":
        return layers.BatchNormalization()
    if kind == "none":
        return None
    raise ValueError(f"unknown norm '{kind}'; use instance, batch or none")


def downsample(x, filters: int, norm: str, strides: int = 2, activation: bool = True):
    x = layers.Conv2D(filters, 4, strides=strides, padding="same", kernel_initializer=INIT, use_bias=norm == "none")(x)
    layer = normalization(norm)
    if layer is not None:
        x = layer(x)
    return layers.LeakyReLU(0.2)(x) if activation else x


def upscale_conv(x, filters: int, upsampling: str, use_bias: bool):
    """2x upsampling convolution. Strided transposed convs overlap unevenly and print a checkerboard, a
    grid of peaks in the FFT that a Fourier discriminator sees at once (Odena et al., Distill 2016);
    bilinear resize then a 3x3 conv has no such pattern."""
    if upsampling == "transpose":
        return layers.Conv2DTranspose(
            filters, 4, strides=2, padding="same", kernel_initializer=INIT, use_bias=use_bias
        )(x)
    if upsampling == "resize":
        x = layers.UpSampling2D(2, interpolation="bilinear")(x)
        return layers.Conv2D(filters, 3, padding="same", kernel_initializer=INIT, use_bias=use_bias)(x)
    raise ValueError(f"unknown upsampling '{upsampling}'; use resize or transpose")


def upsample(x, filters: int, norm: str, dropout: float = 0.0, upsampling: str = "transpose"):
    x = upscale_conv(x, filters, upsampling, use_bias=norm == "none")
    layer = normalization(norm)
    if layer is not None:
        x = layer(x)
    if dropout:
        x = layers.Dropout(dropout)(x)
    return layers.ReLU()(x)
