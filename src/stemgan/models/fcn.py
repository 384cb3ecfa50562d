"""The defect-finding FCN: a res-unet as in the paper (4 residual levels 16/32/64/128, 256 bottleneck,
dropout 0.1; class logits over {background, defect classes...}, softmax at inference)."""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import layers

from stemgan.models.cpu_conv import Conv2D

# Short CPU trainings move the weights fast; Keras' default 0.99 leaves the moving statistics far
# behind the final weights, so inference (moving stats) disagrees with training (batch stats).
BN_MOMENTUM = 0.9


@keras.saving.register_keras_serializable(package="stemgan")
class FusedBatchNormalization(layers.Layer):
    """Keras' BatchNormalization (NHWC, epsilon 1e-3, biased batch variance into the moving statistics) as TF's
    one fused kernel: Keras 3 composes it from moments and elementwise ops, a third of the FCN's CPU train step."""

    def __init__(self, momentum: float = 0.99, epsilon: float = 1e-3, **kwargs):
        super().__init__(**kwargs)
        self.momentum, self.epsilon = momentum, epsilon

    def build(self, input_shape):
        shape = (input_shape[-1],)
        self.gamma = self.add_weight(shape=shape, initializer="ones", name="gamma")
        self.beta = self.add_weight(shape=shape, initializer="zeros", name="beta")
        self.moving_mean = self.add_weight(shape=shape, initializer="zeros", name="moving_mean", trainable=False)
        self.moving_variance = self.add_weight(shape=shape, initializer="ones", name="moving_variance", trainable=False)

    def call(self, x, training=False):
        fused = tf.compat.v1.nn.fused_batch_norm
        if not training:
            return fused(
                x, self.gamma, self.beta, self.moving_mean, self.moving_variance, self.epsilon, is_training=False
            )[0]
        y, mean, variance = fused(x, self.gamma, self.beta, epsilon=self.epsilon, is_training=True)
        count = tf.cast(tf.reduce_prod(tf.shape(x)[:-1]), variance.dtype)
        variance = variance * (count - 1.0) / tf.maximum(count, 1.0)  # the kernel returns the unbiased variance
        self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
        self.moving_variance.assign(self.moving_variance * self.momentum + variance * (1.0 - self.momentum))
        return y

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "epsilon": self.epsilon}


def residual_block(x, filters: int, dropout: float):
    shortcut = layers.Conv2D(filters, 1, padding="same")(x)
    y = FusedBatchNormalization(momentum=BN_MOMENTUM)(x)
    y = layers.ReLU()(y)
    y = Conv2D(filters, 3, padding="same")(y)
    y = FusedBatchNormalization(momentum=BN_MOMENTUM)(y)
    y = layers.ReLU()(y)
    if dropout:
        y = layers.Dropout(dropout)(y)
    y = Conv2D(filters, 3, padding="same")(y)
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
