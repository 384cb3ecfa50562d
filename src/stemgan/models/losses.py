"""Adversarial losses: LSGAN (the paper's), BCE and hinge; plus the reconstruction distances.

keras.ops only (the same TensorFlow ops under TensorFlow), so a JAX train step uses the same losses."""

from __future__ import annotations

from keras import ops


def _bce(labels, logits):
    return ops.mean(ops.binary_crossentropy(labels, logits, from_logits=True))


def discriminator_loss(kind: str, real_logits, fake_logits):
    if kind == "lsgan":
        return 0.5 * (ops.mean(ops.square(real_logits - 1.0)) + ops.mean(ops.square(fake_logits)))
    if kind == "bce":
        return 0.5 * (_bce(ops.ones_like(real_logits), real_logits) + _bce(ops.zeros_like(fake_logits), fake_logits))
    if kind == "hinge":
        return 0.5 * (ops.mean(ops.relu(1.0 - real_logits)) + ops.mean(ops.relu(1.0 + fake_logits)))
    raise ValueError(f"unknown adversarial loss '{kind}'")


def generator_loss(kind: str, fake_logits):
    if kind == "lsgan":
        return ops.mean(ops.square(fake_logits - 1.0))
    if kind == "bce":
        return _bce(ops.ones_like(fake_logits), fake_logits)
    if kind == "hinge":
        return -ops.mean(fake_logits)
    raise ValueError(f"unknown adversarial loss '{kind}'")


def distance(kind: str, a, b):
    """l1 (cycle, as the paper) or l2 (identity, as the reference code)."""
    if kind == "l1":
        return ops.mean(ops.abs(a - b))
    if kind == "l2":
        return ops.mean(ops.square(a - b))
    raise ValueError(f"unknown distance '{kind}'")
