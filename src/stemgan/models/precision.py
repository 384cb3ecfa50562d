"""The numeric precision a model trains in: the fastest this machine does well, unless params.yaml says which."""

from __future__ import annotations

import contextlib
from functools import lru_cache
from pathlib import Path

PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")
# CPU flag (Linux /proc/cpuinfo) of the bfloat16 matrix units: oneDNN runs the PatchGANs' bfloat16 convolutions on
# them ~3x faster than float32. AVX512-BF16 alone (bfloat16 dot products, no tiles) is not enough: on a 2-vCPU
# Xeon with avx512_bf16 and no AMX the default cycleGAN step ran 1.4-1.6x slower in mixed_bfloat16 than in float32
# (6.1-6.2 against 8.5-9.7 tiles/s, benchmarks/train_throughput.py); AVX2 CPUs emulate bfloat16, slower still
BF16_CPU_FLAGS = ("amx_bf16",)


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str]:
    try:
        text = cpuinfo.read_text()
    except OSError:  # not Linux: no flags known, so no bfloat16
        return set()
    return {flag for line in text.splitlines() if line.startswith("flags") for flag in line.split(":", 1)[1].split()}


@lru_cache(maxsize=None)
def resolve_precision(precision: str) -> str:
    """A Keras dtype policy name. auto: mixed_float16 on a GPU (tensor cores, with loss scaling), else
    `cpu_precision` of this CPU's flags."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision '{precision}'; use one of {', '.join(PRECISIONS)}")
    if precision != "auto":
        return precision
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        return "mixed_float16"
    return cpu_precision(cpu_flags())


def cpu_precision(flags: set[str]) -> str:
    """mixed_bfloat16 on a CPU with bfloat16 matrix units (Intel AMX), float32 on any other."""
    return "mixed_bfloat16" if flags & set(BF16_CPU_FLAGS) else "float32"


@contextlib.contextmanager
def keras_policy(name: str):
    """Layers built inside take the policy `name`; the global policy is restored afterwards."""
    import keras

    before = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(before)
