"""Typed settings read from params.yaml: one dataclass per section, validated on load.

Every stage reads its settings through `load_section(...)`; nothing else digs in the YAML dict.
Unknown keys, missing keys and wrong types are reported as one line naming params.yaml and the key.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

import yaml

from stemgan.errors import StemganError

DEFAULT_PARAMS = Path("params.yaml")


# --------------------------------------------------------------------------- distributions
@dataclass(frozen=True)
class Normal:
    """A per-image random draw N(mean, std); std = 0 gives a fixed value."""

    mean: float
    std: float = 0.0

    def draw(self, rng) -> float:
        return float(self.mean + self.std * rng.standard_normal()) if self.std else float(self.mean)


# --------------------------------------------------------------------------- materials
@dataclass(frozen=True)
class DefectRule:
    """A point defect on columns that contain `site` atoms, drawn independently per column.

    remove: atoms of `site` taken out of the column (vacancy); substitute: species that replaces
    one `site` atom (substitution/dopant). A column holds at most one defect.
    """

    name: str
    site: str
    rate: float
    remove: int = 0
    substitute: Optional[str] = None


@dataclass(frozen=True)
class MaterialConfig:
    """A crystal seen along the beam. builder: mx2 | graphene | perovskite | file."""

    builder: str
    formula: str = ""
    a_A: float = 0.0
    thickness_A: float = 0.0
    n_cells_thick: int = 1
    structure_file: Optional[str] = None
    defects: tuple[DefectRule, ...] = ()
    label_defects: tuple[str, ...] = ()


# --------------------------------------------------------------------------- optics
@dataclass(frozen=True)
class OpticsConfig:
    """Probe-forming optics and image formation; Normal entries are drawn per image."""

    voltage_kV: float = 80.0
    convergence_semiangle_mrad: float = 25.2
    defocus_A: Normal = Normal(0.0, 10.0)
    cs3_mm: Normal = Normal(0.0003, 0.0005)
    cs5_mm: Normal = Normal(0.0, 0.0)
    astigmatism_A: Normal = Normal(0.0, 0.0)
    chromatic_defocus_fwhm_A: Normal = Normal(0.0, 0.0)
    source_fwhm_A: Normal = Normal(1.0, 0.05)
    thermal_rms_A: float = 0.08
    z_exponent: float = 1.7
    probe_window_px: int = 256
    chromatic_quadrature_points: int = 7


# --------------------------------------------------------------------------- stages
@dataclass(frozen=True)
class SimulateConfig:
    seed: int
    n_images: int
    image_size_px: int
    pixel_size_A: float
    random_orientation: bool = True


@dataclass(frozen=True)
class ScanConfig:
    """Scan-generator timing and distortions (positions in Å, times in µs)."""

    dwell_us: float = 4.0
    flyback_us: float = 300.0
    drift_A_per_s: Normal = Normal(0.5, 0.2)
    line_jitter_A: float = 0.05
    flyback_amplitude_A: float = 0.5
    flyback_decay_us: float = 40.0
    mains_hz: float = 50.0
    mains_amplitude_A: float = 0.05


@dataclass(frozen=True)
class DetectorConfig:
    """ADF detector chain from electrons to stored integers."""

    dose_e_per_A2: Normal = Normal(1.0e5, 1.0e4)
    adf_collection_fraction: float = 0.02
    gain_adu_per_e: float = 40.0
    offset_adu: float = 1000.0
    read_noise_adu: float = 20.0
    lag_px: float = 0.3
    line_gain_std: float = 0.02
    mains_intensity_fraction: float = 0.005
    bit_depth: int = 16


@dataclass(frozen=True)
class ContaminationConfig:
    """Patchy amorphous carbon on the sample (hydrocarbon contamination)."""

    coverage: float = 0.2
    thickness_A: Normal = Normal(15.0, 5.0)
    correlation_A: float = 20.0
    atom_density_per_A3: float = 0.1
    z: int = 6


@dataclass(frozen=True)
class PresetConfig:
    """One microscope session: optics changes on top of `optics`, scan, detector, contamination."""

    optics_overrides: dict = field(default_factory=dict)
    scan: ScanConfig = ScanConfig()
    detector: DetectorConfig = DetectorConfig()
    contamination: ContaminationConfig = ContaminationConfig()


@dataclass(frozen=True)
class ExperimentalSetConfig:
    """An experimental set of the demo data: material, session preset, and split sizes."""

    material: str
    preset: str
    n_unlabelled: int
    n_val: int
    n_test: int


@dataclass(frozen=True)
class AcquireConfig:
    seed: int
    image_size_px: int
    pad_px: int
    sets: dict[str, ExperimentalSetConfig]
    presets: dict[str, PresetConfig]


@dataclass(frozen=True)
class IngestConfig:
    """How experimental files become working images."""

    working_pixel_size_A: float
    default_pixel_size_A: Optional[float] = None


@dataclass(frozen=True)
class NormalizeConfig:
    """Per-image intensity scaling to [-1, 1]: percentile (robust) or minmax (paper)."""

    method: str = "percentile"
    low_percentile: float = 0.5
    high_percentile: float = 99.5


@dataclass(frozen=True)
class TileConfig:
    tile_size_px: int
    stride_px: int
    shard_size: int = 4096
    normalize: NormalizeConfig = NormalizeConfig()


@dataclass(frozen=True)
class GeneratorConfig:
    """U-net: `depth` stride-2 levels (paper: 8 for 256^2 tiles), filters double per level up to max."""

    depth: int = 4
    base_filters: int = 16
    max_filters: int = 128
    norm: str = "instance"
    dropout: float = 0.5
    upsampling: str = "transpose"  # pix2pix strided transposed convs | resize (bilinear + 3x3 conv, full-res level)
    residual: bool = False         # output = input + tanh(U-net) (SimGAN's refiner) instead of tanh(U-net)


@dataclass(frozen=True)
class NoiseFieldConfig:
    """Smooth random field added to the simulations with the white noise (0 = the paper's white noise only)."""

    sigma: Optional[float] = None  # fraction of the full intensity range, as sim_noise_sigma; null: estimated per set
    correlation_A: float = 10.0    # Gaussian correlation length: about the size of contamination patches


@dataclass(frozen=True)
class DiscriminatorConfig:
    """PatchGAN: n_layers = 3 gives the 70x70 receptive field."""

    base_filters: int = 32
    n_layers: int = 3
    norm: str = "instance"


@dataclass(frozen=True)
class CycleGANConfig:
    seed: int
    epochs: int
    batch_size: int
    lr: float
    steps_per_epoch: Optional[int] = None  # null: one pass over the larger tile set
    beta_1: float = 0.5
    beta_2: float = 0.999
    lambda_cycle: float = 10.0
    lambda_identity: float = 5.0
    identity_distance: str = "l2"
    adversarial_loss: str = "lsgan"
    fft_discriminators: bool = True
    fft_weight: float = 0.5                 # generator adversarial = (1-w) real space + w Fourier
    fft_window: bool = True
    pool_size: int = 50
    sim_noise_sigma: Optional[float] = 0.1  # fraction of the full intensity range (paper: N(0, 0.1) on [0, 1]);
                                            # null: estimated per set from the experimental noise floor
    sim_noise_field: NoiseFieldConfig = NoiseFieldConfig()
    augment: str = "dihedral"               # dihedral (8 symmetries, the paper's) | scan_preserving (4)
    generator: GeneratorConfig = GeneratorConfig()
    discriminator: DiscriminatorConfig = DiscriminatorConfig()
    mixed_precision: bool = False
    xla: bool = False
    sample_every_epochs: int = 5
    monitor_tiles: int = 32                 # tiles for the per-epoch realism metric and sample grids
    experiment: str = "stemgan-cyclegan"

    def check(self, where: str = "params.yaml: cyclegan") -> None:
        problems = []
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0:
            problems.append("epochs >= 1, batch_size >= 1 and lr > 0")
        if self.adversarial_loss not in ("lsgan", "bce", "hinge"):
            problems.append("adversarial_loss in lsgan, bce, hinge")
        if self.identity_distance not in ("l1", "l2"):
            problems.append("identity_distance in l1, l2")
        if self.generator.norm not in ("instance", "batch", "none") or self.discriminator.norm not in ("instance", "batch", "none"):
            problems.append("norm in instance, batch, none")
        if self.augment not in ("dihedral", "scan_preserving"):
            problems.append("augment in dihedral, scan_preserving")
        if self.generator.upsampling not in ("resize", "transpose"):
            problems.append("generator.upsampling in resize, transpose")
        if not 0 <= self.fft_weight <= 1 or self.lambda_cycle < 0 or self.lambda_identity < 0 \
                or (self.sim_noise_sigma or 0.0) < 0:
            problems.append("0 <= fft_weight <= 1 and non-negative lambdas and sim_noise_sigma")
        if (self.sim_noise_field.sigma or 0.0) < 0 or self.sim_noise_field.correlation_A <= 0:
            problems.append("sim_noise_field.sigma >= 0 and sim_noise_field.correlation_A > 0")
        if problems:
            raise StemganError(f"{where}: need {'; '.join(problems)}")


@dataclass(frozen=True)
class TranslateConfig:
    """Whole-image sim -> exp translation and the label-preservation check."""

    seed: int = 11
    stride_px: int = 64
    tta: bool = False                    # 8-fold rotation/flip averaging
    batch_size: int = 16
    column_min_separation_A: float = 0.8  # peak finding: under half the nearest-column distance
    match_radius_A: float = 0.5
    experiment: str = "stemgan-translate"


@dataclass(frozen=True)
class ScoringConfig:
    """Defect coordinates from FCN probabilities, and one-to-one matching against labels."""

    threshold: float = 0.5
    min_distance_A: float = 1.5
    match_radius_A: float = 1.5
    border_A: float = 6.6              # the paper's 32 px at 0.2074 Å/px
    tile_px: int = 256                 # inference tile (the FCN is fully convolutional)
    stride_px: int = 128
    tta: bool = True
    bootstrap: int = 1000
    pr_thresholds: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


@dataclass(frozen=True)
class FCNConfig:
    seed: int
    tile_size_px: int = 64
    filters: tuple[int, ...] = (16, 32, 64, 128)
    bottleneck: int = 256
    dropout: float = 0.1
    batch_size: int = 16
    steps: int = 600
    lr: float = 0.001
    target: str = "disc"               # disc | gaussian
    target_radius_A: float = 0.6
    loss: str = "weighted_ce"          # weighted_ce | focal | dice
    defect_weight: float = 10.0        # class weight of defects in weighted_ce
    gaussian_noise_sigma: float = 0.1  # the `gaussian` source: N(0, sigma) on the full-range scale
    scoring: ScoringConfig = ScoringConfig()
    experiment: str = "stemgan-fcn"

    def check(self, where: str = "params.yaml: fcn") -> None:
        if self.target not in ("disc", "gaussian") or self.loss not in ("weighted_ce", "focal", "dice"):
            raise StemganError(f"{where}: target must be disc|gaussian and loss weighted_ce|focal|dice")
        if self.tile_size_px % 2 ** len(self.filters):
            raise StemganError(f"{where}: tile_size_px must be divisible by 2**len(filters) = {2 ** len(self.filters)}")


@dataclass(frozen=True)
class Table1Config:
    """The paper's Table 1: training source x experimental set, each cell a mean over n_seeds."""

    material: str
    n_seeds: int
    sets: dict[str, tuple[str, ...]]   # set name -> data folders whose val/ and test/ it uses
    sources: tuple[str, ...] = ("no_noise", "gaussian", "gaussian_minmax", "cyclegan")
    experiment: str = "stemgan-table1"


@dataclass(frozen=True)
class SearchRange:
    low: float
    high: float
    log: bool = False


@dataclass(frozen=True)
class TuneConfig:
    """Optuna study over lambda_cycle, lambda_identity and lr, scored by downstream validation F1."""

    seed: int
    set: str                                   # a key of table1.sets (its cycleGAN tiles, its val/ images)
    n_trials: int
    timeout_s: Optional[float] = None
    study_name: str = "stemgan-wse2_day_a"
    storage: str = "sqlite:///optuna.db"
    lambda_cycle: SearchRange = SearchRange(1.0, 30.0, True)
    lambda_identity_mode: str = "fraction"      # fraction (of lambda_cycle) | absolute
    lambda_identity: SearchRange = SearchRange(0.0, 1.0)
    lr: SearchRange = SearchRange(1e-4, 5e-3, True)
    cyclegan_epochs: int = 4                    # per-trial training budget
    cyclegan_steps_per_epoch: int = 20
    fcn_steps: int = 150
    pruner_startup_trials: int = 2
    pruner_warmup_epochs: int = 1
    heartbeat_interval_s: int = 30
    grace_period_s: int = 90
    max_retry: int = 1
    experiment: str = "stemgan-tune"


# --------------------------------------------------------------------------- loading
SECTIONS: dict[str, Any] = {
    "optics": OpticsConfig,
    "simulate": SimulateConfig,
    "acquire": AcquireConfig,
    "ingest": IngestConfig,
    "tile": TileConfig,
    "cyclegan": CycleGANConfig,
    "translate": TranslateConfig,
    "fcn": FCNConfig,
    "table1": Table1Config,
    "tune": TuneConfig,
}


def read_params(path: Path | str = DEFAULT_PARAMS) -> dict:
    """The whole params.yaml as a dict (only for `load_section`/`load_material`)."""
    path = Path(path)
    if not path.is_file():
        raise StemganError(f"{path}: params file not found; run from the project root or pass --params")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise StemganError(f"{path}: not valid YAML ({str(exc).splitlines()[0]}); fix the syntax") from exc
    if not isinstance(data, dict):
        raise StemganError(f"{path}: expected a mapping of sections; see the README for the layout")
    return data


def load_section(name: str, path: Path | str = DEFAULT_PARAMS, params: Optional[dict] = None):
    """Section `name` of params.yaml as its dataclass."""
    params = read_params(path) if params is None else params
    if name not in params:
        raise StemganError(f"{path}: section '{name}' is missing; add it (see the README's params table)")
    return build(SECTIONS[name], params[name], f"{path}: {name}")


def load_material(name: str, path: Path | str = DEFAULT_PARAMS, params: Optional[dict] = None) -> MaterialConfig:
    params = read_params(path) if params is None else params
    materials = params.get("materials") or {}
    if name not in materials:
        known = ", ".join(sorted(materials)) or "none"
        raise StemganError(f"{path}: material '{name}' not in 'materials' (known: {known}); add it or pick one")
    return build(MaterialConfig, materials[name], f"{path}: materials.{name}")


def merged_optics(base: OpticsConfig, overrides: dict, where: str) -> OpticsConfig:
    """`base` with some fields replaced (a session preset's optics changes)."""
    unknown = set(overrides) - {f.name for f in dataclasses.fields(OpticsConfig)}
    if unknown:
        raise StemganError(f"{where}: unknown optics key(s) {sorted(unknown)}; use keys of the 'optics' section")
    hints = typing.get_type_hints(OpticsConfig)
    changes = {k: _convert(hints[k], v, f"{where}.{k}") for k, v in overrides.items()}
    return dataclasses.replace(base, **changes)


def as_dict(config) -> dict:
    """Flat-able plain dict of a config dataclass (for MLflow params, metadata)."""
    return dataclasses.asdict(config)


def build(cls, data, where: str):
    """Construct dataclass `cls` from a mapping, with one-line errors naming `where`."""
    if not isinstance(data, dict):
        raise StemganError(f"{where}: expected a mapping, got {type(data).__name__}; see params.yaml")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(data) - set(fields)
    if unknown:
        raise StemganError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(fields)}")
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for name, f in fields.items():
        if name in data:
            kwargs[name] = _convert(hints[name], data[name], f"{where}.{name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise StemganError(f"{where}: required key '{name}' is missing; add it")
    return cls(**kwargs)


def _convert(hint, value, where: str):
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _convert(inner[0], value, where)
    if dataclasses.is_dataclass(hint):
        if hint is Normal and isinstance(value, (int, float)) and not isinstance(value, bool):
            return Normal(float(value), 0.0)
        return build(hint, value, where)
    if origin is tuple:
        if not isinstance(value, list):
            raise StemganError(f"{where}: expected a list; write it as [a, b, ...]")
        return tuple(_convert(args[0], v, f"{where}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise StemganError(f"{where}: expected a mapping")
        return {str(k): _convert(args[1], v, f"{where}.{k}") for k, v in value.items()}
    if hint is dict:
        if not isinstance(value, dict):
            raise StemganError(f"{where}: expected a mapping")
        return value
    return _scalar(hint, value, where)


def _scalar(hint, value, where: str):
    if hint is bool:
        if not isinstance(value, bool):
            raise StemganError(f"{where}: expected true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise StemganError(f"{where}: expected a whole number, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, str):  # PyYAML (YAML 1.1) reads 4.0e4 as text; accept it as a number
            try:
                return float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise StemganError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise StemganError(f"{where}: expected text, got {value!r}")
        return value
    return value
