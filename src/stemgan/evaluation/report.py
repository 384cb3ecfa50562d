"""reports/: Figure 2 analogue, power spectra, histograms, training curves, and one README a reviewer reads."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from stemgan.data.files import atomic_write
from stemgan.evaluation.figures import log_fft_amplitude, plt
from stemgan.evaluation.spectra import radial_power_spectrum

CROP_PX = 256


def scale_bar(ax, pixel_size_A: float, length_nm: float = 1.0) -> None:
    """A white bar of length_nm in the lower left corner, labelled in nm."""
    length_px = length_nm * 10.0 / pixel_size_A
    ax.plot([10, 10 + length_px], [CROP_PX - 12] * 2, color="white", linewidth=3)
    ax.text(10 + length_px / 2, CROP_PX - 18, f"{length_nm:g} nm", color="white", ha="center", fontsize=8)


def figure2(panels: dict[str, dict[str, np.ndarray]], pixel_size_A: float, path: Path) -> Path:
    """Rows = sets; columns = simulated / generated / experimental, each beside its FFT amplitude.
    One contrast per column (images in [-1, 1]; FFT amplitudes share a range per column)."""
    kinds = ["simulated", "generated", "experimental"]
    fig, axes = plt.subplots(len(panels), 6, figsize=(18, 3.1 * len(panels)), squeeze=False)
    ffts = {k: [log_fft_amplitude(p[k][:CROP_PX, :CROP_PX]) for p in panels.values() if k in p] for k in kinds}
    ranges = {
        k: (np.percentile(np.concatenate([f.ravel() for f in v]), [1, 99.9]) if v else (0, 1)) for k, v in ffts.items()
    }
    for r, (name, images) in enumerate(panels.items()):
        for c, kind in enumerate(kinds):
            ax_img, ax_fft = axes[r, 2 * c], axes[r, 2 * c + 1]
            if kind in images:
                crop = images[kind][:CROP_PX, :CROP_PX]
                ax_img.imshow(crop, cmap="gray", vmin=-1, vmax=1)
                scale_bar(ax_img, pixel_size_A)
                ax_fft.imshow(log_fft_amplitude(crop), cmap="magma", vmin=ranges[kind][0], vmax=ranges[kind][1])
            else:
                ax_img.text(0.5, 0.5, "no cycleGAN\nfor this set", ha="center", va="center", transform=ax_img.transAxes)
            if r == 0:
                ax_img.set_title(kind)
                ax_fft.set_title(f"|FFT| {kind} (log)")
        axes[r, 0].text(-0.08, 0.5, name, transform=axes[r, 0].transAxes, rotation=90, va="center", ha="right")
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return _save(fig, path)


def spectra_plot(curves: dict[str, dict[str, np.ndarray]], pixel_size_A: float, path: Path) -> Path:
    fig, axes = plt.subplots(1, len(curves), figsize=(5 * len(curves), 4), squeeze=False)
    for ax, (name, images) in zip(axes[0], curves.items()):
        for kind, stack in images.items():
            k, power = radial_power_spectrum(stack, pixel_size_A)
            ax.semilogy(k[1:], power[1:], label=kind)
        ax.set_xlabel("spatial frequency (Å$^{-1}$)")
        ax.set_ylabel("radially averaged power")
        ax.set_title(name)
        ax.legend()
    fig.tight_layout()
    return _save(fig, path)


def histogram_plot(curves: dict[str, dict[str, np.ndarray]], path: Path) -> Path:
    fig, axes = plt.subplots(1, len(curves), figsize=(5 * len(curves), 4), squeeze=False)
    bins = np.linspace(-1, 1, 81)
    for ax, (name, images) in zip(axes[0], curves.items()):
        for kind, stack in images.items():
            ax.hist(np.ravel(stack), bins=bins, histtype="step", density=True, label=kind)
        ax.set_xlabel("normalised intensity")
        ax.set_title(name)
        ax.legend()
    fig.tight_layout()
    return _save(fig, path)


def training_curves_plot(histories: dict[str, dict[str, list[tuple[int, float]]]], path: Path) -> Path:
    """histories: run label -> metric -> [(epoch, value)], as read from MLflow."""
    metrics = ["cycle", "generator_total", "spectrum_distance"]
    fig, axes = plt.subplots(1, len(metrics), figsize=(15, 4))
    for ax, metric in zip(axes, metrics):
        for label, history in histories.items():
            points = history.get(metric, [])
            if points:
                ax.plot(*zip(*points), marker=".", label=label)
        ax.set_xlabel("epoch")
        ax.set_title(metric)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return _save(fig, path)


def mlflow_histories(run_ids: dict[str, str]) -> dict[str, dict[str, list[tuple[int, float]]]]:
    import mlflow

    from stemgan.tracking.mlflow_runs import setup_tracking

    setup_tracking()
    client = mlflow.MlflowClient()
    histories = {}
    for label, run_id in run_ids.items():
        try:
            histories[label] = {
                m: [(x.step, x.value) for x in client.get_metric_history(run_id, m)]
                for m in ("cycle", "generator_total", "spectrum_distance")
            }
        except mlflow.exceptions.MlflowException:
            histories[label] = {}  # the run lives in another tracking store
    return histories


def realism_table(realism: dict[str, dict[str, dict[str, float]]]) -> str:
    cols = [
        ("spectrum_distance", "spectrum dist. (dec)", 3),
        ("noise_floor_ratio", "noise floor ratio", 2),
        ("low_frequency_ratio", "low-freq. ratio", 2),
        ("histogram_distance", "histogram W1", 3),
        ("kid", "KID", 4),
        ("c2st_auc", "C2ST AUC", 2),
    ]
    lines = ["| set | images | " + " | ".join(c[1] for c in cols) + " |", "|---|---|" + "---|" * len(cols)]
    for set_name, per_source in realism.items():
        for source, m in per_source.items():
            values = []
            for key, _, digits in cols:
                v = m.get(key)
                text = "—" if v is None or not np.isfinite(v) else f"{v:.{digits}f}"
                if key == "c2st_auc" and v is not None:
                    text += f" [{m['c2st_auc_low']:.2f}, {m['c2st_auc_high']:.2f}]"
                values.append(text)
            lines.append(f"| {set_name} | {source} | " + " | ".join(values) + " |")
    return "\n".join(lines)


def preservation_table(realism: dict[str, dict[str, dict[str, float]]]) -> str:
    lines = [
        "| set | mean shift (pm) | 95th pct shift (pm) | columns found | in G's noisy input: shift, found |",
        "|---|---|---|---|---|",
    ]
    for set_name, per_source in realism.items():
        g = per_source.get("generated", {})
        if "generated_mean_shift_pm" in g:
            noisy = (
                f"{g['input_mean_shift_pm']:.1f} pm, {100 * g['input_fraction_found']:.1f}%"
                if "input_mean_shift_pm" in g
                else "—"
            )
            lines.append(
                f"| {set_name} | {g['generated_mean_shift_pm']:.1f} | {g['generated_p95_shift_pm']:.1f} | "
                f"{100 * g['generated_fraction_found']:.1f}% | {noisy} |"
            )
    return "\n".join(lines)


def _number(value, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def calibration_table(calibrations: dict[str, dict]) -> str:
    """Per set: what its images show, what params' optics simulated, and what the calibrated simulations show."""
    if not calibrations:
        return "(no set was calibrated: calibrate.mode is off or report)"
    lines = [
        "| set | pixel size × | source FWHM (Å) | Z exponent | column σ (Å): exp / before / after "
        "| dim/bright ratio: exp / before / after |",
        "|---|---|---|---|---|---|",
    ]
    for name, record in calibrations.items():
        applied, exp, before, after = (record[k] for k in ("applied", "experiment", "before", "after"))
        sigma = " / ".join(_number(v["column_sigma_A"], 3) for v in (exp, before, after))
        ratio = " / ".join(_number(v["sublattice_ratio"], 3) for v in (exp, before, after))
        lines.append(
            f"| {name} | {applied['sampling_correction']:.4f} | {applied['source_fwhm_A']:.2f} "
            f"| {_number(applied['z_exponent'])} | {sigma} | {ratio} |"
        )
    return "\n".join(lines)


def detections_section(detections: dict[str, dict]) -> str:
    """Per real example: what `detect` found in images nobody labelled (counts per class, no F1)."""
    if not detections:
        return "(no real example: real_example.examples is empty)"
    parts = []
    for name, found in detections.items():
        rows = ["| image | pixel size (Å) | field of view (nm²) | defects found | per nm² |", "|---|---|---|---|---|"]
        for r in found["summary"]:
            kinds = [c.removesuffix("_count") for c in r if c.endswith("_count")]
            counts = ", ".join(f"{r[f'{k}_count']} {k}" for k in kinds) or "none"
            densities = ", ".join(f"{float(r[f'{k}_per_nm2']):.4f} {k}" for k in kinds) or "–"
            rows.append(
                f"| {r['image']} | {float(r['pixel_size_A']):.4f} | {float(r['field_of_view_nm2']):.1f} "
                f"| {counts} | {densities} |"
            )
        parts.append(
            f"### {name} ({found['material']})\n"
            "No labels exist for this image, so no precision, recall or F1 is reported, and nothing was tuned "
            f"to it. The FCN was trained on {found['material']} simulations calibrated to this image and translated "
            "by a cycleGAN trained against it; it has no validation images, so the threshold is "
            f"{found['threshold']} (fcn.scoring.threshold).\n\n"
            + "\n".join(rows)
            + "\n\n"
            + "".join(f"![detections in {png}]({png})\n" for png in found["figures"])
        )
    return "\n".join(parts)


DIAGNOSTIC_NOT_RUN = "(the diagnostic has not run: stage `diagnose`)"


def diagnostic_section(path: Path, figure: str) -> str:
    """Training source x microscope effect, F1 on test sets that each add one effect to the base noise."""
    if not Path(path).is_file():
        return DIAGNOSTIC_NOT_RUN
    found = json.loads(Path(path).read_text())
    effects = found["effects"]
    lines = [
        f"Set {found['set']}: each column is a labelled test set of {found['n_images']} images made by the virtual "
        "microscope with only that effect on top of the base (shot and read noise at the session's dose; the "
        "simulation's own probe), scored by every Table 1 training source's FCNs at the threshold its Table 1 "
        "cell chose; F1 % (mean over seeds), scored vacancies per image set in the header.",
        "",
        "| training source | " + " | ".join(f"{e} ({found['n_true'][e]})" for e in effects) + " |",
        "|---|" + "---|" * len(effects),
    ]
    for source, per_effect in found["sources"].items():
        cells = []
        for effect in effects:
            f1 = per_effect[effect]["f1"]
            cells.append("–" if f1 is None else f"{100 * f1:.1f}")
        lines.append(f"| {source} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + f"\n\n![diagnostic]({figure})\n"


def load_detections(examples: dict[str, str], detect_dir: Path, out_dir: Path) -> dict[str, dict]:
    """`detect`'s summary and overlays of each real example; the overlays are copied beside the README."""
    import csv

    found = {}
    for name, material in examples.items():
        folder = Path(detect_dir) / name
        if not (folder / "summary.csv").is_file():
            continue
        figures = []
        for png in sorted(folder.glob("*.png")):
            target = f"detections_{name}_{png.name}"
            atomic_write(out_dir / target, lambda tmp, src=png: tmp.write_bytes(src.read_bytes()))
            figures.append(target)
        with open(folder / "summary.csv", newline="") as f:
            summary = list(csv.DictReader(f))
        model = json.loads((folder / "model.json").read_text()) if (folder / "model.json").is_file() else {}
        found[name] = {
            "material": material,
            "summary": summary,
            "figures": figures,
            "threshold": model.get("threshold", "?"),
        }
    return found


def write_readme(
    path: Path,
    table1_md: str,
    realism: dict,
    figures: dict[str, str],
    calibrations: dict[str, dict],
    detections: dict[str, dict] | None = None,
    diagnostic: str = "",
) -> Path:
    body = f"""# stemgan report

Regenerated by `dvc repro` (stage `report`). Images are 512² px at 0.2074 Å/px from the default
CPU profile: simulations (`artifacts/sim`), cycleGAN output (`artifacts/generated`, seed 0) and the
virtual microscope's experimental sets (`data/`); real examples (`artifacts/real`) are public images.

## Figure 2 analogue
Simulated, generated and experimental images (256 px crops, scale bar 1 nm), each beside its FFT
amplitude (log scale, one contrast per column).

![Figure 2]({figures["figure2"]})

## Calibration of each set's simulations
`stemgan calibrate` measures each set's unlabelled images (stage `calibrate`, `artifacts/calibration/<set>`)
and the set's simulations are made with what it found (`calibrate.mode: use`). Pixel size ×: the files'
pixel size times this is the one the lattice gives. Column σ: Gaussian width of the mean bright column;
dim/bright: median intensity of the dimmer sublattice's columns over the brighter's (WSe2: Se2/W; none for
graphene). exp = the set's images; before = simulations with params.yaml's optics; after = the set's
calibrated simulations, measured the same way.

{calibration_table(calibrations)}

## Table 1
{table1_md.split(chr(10), 2)[2] if table1_md.startswith("#") else table1_md}

## What each microscope effect does to each training source (stage `diagnose`)
{diagnostic or DIAGNOSTIC_NOT_RUN}

## Realism of the training images against each experimental set
Spectrum distance: mean |log10 power difference| over 0.05–2.4 Å⁻¹ (0 = identical spectra). Noise-floor
ratio: power beyond twice the probe aperture (1.6–2.4 Å⁻¹, noise only) over the experimental images'
(1 = same noise). Low-frequency ratio: power below 0.05 Å⁻¹ (contamination scale). Histogram W1:
Wasserstein distance of normalised intensities. KID: unbiased, cubic kernel, on the bottleneck
features of this project's defect FCN (the WSe2 Gaussian-noise one, for every material). C2ST AUC: a small
CNN trained to tell the images from
experimental tiles, AUC on held-out tiles with 95% interval (0.5 = indistinguishable).

{realism_table(realism)}

## Label preservation (translate)
Atom columns found in G(sim) and matched to the labelled columns (within 0.5 Å).

{preservation_table(realism)}

## Defects found in real experimental images (`real_example`)
A real image from a public package, fetched at run time by pinned version and sha256 (never committed),
taken through the whole chain: calibration, simulations, cycleGAN, FCN, `stemgan detect`.

{detections_section(detections or {})}

## Spectra, histograms, training
![power spectra]({figures["spectra"]})

![histograms]({figures["histograms"]})

![training curves]({figures["training"]})

Tuning: see [tune/study_summary.json](tune/study_summary.json) and
[tune/optimization_history.png](tune/optimization_history.png).
"""
    return atomic_write(path, lambda tmp: tmp.write_text(body))


def _save(fig, path: Path) -> Path:
    def write(tmp: Path) -> None:
        fig.savefig(tmp, dpi=72, format="png")

    atomic_write(path, write)
    plt.close(fig)
    return path


def load_realism(folder: Path) -> dict:
    return {p.stem: json.loads(p.read_text()) for p in sorted(Path(folder).glob("*.json"))}


def build_report(
    out_dir: Path,
    sets: dict,
    table1_sets: tuple[str, ...],
    normalize,
    ingest,
    realism_dir: Path,
    table1_md: Path,
    cyclegan_metrics: Path,
    n_images: int = 6,
    examples: dict[str, str] | None = None,
    real_dir: Path = Path("artifacts/real"),
    detect_dir: Path = Path("artifacts/detect"),
    diagnostic: Path = Path("metrics/diagnostic.json"),
) -> Path:
    """Everything under out_dir; sets: every experimental set (params `sets`), table1_sets: Table 1's columns;
    examples: real examples (name: material), their images under real_dir/<name>/unlabelled."""
    from stemgan.data.image_set import load_set

    def stack(folder: Path) -> np.ndarray:
        return load_set(folder, normalize, ingest, n_images)

    def images_of(set_name: str, experimental: Path) -> dict[str, np.ndarray]:
        """simulated, experimental and (once translate has run) generated images of one set."""
        kinds = {
            "simulated": stack(Path("artifacts/sim") / set_name / "images"),
            "experimental": stack(experimental),
        }
        generated = Path("artifacts/generated") / set_name / "seed_0" / "images"
        if generated.is_dir():
            kinds["generated"] = stack(generated)
        return kinds

    examples = examples or {}
    experimental = {name: Path("data") / spec.data[0] / "unlabelled" for name, spec in sets.items()}
    experimental |= {name: Path(real_dir) / name / "unlabelled" for name in examples}
    panels, curves, calibrations = {}, {}, {}
    for set_name, folder in experimental.items():
        if set_name in examples and not folder.is_dir():
            continue  # the real example's stage has not run yet
        kinds = images_of(set_name, folder)
        panels[f"{set_name}\n(real experiment)" if set_name in examples else set_name] = {
            k: v[0] for k, v in kinds.items()
        }
        if set_name in table1_sets:
            curves[set_name] = kinds
        calibrated = Path("artifacts/sim") / set_name / "calibration.json"
        if calibrated.is_file():
            calibrations[set_name] = json.loads(calibrated.read_text())
    pixel = ingest.working_pixel_size_A
    figures = {
        "figure2": "figure2.png",
        "spectra": "power_spectra.png",
        "histograms": "histograms.png",
        "training": "training_curves.png",
    }
    figure2(panels, pixel, out_dir / figures["figure2"])
    spectra_plot(curves, pixel, out_dir / figures["spectra"])
    histogram_plot(curves, out_dir / figures["histograms"])
    run_ids = {}
    for path in sorted(Path(cyclegan_metrics).glob("*.json")):
        for seed, values in json.loads(path.read_text()).items():
            if isinstance(values, dict) and "mlflow_run_id" in values:
                run_ids[f"{path.stem} {seed}"] = values["mlflow_run_id"]
    training_curves_plot(mlflow_histories(run_ids), out_dir / figures["training"])
    table = Path(table1_md).read_text() if Path(table1_md).is_file() else "(Table 1 not built yet)"
    detections = load_detections(examples, detect_dir, out_dir)
    diagnosis = diagnostic_section(diagnostic, "diagnostic.png")
    return write_readme(
        out_dir / "README.md", table, load_realism(realism_dir), figures, calibrations, detections, diagnosis
    )
