"""The noise put on pristine simulations before the sim->exp generator, in training and translate alike.

White N(0, sigma) is the paper's. A white-noise input gives the generator no random source at the
scale of contamination patches (nanometres): averaged over a patch its amplitude is ~sigma/100, so a
deterministic U-net cannot paint patches that differ from image to image. The optional smooth field
(a Gaussian random field of a correlation length in Å) is such a source; the cycle loss keeps it in
G's output, since F must give it back.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from stemgan.config import CycleGANConfig
from stemgan.models.io import is_mlflow_uri

# TensorFlow is imported where it is used: a stage's parent process unpickles its workers' InputNoise and imports
# translate's helpers, and TensorFlow's import there cost ~4 s of a core per stage (issue 14)
if TYPE_CHECKING:
    import tensorflow as tf

PAPER_WHITE_SIGMA = 0.1  # N(0, 0.1) on [0, 1]-scaled simulations
INPUT_NOISE_FILE = "input_noise.json"  # beside the generators: the noise translate must add


@dataclass(frozen=True)
class InputNoise:
    """Amplitudes in tile units ([-1, 1], twice the paper's [0, 1] range); correlation in pixels."""

    white_std: float
    field_std: float = 0.0
    field_correlation_px: float = 0.0

    @classmethod
    def from_config(
        cls,
        cfg: CycleGANConfig,
        pixel_size_A: float,
        field_sigma: float | None = None,
        white_sigma: float | None = None,
    ) -> "InputNoise":
        """field_sigma, white_sigma: the estimated amplitudes where params leave sim_noise_field.sigma or
        sim_noise_sigma null (without an estimate: no field, and the paper's white 0.1)."""
        field = cfg.sim_noise_field
        sigma = field.sigma if field.sigma is not None else field_sigma or 0.0
        white = (
            cfg.sim_noise_sigma
            if cfg.sim_noise_sigma is not None
            else (white_sigma if white_sigma is not None else PAPER_WHITE_SIGMA)
        )
        return cls(2.0 * white, 2.0 * sigma, field.correlation_A / pixel_size_A)

    @classmethod
    def load(cls, path: Path) -> "InputNoise":
        return cls(**json.loads(Path(path).read_text()))

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(dataclasses.asdict(self), indent=2))

    @property
    def has_field(self) -> bool:
        return self.field_std > 0

    @property
    def adds_noise(self) -> bool:
        return self.white_std > 0 or self.has_field

    @property
    def field_step_px(self) -> int:
        # a field this smooth is sampled finely enough every c/4 px and interpolated in between
        return max(1, int(self.field_correlation_px // 4))

    def field_grid(self, height: int, width: int) -> tuple[int, int]:
        """Shape of the coarse white noise that becomes a smooth field over height x width px."""
        return -(-height // self.field_step_px) + 1, -(-width // self.field_step_px) + 1

    def smooth_field(self, coarse_white, height: int, width: int) -> tf.Tensor:
        """(..., height, width, 1) unit-variance field from (..., h, w, 1) coarse white noise; a grid
        larger than the image (a canvas) gives a tile the gradients of an image-sized field."""
        import tensorflow as tf

        step = self.field_step_px
        coarse = gaussian_random_field(coarse_white, self.field_correlation_px / step)
        h, w = coarse.shape[-3:-1]
        return tf.image.resize(coarse, (h * step, w * step), "bilinear")[..., :height, :width, :]

    def apply(self, image, white, field_white=None) -> tf.Tensor:
        """image + white_std * white (+ field_std * smooth_field(field_white)); image (..., H, W) or (..., H, W, 1)."""
        import tensorflow as tf

        image = tf.convert_to_tensor(image, tf.float32)
        noisy = image + self.white_std * tf.cast(white, tf.float32)
        if self.has_field:
            with_channel = _has_channel(image)
            height, width = image.shape[-3:-1] if with_channel else image.shape[-2:]
            field = self.smooth_field(field_white, height, width)
            noisy = noisy + self.field_std * (field if with_channel else field[..., 0])
        return noisy

    def draw(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """`apply` with draws from a numpy generator (whole images in translate, a batch of monitor tiles)."""
        white = rng.standard_normal(image.shape).astype(np.float32)
        field_white = None
        if self.has_field:
            lead, (height, width) = (
                (image.shape[:-3], image.shape[-3:-1]) if _has_channel(image) else (image.shape[:-2], image.shape[-2:])
            )
            field_white = rng.standard_normal((*lead, *self.field_grid(height, width), 1)).astype(np.float32)
        return self.apply(image, white, field_white).numpy()


def gaussian_random_field(white, correlation_px: float) -> tf.Tensor:
    """Unit-variance smooth field: white noise low-passed by exp(-2 pi^2 c^2 k^2) (a Gaussian blur of
    standard deviation c px), periodic over the image. Shapes (..., H, W) or (..., H, W, 1), static."""
    import tensorflow as tf

    white = tf.convert_to_tensor(white, tf.float32)
    has_channel = _has_channel(white)
    plane = white[..., 0] if has_channel else white
    height, width = plane.shape[-2:]
    ky, kx = np.fft.fftfreq(height)[:, None], np.fft.fftfreq(width)[None, :]
    transfer = np.exp(-2.0 * np.pi**2 * correlation_px**2 * (kx**2 + ky**2))
    # the filtered field's variance is the mean of |transfer|^2 over the full spectrum
    transfer = transfer / np.sqrt(np.mean(transfer**2))
    half = tf.constant(transfer[:, : width // 2 + 1], tf.complex64)
    field = tf.signal.irfft2d(tf.signal.rfft2d(plane) * half, fft_length=[height, width])
    return field[..., None] if has_channel else field


def _has_channel(x) -> bool:
    """A trailing channel axis of 1 (tiles (..., T, T, 1)) rather than a plain (..., H, W) image."""
    return len(x.shape) >= 3 and x.shape[-1] == 1


def estimate_field_sigma(
    sim_tiles: np.ndarray, exp_tiles: np.ndarray, correlation_px: float, canvas_tiles: int, seed: int = 0
) -> float:
    """The field amplitude (sim_noise_sigma units) that makes tile means of G's input vary as much as
    those of the experimental tiles: sqrt(excess variance of experimental tile means / that of a
    unit field), 0 when the experimental tiles vary no more than the simulations (a clean sample)."""
    excess = float(np.var(exp_tiles.mean(axis=(1, 2, 3))) - np.var(sim_tiles.mean(axis=(1, 2, 3))))
    if excess <= 0:
        return 0.0
    unit = InputNoise(0.0, 1.0, correlation_px)
    tile = sim_tiles.shape[1]
    grid = unit.field_grid(canvas_tiles * tile, canvas_tiles * tile)
    white = np.random.default_rng(seed).standard_normal((256, *grid, 1)).astype(np.float32)
    unit_variance = float(np.var(unit.smooth_field(white, tile, tile).numpy().mean(axis=(1, 2, 3))))
    return float(np.sqrt(excess / unit_variance) / 2.0)  # tiles span [-1, 1], sigma the [0, 1] range


def estimate_white_sigma(
    sim_tiles: np.ndarray, exp_tiles: np.ndarray, pixel_size_A: float, max_tiles: int = 512, seed: int = 0
) -> float:
    """The white-noise amplitude (sim_noise_sigma units) whose power equals the experimental tiles'
    excess over the simulations in the top third of the spectrum (2/3 Nyquist to Nyquist; at the
    default 0.2074 Å/px that is 1.6-2.4 Å^-1, beyond the 80 kV probe's 1.2 Å^-1 transfer limit, so
    the excess there is the noise floor: shot, read and scan noise). 0 when there is no excess."""
    from stemgan.evaluation.spectra import radial_power_spectrum

    rng = np.random.default_rng(seed)

    def band_power(tiles: np.ndarray) -> float:
        sample = tiles[rng.choice(len(tiles), min(len(tiles), max_tiles), replace=False)]
        k, power = radial_power_spectrum(sample, pixel_size_A)
        return float(power[k >= (2.0 / 3.0) * k.max()].mean())

    excess = band_power(exp_tiles) - band_power(sim_tiles)
    if excess <= 0:
        return 0.0
    tile = sim_tiles.shape[1]
    # white noise of unit variance has a flat spectrum at the mean squared Hann window
    unit = float(np.mean(np.outer(np.hanning(tile), np.hanning(tile)) ** 2))
    return float(np.sqrt(excess / unit) / 2.0)  # tiles span [-1, 1], sigma the [0, 1] range


def generator_input_noise(ref: str, cyclegan: CycleGANConfig, pixel_size_A: float) -> InputNoise:
    """The input noise G was trained with (its amplitudes may have been estimated from the data):
    input_noise.json beside a generator folder or file, the training run's logged input_noise.*
    params for an MLflow URI, else params.yaml's cyclegan section (where that leaves an amplitude to
    be estimated: no field, and the paper's white 0.1)."""
    if is_mlflow_uri(ref):
        logged = _logged_input_noise(ref)
        if logged is not None:
            return logged
    else:
        path = Path(ref)
        for candidate in (path / INPUT_NOISE_FILE, path.parent / INPUT_NOISE_FILE):
            if candidate.is_file():
                return InputNoise.load(candidate)
    return InputNoise.from_config(cyclegan, pixel_size_A)


def _logged_input_noise(ref: str) -> InputNoise | None:
    from mlflow import MlflowClient

    client = MlflowClient()
    target = ref.split(":/", 1)[1]
    try:
        if ref.startswith("runs:/"):
            run_id = target.split("/")[0]
        elif "@" in target:
            run_id = client.get_model_version_by_alias(*target.split("@", 1)).run_id
        else:
            run_id = client.get_model_version(*target.split("/", 1)).run_id
        params = client.get_run(run_id).data.params
    except Exception:  # an unknown model or run: load_generator says so in one line
        return None
    fields = [f.name for f in dataclasses.fields(InputNoise)]
    if not all(f"input_noise.{f}" in params for f in fields):
        return None
    return InputNoise(**{f: float(params[f"input_noise.{f}"]) for f in fields})
