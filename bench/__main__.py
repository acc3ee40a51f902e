"""``python -m bench [--quick]``: run the bench session, then write the results and the report."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from bench import report
from bench.contenders import ALL_CONTENDERS
from bench.harness import FULL_SIZES, QUICK_ROW_BY_ROW_MAX_ROWS, QUICK_SIZES, run_session


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"sizes {QUICK_SIZES} only")
    parser.add_argument("--sizes", help="comma-separated row counts (overrides --quick)")
    parser.add_argument(
        "--contenders",
        default=",".join(ALL_CONTENDERS),
        help=f"comma-separated subset of {', '.join(ALL_CONTENDERS)}",
    )
    parser.add_argument("--timeout", type=float, default=3600, help="seconds one contender may run")
    parser.add_argument(
        "--reload-timeout",
        type=float,
        default=600,
        help="seconds GenericTransfer, the seed's way or pgloader may run (a timeout is recorded)",
    )
    parser.add_argument(
        "--row-by-row-max-rows",
        type=int,
        help="run GenericTransfer and the seed's DELETE+INSERT only at sizes up to this "
        f"(default: every size; {QUICK_ROW_BY_ROW_MAX_ROWS:,} with --quick)",
    )
    parser.add_argument("--note", default="", help="a sentence for the report (how this run was made)")
    parser.add_argument("--results", type=Path, default=report.RESULTS_PATH)
    parser.add_argument("--report", type=Path, default=report.REPORT_PATH)
    parser.add_argument("--chart", type=Path, default=report.CHART_PATH)
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("devtools").setLevel(logging.WARNING)
    sizes = (
        tuple(int(s) for s in args.sizes.split(","))
        if args.sizes
        else (QUICK_SIZES if args.quick else FULL_SIZES)
    )
    contenders = tuple(name.strip() for name in args.contenders.split(",") if name.strip())
    unknown = set(contenders) - set(ALL_CONTENDERS)
    if unknown:
        parser.error(f"unknown contender(s): {', '.join(sorted(unknown))}")

    row_by_row_max_rows = args.row_by_row_max_rows
    if row_by_row_max_rows is None and args.quick and not args.sizes:
        row_by_row_max_rows = QUICK_ROW_BY_ROW_MAX_ROWS
    session = run_session(sizes, contenders, args.timeout, args.reload_timeout, row_by_row_max_rows)
    results = {
        "quick": args.quick and not args.sizes,
        "sizes": list(session.sizes),
        "contenders": list(session.contenders),
        "row_by_row_max_rows": row_by_row_max_rows,
        "environment": session.environment,
        "note": args.note,
        "measurements": [m.to_dict() for m in session.measurements],
    }
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(results, indent=1) + "\n")
    report.write_report(results, args.report, args.chart)
    print(f"wrote {args.results}, {args.report} and {args.chart}")
    return 0 if all(m.ok for m in session.measurements if m.contender != "pgloader") else 1


if __name__ == "__main__":
    sys.exit(main())
