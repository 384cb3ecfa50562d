"""Train one cycleGAN (one experimental set) with checkpoints, resume and MLflow tracking."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from stemgan.config import CycleGANConfig, as_dict
from stemgan.data.files import atomic_directory
from stemgan.errors import StemganError

FINGERPRINT_FILE = "fingerprint.json"
HISTORY_FILE = "history.csv"  # per-epoch metrics, kept beside the checkpoints and copied to the output
# the packages whose code defines a cycleGAN training: dvc.yaml's train_cyclegan stage names the same folders
TRAINING_PACKAGES = ("models", "training")


@dataclass
class CycleGANRun:
    run_id: str
    epochs_done: int
    final: dict
    out_dir: Path
    model_uri: str | None = None  # the MLflow logged generator (for registration)
    input_noise: object = None  # the InputNoise G was trained with (translate must use the same)
    reused: bool = False  # the output of an earlier, identical training: nothing was run


def finished_output(out_dir: Path, fingerprint_value: str, epochs: int) -> CycleGANRun | None:
    """The result in out_dir if it is that of this very training, finished (a rerun is then a no-op)."""
    from stemgan.training.input_noise import INPUT_NOISE_FILE, InputNoise

    metrics_file = Path(out_dir) / "metrics.json"
    if not metrics_file.is_file():
        return None
    metrics = json.loads(metrics_file.read_text())
    if metrics.get("fingerprint") != fingerprint_value or metrics.get("epochs") != epochs:
        return None
    final = {k: v for k, v in metrics.items() if k not in ("mlflow_run_id", "epochs", "fingerprint")}
    return CycleGANRun(
        metrics["mlflow_run_id"],
        epochs,
        final,
        Path(out_dir),
        input_noise=InputNoise.load(Path(out_dir) / INPUT_NOISE_FILE),
        reused=True,
    )


def distribution_strategy():
    """MirroredStrategy when several GPUs are visible, else the default strategy."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    return tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()


def build_cyclegan(cfg: CycleGANConfig, tile_size: int, steps_per_epoch: int):
    """A compiled CycleGAN with Adam optimisers on the constant-then-linear-decay schedule, its layers in
    cfg.precision (the process's global Keras policy is left as it was: an FCN built later stays float32)."""
    import keras

    from stemgan.models.cyclegan import CycleGAN
    from stemgan.models.precision import keras_policy, resolve_precision
    from stemgan.models.schedule import ConstantThenLinearDecay

    precision = resolve_precision(cfg.precision)
    total = cfg.epochs * steps_per_epoch
    schedule = ConstantThenLinearDecay(cfg.lr, (cfg.epochs // 2) * steps_per_epoch, total)

    def adam():
        optimizer = keras.optimizers.Adam(schedule, beta_1=cfg.beta_1, beta_2=cfg.beta_2)
        # float16 underflows small gradients without loss scaling; bfloat16 has float32's exponent range
        return keras.optimizers.LossScaleOptimizer(optimizer) if precision == "mixed_float16" else optimizer

    with keras_policy(precision):
        model = CycleGAN(cfg, tile_size)
    model.compile(generator_optimizer=adam(), discriminator_optimizer=adam(), jit_compile=cfg.xla)
    model.generator_optimizer.build([v for g in model.generators for v in g.trainable_variables])
    model.discriminator_optimizer.build([v for d in model.discriminators for v in d.trainable_variables])
    return model


def fingerprint(cfg: CycleGANConfig, tile_dirs: Sequence[Path]) -> str:
    """Settings + tile indexes + model/training code: a checkpoint resumes only the same training."""
    digest = hashlib.sha256(json.dumps(as_dict(cfg), sort_keys=True, default=str).encode())
    for folder in tile_dirs:
        digest.update((Path(folder) / "index.csv").read_bytes())
    package = Path(__file__).resolve().parents[1]
    for source in sorted(f for name in TRAINING_PACKAGES for f in (package / name).rglob("*.py")):
        digest.update(source.read_bytes())
    return digest.hexdigest()[:16]


def prepare_checkpoint_dir(checkpoint_dir: Path, print_fn=print, fingerprint_value: str = "") -> None:
    """Keep the folder if it belongs to this training; otherwise start it afresh (never mix runs), and mark
    the abandoned training's MLflow run KILLED (a killed process leaves it RUNNING)."""
    from stemgan.tracking.mlflow_runs import RUN_ID_FILE, mark_abandoned

    marker = checkpoint_dir / FINGERPRINT_FILE
    if marker.is_file() and json.loads(marker.read_text()).get("fingerprint") != fingerprint_value:
        print_fn(f"train-cyclegan: settings or data changed since {checkpoint_dir} was written; starting afresh")
        if (checkpoint_dir / RUN_ID_FILE).is_file():
            mark_abandoned(
                (checkpoint_dir / RUN_ID_FILE).read_text().strip(),
                "settings or data changed before the training finished; a new run replaces it",
            )
        shutil.rmtree(checkpoint_dir)
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps({"fingerprint": fingerprint_value}))


def monitor_tiles(tiles: np.ndarray, count: int, seed: int, noise=None) -> np.ndarray:
    """`count` tiles chosen by `seed`, with the generator's input noise (an InputNoise) if given."""
    rng = np.random.default_rng(seed)
    chosen = tiles[rng.permutation(len(tiles))[:count]]
    return noise.draw(chosen, rng).astype(np.float32) if noise else chosen


def data_tags(sim_dirs: Sequence[Path], exp_dirs: Sequence[Path]) -> dict[str, str]:
    """Data fingerprint: DVC's hash of data/ (data.dvc) and a hash of the tile indexes used."""
    tags = {"sim_tiles": ",".join(map(str, sim_dirs)), "exp_tiles": ",".join(map(str, exp_dirs))}
    dvc_file = Path("data.dvc")
    if dvc_file.is_file():
        import yaml

        tags["data_dvc_md5"] = str(yaml.safe_load(dvc_file.read_text())["outs"][0].get("md5", ""))
    digest = hashlib.md5(b"".join((Path(d) / "index.csv").read_bytes() for d in [*sim_dirs, *exp_dirs]))
    tags["tiles_md5"] = digest.hexdigest()
    return tags


def train_cyclegan(
    cfg: CycleGANConfig,
    sim_dirs: Sequence[Path],
    exp_dirs: Sequence[Path],
    out_dir: Path,
    checkpoint_dir: Path,
    run_name: str,
    pixel_size_A: float,
    parent_run_id: str | None = None,
    extra_callbacks: Sequence = (),
    log_model: bool = True,
) -> CycleGANRun:
    """Train (or resume) and write out_dir/{generator_sim2exp,generator_exp2sim}.keras, history.csv, metrics.json."""
    import keras
    import mlflow
    import tensorflow as tf

    from stemgan.tracking.mlflow_runs import MODEL_PIP_REQUIREMENTS, backfill_metrics, flatten, start_or_resume
    from stemgan.training.callbacks import (
        EpochCheckpoint,
        MlflowEpochLogger,
        RealismMonitor,
        SampleGrid,
        fit_progress,
    )
    from stemgan.training.data import FIELD_CANVAS_TILES, load_tile_sets, unpaired_stream
    from stemgan.training.history import final_metrics, read_history
    from stemgan.training.input_noise import InputNoise, estimate_field_sigma, estimate_white_sigma

    cfg.check()
    fingerprint_value = fingerprint(cfg, [*sim_dirs, *exp_dirs])
    done = finished_output(out_dir, fingerprint_value, cfg.epochs)
    if done is not None:
        return done
    sim_tiles, exp_tiles = load_tile_sets(list(sim_dirs)), load_tile_sets(list(exp_dirs))
    tile_size = sim_tiles.shape[1]
    if exp_tiles.shape[1] != tile_size:
        raise StemganError(
            f"{exp_dirs[0]}: tiles are {exp_tiles.shape[1]} px but simulations {tile_size} px; "
            "re-tile both with the same tile.tile_size_px"
        )
    if tile_size % 2**cfg.generator.depth:
        raise StemganError(
            f"params.yaml: cyclegan.generator.depth {cfg.generator.depth} needs tiles divisible by "
            f"{2**cfg.generator.depth} px (tiles are {tile_size} px)"
        )
    steps = cfg.steps_per_epoch or math.ceil(max(len(sim_tiles), len(exp_tiles)) / cfg.batch_size)
    prepare_checkpoint_dir(checkpoint_dir, fingerprint_value=fingerprint_value)

    keras.utils.set_random_seed(cfg.seed)
    with distribution_strategy().scope():
        model = build_cyclegan(cfg, tile_size, steps)
    epoch_counter = tf.Variable(0, dtype=tf.int64, trainable=False)
    checkpoint = tf.train.Checkpoint(
        model=model,
        generator_optimizer=model.generator_optimizer,
        discriminator_optimizer=model.discriminator_optimizer,
        epoch=epoch_counter,
    )
    manager = tf.train.CheckpointManager(checkpoint, str(checkpoint_dir / "ckpt"), max_to_keep=2)
    if manager.latest_checkpoint:
        checkpoint.restore(manager.latest_checkpoint).expect_partial()
    start_epoch = int(epoch_counter.numpy())

    field_sigma = (
        estimate_field_sigma(
            sim_tiles, exp_tiles, cfg.sim_noise_field.correlation_A / pixel_size_A, FIELD_CANVAS_TILES, cfg.seed
        )
        if cfg.sim_noise_field.sigma is None
        else None
    )
    white_sigma = (
        estimate_white_sigma(sim_tiles, exp_tiles, pixel_size_A, seed=cfg.seed) if cfg.sim_noise_sigma is None else None
    )
    noise = InputNoise.from_config(cfg, pixel_size_A, field_sigma, white_sigma)
    # the data order depends on where training (re)starts, so a resumed run is reproducible too
    dataset = unpaired_stream(sim_tiles, exp_tiles, cfg.batch_size, cfg.seed + 1000 * start_epoch, noise, cfg.augment)
    sim_monitor = monitor_tiles(sim_tiles, cfg.monitor_tiles, cfg.seed, noise)
    exp_monitor = monitor_tiles(exp_tiles, cfg.monitor_tiles, cfg.seed)

    run, resumed = start_or_resume(
        cfg.experiment,
        run_name,
        checkpoint_dir,
        parent_run_id,
        tags={"stage": "train-cyclegan", **data_tags(sim_dirs, exp_dirs)},
    )
    history_file = checkpoint_dir / HISTORY_FILE
    with run:
        if resumed:  # epochs checkpointed but not yet logged when the process died
            backfill_metrics(run.info.run_id, read_history(history_file, start_epoch))
        else:
            mlflow.log_params(
                {
                    **flatten(as_dict(cfg)),
                    "tile_size_px": tile_size,
                    "steps_per_epoch": steps,
                    "n_sim_tiles": len(sim_tiles),
                    "n_exp_tiles": len(exp_tiles),
                    **flatten({"input_noise": dataclasses.asdict(noise)}),
                }
            )
        callbacks = [
            RealismMonitor(sim_monitor, exp_monitor, pixel_size_A),
            keras.callbacks.TerminateOnNaN(),
            *extra_callbacks,
            EpochCheckpoint(manager, epoch_counter, history_file),
            MlflowEpochLogger(),
            SampleGrid(sim_monitor, exp_monitor, cfg.sample_every_epochs),
        ]
        verbose, progress = fit_progress(f"cyclegan {run_name}", ("cycle", "generator_total", "spectrum_distance"))
        if start_epoch < cfg.epochs:
            model.fit(
                dataset,
                epochs=cfg.epochs,
                initial_epoch=start_epoch,
                steps_per_epoch=steps,
                callbacks=[*callbacks, *progress],
                verbose=verbose,
            )
        epochs_done = int(epoch_counter.numpy())
        history = read_history(history_file, epochs_done)
        final = final_metrics(history)
        if any(not math.isfinite(v) for v in final.values()) or epochs_done < cfg.epochs:
            raise StemganError(
                f"train-cyclegan: training stopped at epoch {epochs_done} with non-finite losses; "
                "lower cyclegan.lr or check the input tiles"
            )
        _export(
            model,
            out_dir,
            run.info.run_id,
            epochs_done,
            final,
            history,
            sim_monitor,
            exp_monitor,
            noise,
            fingerprint_value,
        )
        model_uri = None
        if log_model:
            import mlflow.tensorflow

            model_uri = mlflow.tensorflow.log_model(
                model.gen_sim2exp, name="generator_sim2exp", pip_requirements=MODEL_PIP_REQUIREMENTS
            ).model_uri
        return CycleGANRun(run.info.run_id, epochs_done, final, out_dir, model_uri, noise)


def _export(
    model,
    out_dir: Path,
    run_id: str,
    epochs_done: int,
    final: dict,
    history,
    sim_monitor,
    exp_monitor,
    noise,
    fingerprint_value: str,
):
    from stemgan.evaluation.figures import cycle_grid
    from stemgan.training.input_noise import INPUT_NOISE_FILE

    with atomic_directory(out_dir) as tmp:
        model.gen_sim2exp.save(tmp / "generator_sim2exp.keras")
        model.gen_exp2sim.save(tmp / "generator_exp2sim.keras")
        noise.save(tmp / INPUT_NOISE_FILE)
        history.to_csv(tmp / HISTORY_FILE, index=False)
        (tmp / "metrics.json").write_text(
            json.dumps(
                {"mlflow_run_id": run_id, "epochs": epochs_done, **final, "fingerprint": fingerprint_value}, indent=2
            )
        )
        fake = model.gen_sim2exp.predict(sim_monitor[:4], verbose=0)
        figure = cycle_grid(sim_monitor[:4], fake, model.gen_exp2sim.predict(fake, verbose=0), exp_monitor[:4])
        figure.savefig(tmp / "samples.png", dpi=80)
