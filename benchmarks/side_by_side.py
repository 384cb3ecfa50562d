"""A benchmark's measurement in several processes at once, as the pipeline's stages run their seeds
(stemgan.parallel: one process per unit, each with its share of the cores as TensorFlow threads)."""

from __future__ import annotations

import functools
import multiprocessing


def side_by_side(measure, args, workers: int) -> list:
    """[measure(args, barrier=...)] from `workers` processes; each waits at the barrier after its warm-up, so the
    timed parts overlap. Each measure returns (start, end, tiles) with start and end from time.time()."""
    from stemgan.parallel import unit_workers

    with multiprocessing.get_context("spawn").Manager() as manager, unit_workers(workers, ("tensorflow",)) as run:
        return run(functools.partial(measure, barrier=manager.Barrier(workers)), [args] * workers)


def combined_rate(results: list) -> float:
    """Tiles per second of all processes together: every tile over the span from the first start to the last end."""
    return sum(r[2] for r in results) / (max(r[1] for r in results) - min(r[0] for r in results))
