"""Adversarial losses: LSGAN (the paper's), BCE and hinge; plus the reconstruction distances."""

from __future__ import annotations

import tensorflow as tf


def discriminator_loss(kind: str, real_logits: tf.Tensor, fake_logits: tf.Tensor) -> tf.Tensor:
    if kind == "lsgan":
        return 0.5 * (tf.reduce_mean(tf.square(real_logits - 1.0)) + tf.reduce_mean(tf.square(fake_logits)))
    if kind == "bce":
        bce = tf.nn.sigmoid_cross_entropy_with_logits
        return 0.5 * (
            tf.reduce_mean(bce(tf.ones_like(real_logits), real_logits))
            + tf.reduce_mean(bce(tf.zeros_like(fake_logits), fake_logits))
        )
    if kind == "hinge":
        return 0.5 * (tf.reduce_mean(tf.nn.relu(1.0 - real_logits)) + tf.reduce_mean(tf.nn.relu(1.0 + fake_logits)))
    raise ValueError(f"unknown adversarial loss '{kind}'")


def generator_loss(kind: str, fake_logits: tf.Tensor) -> tf.Tensor:
    if kind == "lsgan":
        return tf.reduce_mean(tf.square(fake_logits - 1.0))
    if kind == "bce":
        return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(tf.ones_like(fake_logits), fake_logits))
    if kind == "hinge":
        return -tf.reduce_mean(fake_logits)
    raise ValueError(f"unknown adversarial loss '{kind}'")


def distance(kind: str, a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    """l1 (cycle, as the paper) or l2 (identity, as the reference code)."""
    if kind == "l1":
        return tf.reduce_mean(tf.abs(a - b))
    if kind == "l2":
        return tf.reduce_mean(tf.square(a - b))
    raise ValueError(f"unknown distance '{kind}'")
