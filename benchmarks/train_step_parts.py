"""Where one cycleGAN train step spends its time, per part (the speed issue's step profile).

    python benchmarks/train_step_parts.py                          # params.yaml (CPU default)
    python benchmarks/train_step_parts.py --profile profiles/paper.yaml --steps 5

Each part runs alone as its own traced function, forward and backward as in `CycleGAN.train_step`, on the
same random batch, in the model's precision:
- generators: the 6 generator calls of a step (G and F on sim and exp, the two cycle passes), L1/L2 terms;
- real-space critics: disc_exp and disc_sim on real + pooled fake (their loss and the generators' fooling term);
- Fourier amplitude: the windowed log |FFT2| of those inputs alone (what the Fourier critics add before conv);
- Fourier critics: disc_exp_fft and disc_sim_fft, the FFT included;
- optimizer updates: both Adam updates on gradients of the right shapes;
- input pipeline: one (sim + noise, exp) batch from the real `unpaired_stream` (shuffle, dihedral
  augmentation, input noise field, prefetch), on random tiles;
- whole step: `train_step` itself. Parts overlap a little (fused kernels, shared forward passes), so they need
  not add up to it exactly: the table says which part is worth attacking, not a ledger.

GFLOP/s: each part's convolution work (a backward pass counted as 2 forwards: input and filter gradients) over
its time, against this CPU's ceiling, one large convolution of the critics' widest layer in the same precision.
A step near the ceiling gets faster only with fewer FLOPs (smaller critics) or a faster precision.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from train_throughput import add_model_arguments, benchmark_model  # noqa: E402 (this folder, run as a script)


def timed(fn, steps: int, warmup: int) -> float:
    """Best-of-steps seconds per call (the minimum is the least disturbed by a shared machine)."""
    for _ in range(warmup):
        fn()
    best = float("inf")
    for _ in range(steps):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def conv_macs(network) -> int:
    """Multiply-adds of one tile's forward pass through the network's convolutions and transposed convolutions."""
    import keras

    total = 0
    for layer in network.layers:
        transposed = isinstance(layer, keras.layers.Conv2DTranspose)  # not a Conv2D subclass in Keras 3
        if transposed or isinstance(layer, keras.layers.Conv2D):
            kh, kw, c1, c2 = layer.kernel.shape  # transposed: (k, k, out, in), each input pixel spreads k x k
            grid = layer.input.shape if transposed else layer.output.shape
            total += grid[1] * grid[2] * kh * kw * c1 * c2
    return total


def step_macs(g_macs: int, d_macs: int, critics: int) -> int:
    """Multiply-adds per tile of one train step: 6 generator calls and, per critic, judged (2 tiles, both
    gradients) and fooled (1 tile, the input gradient only); x3 for a forward and its two gradients."""
    return 6 * 3 * g_macs + critics * (2 * 3 + 2) * d_macs


def conv_ceiling_gflops(dtype, steps: int) -> float:
    """GFLOP/s of a 16 x 16 x 128 -> 256, 4 x 4 convolution on 16 tiles (a PatchGAN's widest layer, 4x its batch)."""
    import tensorflow as tf

    x = tf.cast(tf.random.stateless_normal((16, 16, 16, 128), seed=(0, 0)), dtype)
    w = tf.cast(tf.random.stateless_normal((4, 4, 128, 256), seed=(0, 1)), dtype)
    conv = tf.function(lambda: tf.nn.conv2d(x, w, 1, "SAME"))
    return 2 * 16 * 16 * 16 * 256 * 4 * 4 * 128 / timed(lambda: conv().numpy(), max(steps, 20), 2) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_arguments(parser)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    args = parser.parse_args()

    import numpy as np
    import tensorflow as tf

    from stemgan.models.fourier import fft_log_amplitude
    from stemgan.models.losses import distance, generator_loss
    from stemgan.models.precision import resolve_precision
    from stemgan.training.data import unpaired_stream
    from stemgan.training.input_noise import InputNoise

    cfg, tile, model = benchmark_model(args)
    batch = cfg.batch_size
    rng = np.random.default_rng(0)
    sim, exp = (tf.constant(rng.uniform(-1, 1, (batch, tile, tile, 1)).astype(np.float32)) for _ in range(2))
    loss = cfg.adversarial_loss

    def generators():
        with tf.GradientTape() as tape:
            fake_exp, same_exp = model._paired(model.gen_sim2exp, sim, exp)
            fake_sim, same_sim = model._paired(model.gen_exp2sim, exp, sim)
            total = (
                distance("l1", sim, model.gen_exp2sim(fake_exp, training=True))
                + distance("l1", exp, model.gen_sim2exp(fake_sim, training=True))
                + distance(cfg.identity_distance, exp, same_exp)
                + distance(cfg.identity_distance, sim, same_sim)
            )
        variables = [v for g in model.generators for v in g.trainable_variables]
        return tape.gradient(total, variables)

    def critics(pair):
        """Forward + backward of two critics as in train_step: judged (D loss) and fooled (G's term)."""
        pair = [critic for critic in pair if critic is not None]
        with tf.GradientTape(persistent=True) as tape:
            tape.watch([sim, exp])
            judged = [model._judging(real, real[::-1], critic) for real, critic in zip((exp, sim), pair)]
            fooled = [generator_loss(loss, critic(fake, training=True)) for fake, critic in zip((sim, exp), pair)]
            total = tf.add_n(judged) + tf.add_n(fooled)
        grads = tape.gradient(total, [v for critic in pair for v in critic.trainable_variables])
        grads_in = tape.gradient(tf.add_n(fooled), [sim, exp])
        del tape
        return grads, grads_in

    def fourier_amplitude():
        both = tf.concat([sim, exp, sim, exp], axis=0)
        with tf.GradientTape() as tape:
            tape.watch(both)
            total = tf.reduce_sum(fft_log_amplitude(both, cfg.fft_window))
        return tape.gradient(total, both)

    g_vars = [v for g in model.generators for v in g.trainable_variables]
    d_vars = [v for d in model.discriminators for v in d.trainable_variables]
    g_zero = [tf.zeros_like(v) for v in g_vars]
    d_zero = [tf.zeros_like(v) for v in d_vars]

    def optimizer_updates():
        model.generator_optimizer.apply_gradients(zip(g_zero, g_vars))
        model.discriminator_optimizer.apply_gradients(zip(d_zero, d_vars))

    noise = InputNoise(white_std=0.2, field_std=0.1, field_correlation_px=20.0)
    pool_tiles = rng.uniform(-1, 1, (256, tile, tile, 1)).astype(np.float32)
    stream = iter(unpaired_stream(pool_tiles, pool_tiles, batch, cfg.seed, noise))
    step = tf.function(model.train_step, jit_compile=cfg.xla)

    parts = {
        "generators (6 calls, fwd+bwd)": tf.function(generators, jit_compile=cfg.xla),
        "real-space critics (fwd+bwd)": tf.function(lambda: critics([model.disc_exp, model.disc_sim])),
        "Fourier amplitude alone (fwd+bwd)": tf.function(fourier_amplitude),
        "Fourier critics, FFT included (fwd+bwd)": tf.function(
            lambda: critics([model.disc_exp_fft, model.disc_sim_fft])
        )
        if cfg.fft_discriminators
        else None,
        "optimizer updates (2 Adam)": tf.function(optimizer_updates),
        "input pipeline (one batch pair)": lambda: next(stream),
        "whole train step": lambda: step((sim, exp)),
    }
    seconds = {name: timed(fn, args.steps, args.warmup) for name, fn in parts.items() if fn is not None}
    whole = seconds["whole train step"]
    g_macs, d_macs = conv_macs(model.gen_sim2exp), conv_macs(model.disc_exp)
    critics_in_step = 4 if cfg.fft_discriminators else 2
    work = {  # multiply-adds of each part as written above (x3: forward + its two gradients)
        "generators (6 calls, fwd+bwd)": 6 * 3 * g_macs,
        "real-space critics (fwd+bwd)": 2 * 3 * 3 * d_macs,  # judged real + fake, fooled, each with both gradients
        "Fourier critics, FFT included (fwd+bwd)": 2 * 3 * 3 * d_macs,
        "whole train step": step_macs(g_macs, d_macs, critics_in_step),
    }
    precision = resolve_precision(cfg.precision)
    ceiling = conv_ceiling_gflops(tf.bfloat16 if precision == "mixed_bfloat16" else tf.float32, args.steps)
    print(
        f"tile {tile}px batch {batch}, precision={precision} xla={cfg.xla} "
        f"on {[d.device_type for d in tf.config.list_logical_devices()]}; best of {args.steps} calls each"
    )
    print(f"forward convolutions per tile: G {g_macs / 1e6:.0f} M multiply-adds, each critic {d_macs / 1e6:.0f} M")
    print(f"{'part':<42} {'ms':>8} {'of step':>8} {'GFLOP/s':>8}")
    for name, value in sorted(seconds.items(), key=lambda item: -item[1]):
        rate = f"{2 * batch * work[name] / value / 1e9:8.0f}" if name in work else ""
        print(f"{name:<42} {1000 * value:8.1f} {100 * value / whole:7.0f}% {rate}")
    print(f"{'ceiling: one large convolution, same precision':<60} {ceiling:8.0f}")


if __name__ == "__main__":
    main()
