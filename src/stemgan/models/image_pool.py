"""History of generated images for discriminator updates (Shrivastava et al.; cycleGAN's pool of 50)."""

from __future__ import annotations

import keras
import tensorflow as tf


class ImagePool(tf.Module):
    """Until full, pass images through and store them; then each image is, with probability 1/2,
    swapped for a random stored one (which the new image replaces). Graph-safe and seeded."""

    def __init__(self, size: int, tile_size: int, seed: int, name: str = "image_pool"):
        super().__init__(name=name)
        self.size = size
        if size > 0:
            self.images = tf.Variable(tf.zeros((size, tile_size, tile_size, 1)), trainable=False, name="images")
            self.count = tf.Variable(0, dtype=tf.int32, trainable=False, name="count")
        self.seed = keras.random.SeedGenerator(seed)

    def __call__(self, images: tf.Tensor) -> tf.Tensor:
        if self.size <= 0:
            return images
        images = tf.cast(images, tf.float32)
        n = tf.shape(images)[0]
        full = self.count >= self.size
        swap = tf.logical_and(full, keras.random.uniform((n,), seed=self.seed) < 0.5)
        slot = tf.cast(keras.random.uniform((n,), 0, self.size, seed=self.seed), tf.int32)
        slot = tf.minimum(slot, self.size - 1)
        fill_slot = tf.math.floormod(self.count + tf.range(n), self.size)
        target = tf.where(full, slot, fill_slot)
        stored = tf.gather(self.images, target)
        out = tf.where(swap[:, None, None, None], stored, images)
        write = tf.logical_or(swap, tf.logical_not(full))
        rows = tf.boolean_mask(target, write)[:, None]
        self.images.scatter_nd_update(rows, tf.boolean_mask(images, write))
        self.count.assign(tf.minimum(self.count + n, self.size))
        return out
