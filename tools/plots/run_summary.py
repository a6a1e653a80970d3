#!/usr/bin/env python3
"""One page of a single `dasnet train` run, called by `dasnet report --metrics` (which writes
references.json beside it).

Writes to --out:
  run_curves.{png,svg}       training and validation loss and accuracy per epoch
  run_references.{png,svg}   P(usable) of each reference image per epoch over its expected range
  run_map_<name>.{png,svg}   usable-energy map of each --map <name>.pmap.h5 (from dasnet infer)
  summary.html               one self-contained page (PNGs embedded as base64) with Table 1:
                             this run's best epochs against the study's expected ranges
Exit code 3 when matplotlib (or h5py, for --map) is missing.
"""
import argparse
import html
import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sweep_report import figure_formats, plt, save, write_page  # noqa: E402  (exits 3 itself when matplotlib is missing)
from matplotlib.ticker import MaxNLocator  # noqa: E402

BEST_EPOCHS = 4  # the study's Table 1 lists its four best models


def read_metrics(path):
    rows = []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise SystemExit(f"{path}: line {number}: not JSON ({error})")
    if not rows:
        raise SystemExit(f"{path}: no epochs recorded")
    return rows


def curves(rows, out, formats):
    epochs = [r["epoch"] for r in rows]
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    a.plot(epochs, [r["train_loss"] for r in rows], "o-", label="training")
    a.plot(epochs, [r.get("val_loss", math.nan) for r in rows], "s-", label="validation")
    a.set_xlabel("epoch")
    a.set_ylabel("loss")
    a.legend()
    b.plot(epochs, [r["train_accuracy"] for r in rows], "o-", label="training")
    b.plot(epochs, [r.get("val_accuracy", math.nan) for r in rows], "s-", label="validation")
    b.set_xlabel("epoch")
    b.set_ylabel("accuracy")
    b.set_ylim(0, 1.02)
    b.legend()
    for ax in (a, b):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return save(fig, out, "run_curves", formats)


def reference_curves(rows, refs, out, formats):
    fig, axes = plt.subplots(1, len(refs), figsize=(3.2 * len(refs), 3.2), squeeze=False)
    epochs = [r["epoch"] for r in rows]
    for ax, ref in zip(axes[0], refs):
        ax.axhspan(ref["min"], ref["max"], color="green", alpha=0.15, label="expected")
        ax.plot(epochs, [r.get("p_usable", {}).get(ref["name"], math.nan) for r in rows], "o-", color="C0")
        ax.set_ylim(-0.02, 1.02)
        ax.set_title(ref["name"].replace("_", " "), fontsize=10)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0][0].set_ylabel("P(usable)")
    return save(fig, out, "run_references", formats)


def probability_map(path, out, formats):
    name = "run_map_" + os.path.basename(path).removesuffix(".h5").removesuffix(".pmap")
    try:
        import h5py
    except ImportError as error:
        sys.stderr.write(f"run_summary.py: {error}: install with: python3 -m pip install h5py\n")
        sys.exit(3)
    with h5py.File(path, "r") as f:
        p = f["p_usable"][()]
        seconds = p.shape[1] * int(f.attrs["cell_samples"]) / float(f.attrs["sampling_rate_hz"])
        start_m = float(f.attrs["distance_start_m"])
        metres = p.shape[0] * int(f.attrs["cell_channels"]) * float(f.attrs["channel_spacing_m"])
    fig, ax = plt.subplots(figsize=(11, 3.5))
    image = ax.imshow(p, aspect="auto", origin="lower", vmin=0, vmax=1, cmap="viridis", interpolation="nearest",
                      extent=[0, seconds, start_m, start_m + metres])
    ax.set_xlabel("time from the record's start (s)")
    ax.set_ylabel("distance (m)")
    ax.set_title(os.path.basename(path), fontsize=10)
    fig.colorbar(image, ax=ax, label="P(usable)")
    return save(fig, out, name, formats)


def best_epochs(rows):
    def accuracy(r):
        v = r.get("val_accuracy", math.nan)
        return -1.0 if v is None or math.isnan(v) else v
    return sorted(rows, key=lambda r: (-accuracy(r), -r["epoch"]))[:BEST_EPOCHS]


def table_one(rows, refs):
    best = best_epochs(rows)
    head = "<tr><th>reference</th><th>study's expected range</th>" + "".join(
        f"<th>epoch {r['epoch']} (val acc {r.get('val_accuracy', math.nan):.3f})</th>" for r in best) + "</tr>"
    lines = ["<h2>Table 1: this run's best epochs on the reference images</h2>", "<table>", head]
    for ref in refs:
        cells = []
        for r in best:
            p = r.get("p_usable", {}).get(ref["name"])
            if p is None:
                cells.append("<td>-</td>")
                continue
            inside = ref["min"] <= p <= ref["max"]
            cells.append(f"<td class='{'in' if inside else 'out'}'>{p:.3f} {'&#10003;' if inside else '&#10007;'}</td>")
        lines.append(f"<tr><td>{html.escape(ref['name'])}</td><td>{ref['min']:g} - {ref['max']:g}</td>"
                     + "".join(cells) + "</tr>")
    lines.append("</table><p>&#10003; inside the study's range, &#10007; outside.</p>")
    return lines


def print_table_one(rows, refs):
    """Table 1 on the console: the study's ranges beside this run's best epochs (the study's own
    per-epoch values are not in our notes: its four matching models are known only to lie inside
    the ranges)."""
    best = best_epochs(rows)
    if not refs or not any(r.get("p_usable") for r in best):
        return
    print("Table 1: the study's expected P(usable) beside this run's best epochs (by validation accuracy)")
    print(f"{'reference':<20} {'study':>11}" + "".join(
        f"  {'epoch ' + str(r['epoch']) + ' (' + format(r.get('val_accuracy', math.nan), '.3f') + ')':>20}" for r in best))
    for ref in refs:
        cells = ""
        for r in best:
            p = r.get("p_usable", {}).get(ref["name"])
            if p is None:
                cells += f"  {'-':>20}"
                continue
            mark = "in range" if ref["min"] <= p <= ref["max"] else "OUT"
            cells += f"  {format(p, '.3f') + ' ' + mark:>20}"
        print(f"{ref['name']:<20} {format(ref['min'], 'g') + '-' + format(ref['max'], 'g'):>11}" + cells)


def write_html(out, metrics_path, rows, refs, figures):
    last = rows[-1]
    parts = [f"<p>{html.escape(metrics_path)}: {len(rows)} epochs; last: training accuracy "
             f"{last['train_accuracy']:.4f}, validation accuracy {last.get('val_accuracy', math.nan):.4f}, "
             f"{last.get('samples_per_s', math.nan):.1f} samples/s.</p>"]
    if refs and any(r.get("p_usable") for r in rows):
        parts += table_one(rows, refs)
    write_page(os.path.join(out, "summary.html"), "dasnet training run", parts, figures)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--metrics", required=True)
    parser.add_argument("--references", required=True)
    parser.add_argument("--map", action="append", default=[])
    parser.add_argument("--out", required=True)
    parser.add_argument("--formats", default="png,svg")
    args = parser.parse_args()
    formats = figure_formats(args.formats)
    rows = read_metrics(args.metrics)
    with open(args.references) as f:
        refs = json.load(f)["references"]
    os.makedirs(args.out, exist_ok=True)
    makers = [("Loss and accuracy", lambda: curves(rows, args.out, formats))]
    if any(r.get("p_usable") for r in rows):
        makers.append(("P(usable) of the reference images", lambda: reference_curves(rows, refs, args.out, formats)))
    for path in args.map:
        makers.append((f"Usable-energy map: {os.path.basename(path)}", lambda p=path: probability_map(p, args.out, formats)))
    figures = []
    for title, make in makers:
        paths = make()
        figures.append((title, paths[0]))
        print("wrote " + ", ".join(paths))
    write_html(args.out, args.metrics, rows, refs, figures)
    print_table_one(rows, refs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
