"""Tiles per second of the cycleGAN train step under Keras's JAX backend: for GPU machines without TensorFlow.

    python benchmarks/train_throughput_jax.py --profile profiles/paper.yaml --precision mixed_bfloat16
    python benchmarks/train_throughput_jax.py --steps 5            # params.yaml (CPU default), a smoke run

The networks are training's own (`stemgan.models.networks.cyclegan_networks`: two U-net generators, a real-space
and a Fourier-amplitude PatchGAN per domain) and so are the losses (`stemgan.models.losses`): CycleGAN.train_step's
terms (adversarial, fft_weight mix, L1 cycle, identity), both Adam updates, jitted into one XLA program, the
compiler TensorFlow's `jit_compile` uses too. Left out: the image pool (a gather/scatter of one batch) and the
advance of dropout seeds; neither changes the work. Prints tiles/s, ms/step, peak device memory, and the step's
convolution TFLOP/s (a backward pass counted as 2 forwards) against one large matrix product in the same process.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time

os.environ["KERAS_BACKEND"] = "jax"
if shutil.which("nvidia-smi") is None:
    # XLA's CPU runtime deadlocks on the Fourier critics' FFT in Eigen's thread pool (jax 0.11.2, 2 cores)
    os.environ["XLA_FLAGS"] = os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false"

from train_step_parts import conv_macs, step_macs  # noqa: E402 (this folder, run as a script)
from train_throughput import add_model_arguments, benchmark_config  # noqa: E402

CRITICS = ("disc_exp", "disc_sim", "disc_exp_fft", "disc_sim_fft")


def read_config(args):
    cfg, tile = benchmark_config(args)
    if "batch" in (cfg.generator.norm, cfg.discriminator.norm):
        raise SystemExit("train_throughput_jax.py: batch norm is not supported here (instance or none)")
    return cfg, tile


def make_step(cfg, networks, g_optimizer, d_optimizer):
    """step(state, sim, exp) -> (state, losses): state = (G vars, D vars, G optimizer vars, D optimizer vars,
    non-trainable vars), each a dict of lists by network name."""
    import jax
    from keras import ops

    from stemgan.models.losses import discriminator_loss, distance, generator_loss

    gens = ("gen_sim2exp", "gen_exp2sim")
    critics = [name for name in CRITICS if networks[name] is not None]

    def run(name, trainable, fixed, x):
        return networks[name].stateless_call(trainable[name], fixed[name], x, training=True)[0]

    def fooling(d_vars, fixed, fake, critic):
        real_space = generator_loss(cfg.adversarial_loss, run(critic, d_vars, fixed, fake))
        if f"{critic}_fft" not in critics:
            return real_space
        fourier = generator_loss(cfg.adversarial_loss, run(f"{critic}_fft", d_vars, fixed, fake))
        return (1.0 - cfg.fft_weight) * real_space + cfg.fft_weight * fourier

    def g_loss(g_vars, d_vars, fixed, sim, exp):
        fake_exp, same_exp = ops.split(run(gens[0], g_vars, fixed, ops.concatenate([sim, exp])), 2)
        fake_sim, same_sim = ops.split(run(gens[1], g_vars, fixed, ops.concatenate([exp, sim])), 2)
        cycle = distance("l1", sim, run(gens[1], g_vars, fixed, fake_exp))
        cycle += distance("l1", exp, run(gens[0], g_vars, fixed, fake_sim))
        identity = distance(cfg.identity_distance, exp, same_exp) + distance(cfg.identity_distance, sim, same_sim)
        adversarial = fooling(d_vars, fixed, fake_exp, "disc_exp")
        adversarial += fooling(d_vars, fixed, fake_sim, "disc_sim")
        total = adversarial + cfg.lambda_cycle * cycle + cfg.lambda_identity * identity
        return total, (fake_exp, fake_sim)

    def d_loss(d_vars, fixed, sim, exp, fake_exp, fake_sim):
        total = 0.0
        for critic in critics:
            real, fake = (exp, fake_exp) if critic.startswith("disc_exp") else (sim, fake_sim)
            logits = ops.split(run(critic, d_vars, fixed, ops.concatenate([real, fake])), 2)
            total += discriminator_loss(cfg.adversarial_loss, *logits)
        return total

    def flat(tree, names):
        return [v for name in names for v in tree[name]]

    def unflat(values, like, names):
        out, i = {}, 0
        for name in names:
            out[name] = values[i : i + len(like[name])]
            i += len(like[name])
        return out

    def step(state, sim, exp):
        g_vars, d_vars, g_opt, d_opt, fixed = state
        (g_total, fakes), g_grads = jax.value_and_grad(g_loss, has_aux=True)(g_vars, d_vars, fixed, sim, exp)
        fakes = [jax.lax.stop_gradient(fake) for fake in fakes]
        d_total, d_grads = jax.value_and_grad(d_loss)(d_vars, fixed, sim, exp, *fakes)
        new_g, g_opt = g_optimizer.stateless_apply(g_opt, flat(g_grads, gens), flat(g_vars, gens))
        new_d, d_opt = d_optimizer.stateless_apply(d_opt, flat(d_grads, critics), flat(d_vars, critics))
        state = (unflat(new_g, g_vars, gens), unflat(new_d, d_vars, critics), g_opt, d_opt, fixed)
        return state, {"generator_total": g_total, "discriminator_total": d_total}

    return jax.jit(step, donate_argnums=0), gens, critics


def matmul_tflops(dtype: str, n: int, repeats: int = 10) -> float:
    """TFLOP/s of an n x n x n matrix product in `dtype` on random data (the device's ceiling for this dtype)."""
    import jax
    import jax.numpy as jnp

    a, b = (jax.random.normal(jax.random.key(i), (n, n), dtype=dtype) for i in (1, 2))
    product = jax.jit(jnp.matmul)
    product(a, b).block_until_ready()
    start = time.perf_counter()
    for _ in range(repeats):
        out = product(a, b)
    out.block_until_ready()
    return 2 * n**3 * repeats / (time.perf_counter() - start) / 1e12


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_arguments(parser)
    parser.add_argument("--precision", default="mixed_bfloat16", choices=("float32", "mixed_bfloat16"))
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--matmul-size", type=int, default=8192, help="side of the ceiling's matrix product")
    parser.add_argument("--json", help="append the figures as one JSON line to this file")
    args = parser.parse_args()

    import jax
    import keras
    import numpy as np

    from stemgan.models.networks import cyclegan_networks

    cfg, tile = read_config(args)
    keras.utils.set_random_seed(cfg.seed)
    keras.mixed_precision.set_global_policy(args.precision)
    networks = cyclegan_networks(cfg, tile)
    optimizers = [keras.optimizers.Adam(cfg.lr, beta_1=cfg.beta_1, beta_2=cfg.beta_2) for _ in range(2)]
    step, gens, critics = make_step(cfg, networks, *optimizers)
    for optimizer, names in zip(optimizers, (gens, critics)):
        optimizer.build([v for name in names for v in networks[name].trainable_variables])
    live = {name: network for name, network in networks.items() if network is not None}
    state = (
        {name: [v.value for v in live[name].trainable_variables] for name in gens},
        {name: [v.value for v in live[name].trainable_variables] for name in critics},
        [v.value for v in optimizers[0].variables],
        [v.value for v in optimizers[1].variables],
        {name: [v.value for v in network.non_trainable_variables] for name, network in live.items()},
    )
    rng = np.random.default_rng(cfg.seed)
    sim, exp = (jax.numpy.asarray(rng.uniform(-1, 1, (cfg.batch_size, tile, tile, 1)), "float32") for _ in range(2))

    start = time.perf_counter()
    for _ in range(args.warmup):
        state, losses = step(state, sim, exp)
    jax.block_until_ready(losses)
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(args.steps):
        state, losses = step(state, sim, exp)
    jax.block_until_ready(losses)
    seconds = (time.perf_counter() - start) / args.steps
    if not all(np.isfinite(float(value)) for value in losses.values()):
        raise SystemExit(f"train_throughput_jax.py: non-finite losses {losses}")

    g_macs, d_macs = conv_macs(networks["gen_sim2exp"]), conv_macs(networks["disc_exp"])
    step_flop = 2 * cfg.batch_size * step_macs(g_macs, d_macs, len(critics))
    device = jax.devices()[0]
    peak = (device.memory_stats() or {}).get("peak_bytes_in_use")
    ceiling = matmul_tflops("bfloat16" if args.precision == "mixed_bfloat16" else "float32", args.matmul_size)
    figures = {
        "device": device.device_kind,
        "tile_px": tile,
        "batch": cfg.batch_size,
        "precision": args.precision,
        "g_params_m": round(networks["gen_sim2exp"].count_params() / 1e6, 2),
        "critics": len(critics),
        "tiles_per_s": round(cfg.batch_size / seconds, 1),
        "ms_per_step": round(1000 * seconds, 2),
        "compile_s": round(compile_s, 1),
        "peak_memory_gib": round(peak / 2**30, 2) if peak else None,
        "step_tflop": round(step_flop / 1e12, 3),
        "conv_tflops": round(step_flop / seconds / 1e12, 1),
        "matmul_tflops": round(ceiling, 1),
    }
    print(
        f"{figures['device']}: tile {tile}px batch {cfg.batch_size} G {figures['g_params_m']}M params x2, "
        f"D x{len(critics)}, {args.precision}, JAX/XLA: {figures['tiles_per_s']} tiles/s "
        f"({figures['ms_per_step']} ms/step, compile {figures['compile_s']} s), peak memory "
        f"{figures['peak_memory_gib']} GiB; {figures['step_tflop']} TFLOP/step = {figures['conv_tflops']} TFLOP/s, "
        f"{100 * figures['conv_tflops'] / ceiling:.0f}% of a {args.matmul_size}^3 matrix product ({ceiling:.0f})"
    )
    if args.json:
        with open(args.json, "a") as out:
            out.write(json.dumps(figures) + "\n")


if __name__ == "__main__":
    main()
