"""One trial: cycleGAN with suggested lambdas and lr -> translate -> FCN -> F1 on validation images."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import keras

from stemgan.config import Params, SearchRange, TuneConfig


@dataclass(frozen=True)
class TrialContext:
    """Everything a trial needs besides its suggested values."""

    params: Params
    sim_dir: Path
    sim_tiles: Path
    exp_tiles: Path
    data_root: Path  # the experimental data folder: `sets` name folders inside it
    work_dir: Path
    study_run_id: str | None = None


def suggest(trial, tune: TuneConfig) -> dict[str, float]:
    def draw(name: str, r: SearchRange) -> float:
        return trial.suggest_float(name, r.low, r.high, log=r.log)

    lambda_cycle = draw("lambda_cycle", tune.lambda_cycle)
    if tune.lambda_identity_mode == "fraction":
        lambda_identity = draw("lambda_identity_fraction", tune.lambda_identity) * lambda_cycle
    else:
        lambda_identity = draw("lambda_identity", tune.lambda_identity)
    return {"lambda_cycle": lambda_cycle, "lambda_identity": lambda_identity, "lr": draw("lr", tune.lr)}


class PruningCallback(keras.callbacks.Callback):
    """Reports -spectrum_distance (higher is better, like F1) each epoch; stops a hopeless trial."""

    def __init__(self, trial):
        super().__init__()
        self.trial = trial

    def on_epoch_end(self, epoch, logs=None):
        import optuna

        self.trial.report(-float(logs["spectrum_distance"]), step=epoch + 1)
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"pruned at epoch {epoch + 1}")


def run_trial(trial, ctx: TrialContext) -> float:
    import mlflow

    from stemgan.data.labelled import load_labelled
    from stemgan.evaluation.evaluate import validate_then_score
    from stemgan.tracking.mlflow_runs import log_metrics
    from stemgan.training.cyclegan_train import train_cyclegan
    from stemgan.training.fcn_train import train_fcn
    from stemgan.training.translation import run_translate

    params, tune = ctx.params, ctx.params.tune
    values = suggest(trial, tune)
    cfg = dataclasses.replace(
        params.cyclegan,
        **values,
        epochs=tune.cyclegan_epochs,
        steps_per_epoch=tune.cyclegan_steps_per_epoch,
        seed=tune.seed + trial.number,
    )
    trial_dir = ctx.work_dir / f"trial_{trial.number:04d}"
    pixel, normalize, ingest = params.ingest.working_pixel_size_A, params.tile.normalize, params.ingest
    gan = train_cyclegan(
        cfg,
        [ctx.sim_tiles],
        [ctx.exp_tiles],
        trial_dir / "cyclegan",
        trial_dir / "checkpoint",
        f"{tune.study_name}-trial{trial.number}",
        pixel,
        parent_run_id=ctx.study_run_id,
        extra_callbacks=[PruningCallback(trial)],
    )
    trial.set_user_attr("mlflow_run_id", gan.run_id)
    trial.set_user_attr("model_uri", gan.model_uri)
    generated = trial_dir / "generated"
    preservation = run_translate(
        str(gan.out_dir),
        ctx.sim_dir,
        generated,
        params.translate,
        normalize,
        gan.input_noise,
        pixel,
        scan_preserving=cfg.augment == "scan_preserving",
    )
    fcn = dataclasses.replace(params.fcn, steps=tune.fcn_steps)
    classes = params.material(params.table1.material).label_defects
    train = load_labelled(generated, normalize, ingest, fcn.tile_size_px)
    val = [
        item
        for folder in params.experimental_set(tune.set).data
        for item in load_labelled(ctx.data_root / folder / "val", normalize, ingest, fcn.tile_size_px)
    ]
    with mlflow.start_run(run_id=gan.run_id):  # the trial's run: cycleGAN, then its FCN and F1
        model = train_fcn(fcn, train, classes, 0.0, fcn.seed + trial.number, pixel, f"trial{trial.number}")
        result = validate_then_score(model, val, val, classes, fcn.scoring, pixel, 2 ** len(fcn.filters))
        f1, threshold = result.metrics["f1"], result.metrics["threshold"]
        log_metrics({"val_f1": f1, "val_threshold": threshold, **preservation}, step=cfg.epochs)
        mlflow.log_params({"trial_number": trial.number, "study": tune.study_name})
    trial.set_user_attr("val_f1", f1)
    return f1
