"""Learning rate held constant, then decayed linearly to zero (cycleGAN's schedule)."""

from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="stemgan")
class ConstantThenLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """lr for steps < decay_start_step, then linearly to 0 at total_steps."""

    def __init__(self, lr: float, decay_start_step: int, total_steps: int):
        self.lr = float(lr)
        self.decay_start_step = int(decay_start_step)
        self.total_steps = int(total_steps)

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        span = tf.cast(max(self.total_steps - self.decay_start_step, 1), tf.float32)
        fraction = tf.clip_by_value((step - self.decay_start_step) / span, 0.0, 1.0)
        return self.lr * (1.0 - fraction)

    def get_config(self):
        return {"lr": self.lr, "decay_start_step": self.decay_start_step, "total_steps": self.total_steps}
