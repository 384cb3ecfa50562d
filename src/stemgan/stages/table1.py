"""`table1`: the cells assembled into the paper's Table 1 (Markdown, DVC metrics and plots, MLflow parent run)."""

from __future__ import annotations

from pathlib import Path

from stemgan.stages.arguments import params_arg


def register(sub) -> None:
    p = sub.add_parser(
        "table1",
        help="assemble Table 1 (report, DVC metrics and plots, MLflow parent run)",
        description="Collect the table1-cell outputs into the paper's Table 1: a Markdown report beside "
        "the paper's numbers, DVC metrics (JSON) and PR-curve plots, and one MLflow parent "
        "run that adopts the cells' runs.",
    )
    p.add_argument("--cells", type=Path, default=Path("artifacts/table1"), help="folder of table1-cell outputs")
    p.add_argument("--report", type=Path, default=Path("reports/table1.md"), help="Markdown table")
    p.add_argument("--metrics", type=Path, default=Path("metrics/table1.json"), help="DVC metrics (JSON)")
    p.add_argument("--plots", type=Path, default=Path("metrics/pr_curves"), help="DVC plots: one PR curve per cell")
    params_arg(p)
    p.set_defaults(handler=run)


def run(args) -> None:
    from stemgan.config import load_params
    from stemgan.evaluation.table1_report import write_table1

    table = load_params(args.params).table1
    cells = write_table1(
        args.cells, args.report, args.metrics, args.plots, list(table.sets), table.n_seeds, table.experiment
    )
    print(f"table1: {len(cells)} cells -> {args.report}, {args.metrics}, {args.plots}/")
    print(args.report.read_text())
