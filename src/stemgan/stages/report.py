"""`report`: reports/README.md with Figure 2, Table 1, the realism table, spectra, histograms, training curves."""

from __future__ import annotations

from pathlib import Path

from stemgan.stages.arguments import params_arg


def register(sub) -> None:
    p = sub.add_parser(
        "report",
        help="write reports/: Figure 2 analogue, spectra, histograms, training curves, README",
        description="Write the human-readable results: reports/README.md with Figure 2 (simulated, "
        "generated and experimental images with their FFTs), Table 1, the realism table, "
        "label preservation, power spectra, histograms and training curves.",
    )
    p.add_argument("--out", type=Path, default=Path("reports"), help="report folder")
    p.add_argument("--realism", type=Path, default=Path("metrics/realism"), help="realism metrics (JSON per set)")
    p.add_argument("--table1", type=Path, default=Path("reports/table1.md"), help="Table 1 (Markdown)")
    p.add_argument("--cyclegan-metrics", type=Path, default=Path("metrics/cyclegan"), help="cycleGAN metrics (JSON)")
    params_arg(p)
    p.set_defaults(handler=run)


def run(args) -> None:
    from stemgan.config import load_params
    from stemgan.evaluation.report import build_report

    params = load_params(args.params)
    readme = build_report(
        args.out,
        params.sets,
        params.table1.sets,
        params.tile.normalize,
        params.ingest,
        args.realism,
        args.table1,
        args.cyclegan_metrics,
        examples={name: example.material for name, example in params.real_example.examples.items()},
    )
    print(f"report: {readme} with figure2.png, power_spectra.png, histograms.png, training_curves.png")
