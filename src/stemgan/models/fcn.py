"""The defect-finding FCN: a res-unet as in the paper (4 residual levels 16/32/64/128, 256 bottleneck,
dropout 0.1; class logits over {background, defect classes...}, softmax at inference)."""

from __future__ import annotations

import keras
from keras import layers

# Short CPU trainings move the weights fast; Keras' default 0.99 leaves the moving statistics far
# behind the final weights, so inference (moving stats) disagrees with training (batch stats).
BN_MOMENTUM = 0.9


def residual_block(x, filters: int, dropout: float):
    shortcut = layers.Conv2D(filters, 1, padding="same")(x)
    y = layers.BatchNormalization(momentum=BN_MOMENTUM)(x)
    y = layers.ReLU()(y)
    y = layers.Conv2D(filters, 3, padding="same")(y)
    y = layers.BatchNormalization(momentum=BN_MOMENTUM)(y)
    y = layers.ReLU()(y)
    if dropout:
        y = layers.Dropout(dropout)(y)
    y = layers.Conv2D(filters, 3, padding="same")(y)
    return layers.Add()([shortcut, y])


def res_unet(
    tile_size: int | None,
    filters: tuple[int, ...],
    bottleneck: int,
    dropout: float,
    n_classes: int,
    name: str = "res_unet",
) -> keras.Model:
    """Fully convolutional: any input size divisible by 2**len(filters) works at inference."""
    inputs = keras.Input((tile_size, tile_size, 1), name="image")
    x, skips = inputs, []
    for f in filters:
        x = residual_block(x, f, dropout)
        skips.append(x)
        x = layers.MaxPooling2D(2)(x)
    x = residual_block(x, bottleneck, dropout)
    for f, skip in zip(reversed(filters), reversed(skips)):
        x = layers.UpSampling2D(2, interpolation="bilinear")(x)
        x = layers.Concatenate()([x, skip])
        x = residual_block(x, f, dropout)
    # logits out: losses use log-softmax (no saturation); inference applies softmax
    logits = layers.Conv2D(n_classes, 1, padding="same", dtype="float32", name="logits")(x)
    return keras.Model(inputs, logits, name=name)
