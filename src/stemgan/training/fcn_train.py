"""Train the defect-finding FCN on labelled images (simulated, noisy or cycleGAN-generated)."""

from __future__ import annotations

import numpy as np

from stemgan.config import FCNConfig
from stemgan.data.labelled import LabelledImage


def pixel_weights(target, defect_weight: float):
    import tensorflow as tf

    return 1.0 + (defect_weight - 1.0) * tf.reduce_sum(target[..., 1:], axis=-1)


def make_loss(cfg: FCNConfig):
    """From logits: weighted_ce (defect pixels weigh defect_weight), focal (gamma 2), dice (+ CE)."""
    import tensorflow as tf

    def weighted_ce(target, logits):
        ce = tf.nn.softmax_cross_entropy_with_logits(target, logits)
        return tf.reduce_mean(ce * pixel_weights(target, cfg.defect_weight))

    def focal(target, logits):
        log_p = tf.nn.log_softmax(logits)
        return tf.reduce_mean(tf.reduce_sum(-target * (1 - tf.exp(log_p)) ** 2 * log_p, axis=-1))

    def dice(target, logits):
        probs = tf.nn.softmax(logits)
        inter = tf.reduce_sum(target[..., 1:] * probs[..., 1:], axis=(1, 2))
        total = tf.reduce_sum(target[..., 1:] + probs[..., 1:], axis=(1, 2))
        dice_loss = 1.0 - tf.reduce_mean((2 * inter + 1.0) / (total + 1.0))
        return dice_loss + tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(target, logits))

    return {"weighted_ce": weighted_ce, "focal": focal, "dice": dice}[cfg.loss]


def crop_stream(images: np.ndarray, targets: np.ndarray, tile: int, batch: int, seed: int, noise_std: float):
    """Endless random crops with their targets, rot90/flips, optional fresh Gaussian noise; seeded."""
    import tensorflow as tf

    from stemgan.training.data import augment, without_autotune_thread

    stacked = np.concatenate([images[..., None], targets], axis=-1).astype(np.float32)
    channels = stacked.shape[-1]
    ds = tf.data.Dataset.from_tensor_slices(stacked).repeat().shuffle(len(stacked), seed=seed)
    seeds = tf.data.Dataset.random(seed=seed).batch(2)

    def sample(item, s):
        crop = tf.image.stateless_random_crop(item, (tile, tile, channels), s)
        crop = augment(crop, s + 3)
        image, target = crop[..., :1], crop[..., 1:]
        if noise_std:
            image = image + noise_std * tf.random.stateless_normal(tf.shape(image), s + 7)
        return image, target

    ds = tf.data.Dataset.zip(ds, seeds).map(sample, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return without_autotune_thread(ds.batch(batch, drop_remainder=True).prefetch(tf.data.AUTOTUNE))


# One compiled FCN per architecture and process, whose traced train step (~3 s a trace on CPU) every later FCN of
# that architecture reuses: a stage trains 4-6 FCNs in each worker (issue 14)
_TRAINERS: dict[tuple, object] = {}


def train_fcn(
    cfg: FCNConfig,
    data: list[LabelledImage],
    classes: tuple[str, ...],
    noise_std: float,
    seed: int,
    pixel_size_A: float,
    run_name: str,
    callbacks=(),
):
    """A trained res-unet; per-epoch loss logged to the active MLflow run (if any)."""
    import keras

    from stemgan.training.callbacks import MlflowEpochLogger, fit_progress
    from stemgan.training.targets import defect_targets

    cfg.check()
    keras.utils.set_random_seed(seed)
    images = np.stack([d.image for d in data])
    radius_px = cfg.target_radius_A / pixel_size_A
    targets = np.stack([defect_targets(d.labels, d.image.shape, classes, radius_px, cfg.target) for d in data])
    dataset = crop_stream(images, targets, cfg.tile_size_px, cfg.batch_size, seed, noise_std)
    n_outputs = 1 + len(classes)  # background and each defect class
    model = compiled_fcn(cfg, n_outputs, seed, f"fcn_{run_name}")
    # trained as the process's trainer of this architecture, never as a model returned before: it is overwritten
    architecture = _architecture(cfg, n_outputs)
    if architecture not in _TRAINERS:
        _TRAINERS[architecture] = compiled_fcn(cfg, n_outputs, seed, "fcn_trainer")
    trainer = _TRAINERS[architecture]
    copy_state(model, trainer)  # this seed's initial weights, dropout seed states and fresh Adam slots
    epochs = 10
    verbose, progress = fit_progress(f"fcn {run_name}", ("loss",))
    trainer.fit(
        dataset,
        epochs=epochs,
        steps_per_epoch=max(cfg.steps // epochs, 1),
        verbose=verbose,
        callbacks=[MlflowEpochLogger(prefix="fcn_"), *progress, *callbacks],
    )
    copy_state(trainer, model)
    return model


def compiled_fcn(cfg: FCNConfig, n_outputs: int, seed: int, name: str):
    """A res-unet of n_outputs class logits with the seed's initial weights, compiled, its optimizer's slots made."""
    import keras

    from stemgan.models.fcn import res_unet

    keras.utils.set_random_seed(seed)
    model = res_unet(None, cfg.filters, cfg.bottleneck, cfg.dropout, n_outputs, name=name)
    model.compile(optimizer=keras.optimizers.Adam(cfg.lr), loss=make_loss(cfg))
    # Adam's slots made now, not inside the first step: a tf.function whose first call creates variables is
    # traced twice (half of the FCN's ~10 s first step on CPU, for every seed of every Table 1 row)
    model.optimizer.build(model.trainable_variables)
    return model


def copy_state(source, target) -> None:
    """Every variable of one compiled FCN into another of the same architecture: weights, batch-norm statistics,
    dropout seed states (Keras `variables`) and the optimizer's step count and slots."""
    for variables in ((source.variables, target.variables), (source.optimizer.variables, target.optimizer.variables)):
        for value, variable in zip(*variables, strict=True):
            variable.assign(value)


def _architecture(cfg: FCNConfig, n_outputs: int) -> tuple:
    """What a compiled FCN's traced train step depends on."""
    return (tuple(cfg.filters), cfg.bottleneck, cfg.dropout, n_outputs, cfg.lr, cfg.loss, cfg.defect_weight)
