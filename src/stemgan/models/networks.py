"""U-net generator and PatchGAN discriminators (real space, or on the Fourier amplitude)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import keras
from keras import layers

from stemgan.models.blocks import INIT, downsample, upsample, upscale_conv
from stemgan.models.cpu_conv import Conv2D
from stemgan.models.fourier import FourierAmplitude

if TYPE_CHECKING:
    from stemgan.config import CycleGANConfig


def unet_generator(
    tile_size: int,
    depth: int,
    base_filters: int,
    max_filters: int,
    norm: str,
    dropout: float,
    name: str,
    upsampling: str = "transpose",
    residual: bool = False,
) -> keras.Model:
    """pix2pix U-net: `depth` stride-2 downsamplings (8 for 256^2 = paper size), skips, tanh output.

    residual=True returns input + tanh(U-net), as SimGAN's refiner: the network starts near the
    identity, so atoms stay put and the input noise passes through, and it learns only the change.
    """
    if tile_size % (2**depth):
        raise ValueError(f"tile size {tile_size} px must be divisible by 2**depth = {2**depth}")
    inputs = keras.Input((tile_size, tile_size, 1), name=f"{name}_input")
    x, skips = inputs, []
    for level in range(depth):
        filters = min(base_filters * 2**level, max_filters)
        x = downsample(x, filters, "none" if level == 0 or level == depth - 1 else norm)
        skips.append(x)
    for level in reversed(range(depth - 1)):
        filters = min(base_filters * 2**level, max_filters)
        x = upsample(x, filters, norm, dropout if level >= depth - 4 else 0.0, upsampling)
        x = layers.Concatenate()([x, skips[level]])
    if upsampling == "resize":
        # A full-resolution level that also sees the input: per-pixel detail (shot noise, scan-line
        # jitter) cannot come out of a bilinear upsampling, but it can be shaped from the input's own noise.
        x = upsample(x, base_filters, norm, 0.0, upsampling)
        x = layers.Concatenate()([x, inputs])
        x = Conv2D(1, 3, padding="same", kernel_initializer=INIT)(x)
    else:
        x = upscale_conv(x, 1, upsampling, use_bias=True)
    outputs = layers.Activation("tanh", dtype="float32")(x)
    if residual:
        outputs = layers.Add(dtype="float32", name=f"{name}_residual")([inputs, outputs])
    return keras.Model(inputs, outputs, name=name)


def patchgan_discriminator(
    tile_size: int,
    base_filters: int,
    n_layers: int,
    norm: str,
    name: str,
    fourier: bool = False,
    fft_window: bool = True,
) -> keras.Model:
    """PatchGAN: n_layers stride-2 convs then two stride-1 convs (n_layers = 3: 70x70 receptive field).

    With fourier=True the discriminator sees the standardised log FFT amplitude of its input.
    """
    inputs = keras.Input((tile_size, tile_size, 1), name=f"{name}_input")
    x = FourierAmplitude(window=fft_window)(inputs) if fourier else inputs
    for level in range(n_layers):
        x = downsample(x, base_filters * min(2**level, 8), "none" if level == 0 else norm)
    x = downsample(x, base_filters * min(2**n_layers, 8), norm, strides=1)
    x = Conv2D(1, 4, padding="same", kernel_initializer=INIT)(x)
    outputs = layers.Activation("linear", dtype="float32")(x)
    return keras.Model(inputs, outputs, name=name)


def cyclegan_networks(cfg: CycleGANConfig, tile_size: int) -> dict[str, keras.Model | None]:
    """The cycleGAN's networks by attribute name: generators G (sim -> exp) and F (exp -> sim), a real-space
    PatchGAN per domain and, with cfg.fft_discriminators, a Fourier-amplitude PatchGAN per domain (else None).
    Backend-neutral, so a JAX train step (benchmarks/train_throughput_jax.py) builds the same networks."""
    g, d = cfg.generator, cfg.discriminator

    def generator(name):
        return unet_generator(
            tile_size, g.depth, g.base_filters, g.max_filters, g.norm, g.dropout, name, g.upsampling, g.residual
        )

    def critic(name, fourier=False):
        return patchgan_discriminator(
            tile_size, d.base_filters, d.n_layers, d.norm, name, fourier=fourier, fft_window=cfg.fft_window
        )

    fft = cfg.fft_discriminators
    return {
        "gen_sim2exp": generator("generator_sim2exp"),
        "gen_exp2sim": generator("generator_exp2sim"),
        "disc_exp": critic("disc_exp"),
        "disc_sim": critic("disc_sim"),
        "disc_exp_fft": critic("disc_exp_fft", fourier=True) if fft else None,
        "disc_sim_fft": critic("disc_sim_fft", fourier=True) if fft else None,
    }
