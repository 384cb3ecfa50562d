"""Every random draw comes from a params.yaml seed; per-item streams keep runs resumable."""

from __future__ import annotations

import zlib

import numpy as np


def item_rng(seed: int, *keys: str | int) -> np.random.Generator:
    """Independent, reproducible generator for (seed, keys...), e.g. (seed, 'wse2', image_index)."""
    words = [int(seed)] + [k if isinstance(k, int) else zlib.crc32(str(k).encode()) for k in keys]
    return np.random.default_rng(words)
