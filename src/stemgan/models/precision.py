"""The numeric precision a model trains in: the fastest this machine does well, unless params.yaml says which."""

from __future__ import annotations

import contextlib
from functools import lru_cache
from pathlib import Path

PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")
# CPU flag (Linux /proc/cpuinfo) of the bfloat16 matrix units: oneDNN runs the PatchGANs' bfloat16 convolutions on
# them ~3x faster than float32. AVX512-BF16 alone (bfloat16 dot products, no tiles) depends on the vendor's cores:
# on a 2-vCPU Xeon with avx512_bf16 and no AMX the default cycleGAN step ran 1.4-1.6x slower in mixed_bfloat16
# than in float32 (6.1-6.2 against 8.5-9.7 tiles/s, benchmarks/train_throughput.py), on a 2-vCPU AMD EPYC (Zen 4,
# avx512_bf16, no AMX) 1.3-1.4x faster (10.4-11.8 against 7.7-8.8); AVX2 CPUs emulate bfloat16, slower still
# (vendor_id or None for any vendor, flag): AMX anywhere; AVX512-BF16 alone on AMD (Zen 4+ run VDPBF16PS natively)
BF16_CPUS = ((None, "amx_bf16"), ("AuthenticAMD", "avx512_bf16"))


def _cpuinfo_fields(cpuinfo: Path, field: str) -> list[str]:
    """The values of `field` in /proc/cpuinfo, one per processor; none if there is no such file (not Linux)."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return []
    return [line.split(":", 1)[1].strip() for line in text.splitlines() if line.split(":", 1)[0].strip() == field]


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str]:
    """This CPU's feature flags (none known off Linux, so no bfloat16)."""
    return {flag for value in _cpuinfo_fields(cpuinfo, "flags") for flag in value.split()}


def cpu_vendor(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """GenuineIntel, AuthenticAMD, ... or '' where /proc/cpuinfo does not say."""
    vendors = _cpuinfo_fields(cpuinfo, "vendor_id")
    return vendors[0] if vendors else ""


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
    return cpu_precision(cpu_flags(), cpu_vendor())


def cpu_precision(flags: set[str], vendor: str = "") -> str:
    """mixed_bfloat16 on a CPU with bfloat16 matrix units (Intel AMX) or with native AVX512-BF16 cores (AMD
    Zen 4 and later), float32 on any other."""
    fast = any(flag in flags and bf16_vendor in (None, vendor) for bf16_vendor, flag in BF16_CPUS)
    return "mixed_bfloat16" if fast else "float32"


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
