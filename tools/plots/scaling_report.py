#!/usr/bin/env python3
"""Figure 2 of the study on this hardware: the training-throughput map of dasnet bench scaling.

Reads the measured rows of one or more `dasnet bench scaling --csv` runs (one per rank count) and
the model's predictions (`--predictions-csv`), and writes to --out:
  scaling_map.png/.svg          samples/s over data set size x batch per rank, a panel per ranks
                                count, a row per depth (measured)
  scaling_predictions.png/.svg  the cost model: samples/s and efficiency for 1-32 V100s (assumed
                                inputs) and for 2-32 ranks over this machine's fitted link
  report.html                   one self-contained page (PNGs embedded)
"""
import argparse
import csv
import html
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sweep_report import figure_formats, fmt, plt, save, write_page  # noqa: E402  (exits 3 itself when matplotlib is missing)
import numpy as np  # noqa: E402


def read_csv(path, numeric):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        for key in numeric:
            r[key] = float(r[key])
    return rows


def scaling_map(rows, out, formats):
    depths = sorted({r["depth"] for r in rows})
    ranks = sorted({r["ranks"] for r in rows})
    fig, axes = plt.subplots(len(depths), len(ranks), figsize=(4.2 * len(ranks), 3.6 * len(depths)), squeeze=False)
    top = max(r["samples_per_s"] for r in rows)
    for i, depth in enumerate(depths):
        for j, p in enumerate(ranks):
            ax = axes[i][j]
            sub = [r for r in rows if r["depth"] == depth and r["ranks"] == p]
            sizes = sorted({r["dataset"] for r in rows})
            batches = sorted({r["batch_per_rank"] for r in rows})
            grid = np.full((len(sizes), len(batches)), np.nan)
            for r in sub:
                grid[sizes.index(r["dataset"]), batches.index(r["batch_per_rank"])] = r["samples_per_s"]
            im = ax.imshow(grid, cmap="magma", origin="lower", aspect="auto", vmin=0, vmax=top)
            for a in range(len(sizes)):
                for b in range(len(batches)):
                    if np.isfinite(grid[a, b]):
                        ax.text(b, a, f"{grid[a, b]:.1f}", ha="center", va="center",
                                color="w" if grid[a, b] < 0.6 * top else "k", fontsize=9)
            ax.set_xticks(range(len(batches)))
            ax.set_xticklabels([fmt(b) for b in batches])
            ax.set_yticks(range(len(sizes)))
            ax.set_yticklabels([fmt(s) for s in sizes])
            ax.set_xlabel("batch size per rank")
            if j == 0:
                ax.set_ylabel("data set size (images)")
            ax.set_title(f"depth {int(depth)}, {int(p)} rank(s)")
    fig.colorbar(im, ax=axes, label="samples/s, summed over ranks (measured)")
    fig.suptitle("Training throughput on this machine (dasnet bench scaling)")
    return save(fig, out, "scaling_map", formats)


def prediction_curves(rows, out, formats):
    sources = sorted({r["source"] for r in rows})
    fig, axes = plt.subplots(2, len(sources), figsize=(6 * len(sources), 7), squeeze=False)
    for j, source in enumerate(sources):
        sub = [r for r in rows if r["source"] == source]
        keys = sorted({(r["depth"], r["batch_per_rank"], r["dataset"]) for r in sub})
        for depth, batch, dataset in keys:
            line = sorted((r for r in sub if (r["depth"], r["batch_per_rank"], r["dataset"]) == (depth, batch, dataset)),
                          key=lambda r: r["ranks"])
            label = f"depth {int(depth)}, batch {int(batch)}" + (f", {int(dataset)} images" if dataset else "")
            x = [r["ranks"] for r in line]
            axes[0][j].plot(x, [r["samples_per_s"] for r in line], marker="o", ms=3, label=label)
            axes[1][j].plot(x, [r["efficiency"] for r in line], marker="o", ms=3, label=label)
        for ax in axes[:, j]:
            ax.set_xscale("log", base=2)
            ax.set_xlabel("ranks (GPUs for V100)")
            ax.grid(alpha=0.3)
        axes[0][j].set_yscale("log")
        axes[0][j].set_ylabel("predicted samples/s")
        axes[0][j].set_title(f"{source}: model predictions, not measurements", fontsize=10)
        axes[1][j].set_ylabel("predicted efficiency")
        axes[1][j].set_ylim(0, 1.05)
        axes[0][j].legend(fontsize=7, ncol=2)
    return save(fig, out, "scaling_predictions", formats)


def write_html(out, measured, figures, measured_paths):
    parts = [f"<p>{len(measured)} measured configurations from "
             + ", ".join(html.escape(os.path.basename(p)) for p in measured_paths)
             + ". Throughput is samples per second summed over the ranks; the predictions come from the ring "
               "all-reduce cost model (their inputs are stated in the markdown output of dasnet bench scaling).</p>",
             "<table><tr><th>ranks</th><th>depth</th><th>batch/rank</th><th>data set</th><th>samples/s</th>"
             "<th>step s</th><th>all-reduce wait s</th><th>input wait s</th></tr>"]
    for r in sorted(measured, key=lambda r: (r["depth"], r["ranks"], r["batch_per_rank"], r["dataset"])):
        parts.append(f"<tr><td>{int(r['ranks'])}</td><td>{int(r['depth'])}</td><td>{int(r['batch_per_rank'])}</td>"
                     f"<td>{int(r['dataset'])}</td><td>{r['samples_per_s']:.1f}</td><td>{r['step_s']:.4f}</td>"
                     f"<td>{r['allreduce_wait_s']:.4f}</td><td>{r['input_wait_s']:.4f}</td></tr>")
    parts.append("</table>")
    write_page(os.path.join(out, "report.html"), "Training throughput map (the study's Figure 2 on this hardware)",
               parts, figures)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--measured", action="append", required=True, help="dasnet bench scaling --csv output")
    parser.add_argument("--predictions", help="dasnet bench scaling --predictions-csv output")
    parser.add_argument("--out", required=True)
    parser.add_argument("--formats", default="png,svg")
    args = parser.parse_args()
    formats = figure_formats(args.formats)
    numeric = ["ranks", "depth", "batch_per_rank", "dataset", "samples_per_s", "step_s", "allreduce_wait_s",
               "input_wait_s"]
    measured = [r for path in args.measured for r in read_csv(path, numeric)]
    if not measured:
        sys.stderr.write(", ".join(args.measured) + ": no measured rows\n")
        return 1
    os.makedirs(args.out, exist_ok=True)
    figures = [("Measured throughput map", scaling_map(measured, args.out, formats)[0])]
    if args.predictions:
        predicted = read_csv(args.predictions, ["depth", "batch_per_rank", "dataset", "ranks", "samples_per_s",
                                                "efficiency"])
        if predicted:
            figures.append(("Predicted scaling (cost model)", prediction_curves(predicted, args.out, formats)[0]))
    for _, path in figures:
        print("wrote " + path)
    write_html(args.out, measured, figures, args.measured)
    return 0


if __name__ == "__main__":
    sys.exit(main())
