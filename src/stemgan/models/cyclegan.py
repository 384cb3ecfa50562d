"""The cycleGAN as one Keras Model: two U-net generators, real-space and Fourier PatchGAN critics.

G: sim -> exp, F: exp -> sim. Each generator must fool a real-space PatchGAN and a PatchGAN on
the Fourier amplitude of its output domain. `train_step` computes every loss under one tape, so
fit() drives training and checkpoints, MLflow logging and pruning plug in as callbacks.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from stemgan.config import CycleGANConfig
from stemgan.models.image_pool import ImagePool
from stemgan.models.losses import discriminator_loss, distance, generator_loss
from stemgan.models.networks import cyclegan_networks

LOSS_NAMES = (
    "g_adversarial",
    "f_adversarial",
    "cycle",
    "identity",
    "generator_total",
    "d_exp",
    "d_sim",
    "d_exp_fft",
    "d_sim_fft",
)


class CycleGAN(keras.Model):
    def __init__(self, cfg: CycleGANConfig, tile_size: int, **kwargs):
        super().__init__(**kwargs)
        self.cfg = cfg
        for name, network in cyclegan_networks(cfg, tile_size).items():  # attribute names: checkpoint paths
            setattr(self, name, network)
        self.pool_exp = ImagePool(cfg.pool_size, tile_size, cfg.seed + 1, name="pool_exp")
        self.pool_sim = ImagePool(cfg.pool_size, tile_size, cfg.seed + 2, name="pool_sim")
        self.trackers = {name: keras.metrics.Mean(name=name) for name in LOSS_NAMES}

    @property
    def generators(self) -> list[keras.Model]:
        return [self.gen_sim2exp, self.gen_exp2sim]

    @property
    def discriminators(self) -> list[keras.Model]:
        return [d for d in (self.disc_exp, self.disc_sim, self.disc_exp_fft, self.disc_sim_fft) if d is not None]

    @property
    def metrics(self):
        return list(self.trackers.values())

    def compile(self, generator_optimizer, discriminator_optimizer, **kwargs):
        super().compile(**kwargs)
        self.generator_optimizer = generator_optimizer
        self.discriminator_optimizer = discriminator_optimizer

    def call(self, sim, training=False):
        """Inference: sim -> experiment-like."""
        return self.gen_sim2exp(sim, training=training)

    def _fooling(self, fake, critic, critic_fft):
        """Generator adversarial term: real space and Fourier amplitude, weighted by fft_weight."""
        real_space = generator_loss(self.cfg.adversarial_loss, critic(fake, training=True))
        if critic_fft is None:
            return real_space
        fourier = generator_loss(self.cfg.adversarial_loss, critic_fft(fake, training=True))
        return (1.0 - self.cfg.fft_weight) * real_space + self.cfg.fft_weight * fourier

    def _paired(self, network, a, b):
        """network(a), network(b) as one call, unless batch statistics would mix the two inputs."""
        if self.cfg.generator.norm == "batch":
            return network(a, training=True), network(b, training=True)
        return tf.split(network(tf.concat([a, b], axis=0), training=True), 2, axis=0)

    def _judging(self, real, fake, critic):
        """Discriminator loss, real and (pooled) fake judged in one call."""
        if self.cfg.discriminator.norm == "batch":
            real_logits, fake_logits = critic(real, training=True), critic(fake, training=True)
        else:
            real_logits, fake_logits = tf.split(critic(tf.concat([real, fake], axis=0), training=True), 2, axis=0)
        return discriminator_loss(self.cfg.adversarial_loss, real_logits, fake_logits)

    def train_step(self, data):
        sim, exp = data
        cfg = self.cfg
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        with tf.GradientTape(persistent=True) as tape:
            # one call per network where the inputs are independent: fewer, larger ops (instance norm is per image)
            fake_exp, same_exp = self._paired(self.gen_sim2exp, sim, exp)
            fake_sim, same_sim = self._paired(self.gen_exp2sim, exp, sim)
            cycle = distance("l1", sim, self.gen_exp2sim(fake_exp, training=True)) + distance(
                "l1", exp, self.gen_sim2exp(fake_sim, training=True)
            )
            identity = distance(cfg.identity_distance, exp, same_exp) + distance(cfg.identity_distance, sim, same_sim)
            g_adv = self._fooling(fake_exp, self.disc_exp, self.disc_exp_fft)
            f_adv = self._fooling(fake_sim, self.disc_sim, self.disc_sim_fft)
            generator_total = g_adv + f_adv + cfg.lambda_cycle * cycle + cfg.lambda_identity * identity

            pooled_exp = self.pool_exp(tf.stop_gradient(fake_exp))
            pooled_sim = self.pool_sim(tf.stop_gradient(fake_sim))
            d_losses = {
                "d_exp": self._judging(exp, pooled_exp, self.disc_exp),
                "d_sim": self._judging(sim, pooled_sim, self.disc_sim),
            }
            if cfg.fft_discriminators:
                d_losses["d_exp_fft"] = self._judging(exp, pooled_exp, self.disc_exp_fft)
                d_losses["d_sim_fft"] = self._judging(sim, pooled_sim, self.disc_sim_fft)
            discriminator_total = tf.add_n(list(d_losses.values()))
            # per-replica means are summed across replicas by the optimizer: scale to the global mean
            g_scaled = self._scale(self.generator_optimizer, generator_total / replicas)
            d_scaled = self._scale(self.discriminator_optimizer, discriminator_total / replicas)

        g_vars = [v for g in self.generators for v in g.trainable_variables]
        d_vars = [v for d in self.discriminators for v in d.trainable_variables]
        self.generator_optimizer.apply_gradients(zip(tape.gradient(g_scaled, g_vars), g_vars))
        self.discriminator_optimizer.apply_gradients(zip(tape.gradient(d_scaled, d_vars), d_vars))
        del tape

        values = {
            "g_adversarial": g_adv,
            "f_adversarial": f_adv,
            "cycle": cycle,
            "identity": identity,
            "generator_total": generator_total,
            **d_losses,
        }
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return {name: self.trackers[name].result() for name in values}

    @staticmethod
    def _scale(optimizer, loss):
        """Loss scaling for mixed precision (LossScaleOptimizer unscales in apply_gradients)."""
        return optimizer.scale_loss(loss) if isinstance(optimizer, keras.optimizers.LossScaleOptimizer) else loss
