#!/usr/bin/env python3
"""Figures of a dasnet sweep, called by `dasnet report` (which writes runs.csv and references.json).

Writes to --out:
  parallel_coordinates.{png,svg}  every (trial, epoch) over the sweep's dimensions, coloured by
                                  validation accuracy; top-k thick, the best model in red
  throughput.{png,svg}            samples/s per (data set size, batch size), one panel per rank count
  reference_heatmaps.{png,svg}    the reference images above trial x epoch maps of P(usable);
                                  models matching every range boxed
  curves.{png,svg}                training loss and validation accuracy per epoch
  report.html                     one self-contained page (PNGs embedded as base64)
Exit code 3 when matplotlib is missing.
"""
import argparse
import base64
import csv
import html
import json
import math
import os
import sys

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection
    from matplotlib.patches import Rectangle
    import numpy as np
except ImportError as error:  # the C++ command turns exit code 3 into install instructions
    sys.stderr.write(f"sweep_report.py: {error}: install with: python3 -m pip install matplotlib\n")
    sys.exit(3)

# Dimensions in the order of the study's figure (the ninth, block, carries the bottleneck width).
DIMENSIONS = ["processor", "ranks", "images_per_class", "channels", "batch_size", "depth", "block",
              "outputs", "lr"]
NUMERIC = {"ranks", "images_per_class", "channels", "batch_size", "depth", "outputs", "lr", "epoch",
           "epochs", "val_accuracy", "bottleneck_width"}
TOP_K = 10


def read_runs(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        for key in list(r):
            if key in NUMERIC or key.startswith("p_") or key in (
                    "train_loss", "train_accuracy", "val_loss", "samples_per_s", "distance", "matches", "trial"):
                try:
                    r[key] = float(r[key]) if r[key] != "" else float("nan")
                except ValueError:
                    r[key] = float("nan")
        if r.get("block") == "bottleneck":
            r["block"] = f"bottleneck/{int(r['bottleneck_width'])}"
    return rows


def save(fig, out, name, formats):
    paths = []
    for fmt in formats:
        path = os.path.join(out, f"{name}.{fmt}")
        fig.savefig(path, dpi=110, bbox_inches="tight")
        paths.append(path)
    plt.close(fig)
    return paths


def axis_positions(values, key):
    """Maps one column to [0, 1]: ordinal for few distinct values, (log-)linear otherwise."""
    distinct = sorted(set(values), key=lambda v: (isinstance(v, str), v))
    if len(distinct) <= 12:
        index = {v: (i / (len(distinct) - 1) if len(distinct) > 1 else 0.5) for i, v in enumerate(distinct)}
        return [index[v] for v in values], [(index[v], v) for v in distinct]
    x = np.array(values, dtype=float)
    if key == "lr" and np.all(x > 0):
        x = np.log10(x)
    lo, hi = np.nanmin(x), np.nanmax(x)
    span = hi - lo if hi > lo else 1.0
    ticks = np.linspace(lo, hi, 5)
    labels = [10 ** t if key == "lr" else t for t in ticks]
    return list((x - lo) / span), [((t - lo) / span, v) for t, v in zip(ticks, labels)]


def fmt(v):
    if isinstance(v, str):
        return v
    if v == int(v) and abs(v) < 1e6:
        return str(int(v))
    return f"{v:.3g}"


def parallel_coordinates(rows, out, formats):
    keys = [k for k in DIMENSIONS if len({r[k] for r in rows}) > 1] or DIMENSIONS[:3]
    keys = keys + ["epoch", "val_accuracy"]
    columns, ticks = [], []
    for k in keys:
        pos, t = axis_positions([r[k] for r in rows], k)
        columns.append(pos)
        ticks.append(t)
    y = np.array(columns).T  # rows x axes
    acc = np.array([r["val_accuracy"] for r in rows])
    order = np.argsort(np.nan_to_num(acc, nan=-1))
    n = len(rows)
    fig, ax = plt.subplots(figsize=(max(8, 1.25 * len(keys)), 5.5))
    xs = np.arange(len(keys))
    segments = [np.column_stack([xs, y[i]]) for i in order]
    cmap = plt.get_cmap("viridis")
    finite = acc[np.isfinite(acc)]
    vmin, vmax = (finite.min(), finite.max()) if finite.size else (0, 1)
    norm = matplotlib.colors.Normalize(vmin=vmin, vmax=vmax if vmax > vmin else vmin + 1e-6)
    alpha = float(min(0.6, max(0.03, 40.0 / max(1, n))))  # thousands of rows stay readable
    lc = LineCollection(segments, colors=cmap(norm(np.nan_to_num(acc[order], nan=vmin))), linewidths=0.8, alpha=alpha)
    ax.add_collection(lc)
    top = order[::-1][:TOP_K]
    for rank, i in enumerate(top[1:], start=2):
        ax.plot(xs, y[i], color=cmap(norm(acc[i])), linewidth=2.0, alpha=0.9, zorder=3)
    if len(top):
        best = top[0]
        ax.plot(xs, y[best], color="red", linewidth=3.0, zorder=4,
                label=f"best: trial {int(rows[best]['trial'])} epoch {int(rows[best]['epoch'])}, "
                      f"val acc {acc[best]:.4f}")
    for j, k in enumerate(keys):
        ax.axvline(j, color="0.3", linewidth=0.8)
        for position, value in ticks[j]:
            ax.text(j + 0.04, position, fmt(value), fontsize=7, va="center")
    ax.set_xticks(xs)
    ax.set_xticklabels(keys, rotation=30, ha="right")
    ax.set_yticks([])
    ax.set_xlim(-0.2, len(keys) - 0.5)
    ax.set_ylim(-0.05, 1.05)
    sm = plt.cm.ScalarMappable(cmap=cmap, norm=norm)
    fig.colorbar(sm, ax=ax, label="validation accuracy")
    ax.set_title(f"{n} (trial, epoch) models; top {min(TOP_K, n)} thick, best in red")
    ax.legend(loc="lower left", fontsize=8)
    return save(fig, out, "parallel_coordinates", formats)


def throughput_map(rows, out, formats):
    panels = sorted({(r["processor"], r["ranks"]) for r in rows})
    fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 4), squeeze=False)
    for ax, (proc, ranks) in zip(axes[0], panels):
        sub = [r for r in rows if r["processor"] == proc and r["ranks"] == ranks and r["samples_per_s"] > 0]
        sizes = sorted({r["images_per_class"] for r in sub})
        batches = sorted({r["batch_size"] for r in sub})
        grid = np.full((len(sizes), len(batches)), np.nan)
        for i, s in enumerate(sizes):
            for j, b in enumerate(batches):
                v = [r["samples_per_s"] for r in sub if r["images_per_class"] == s and r["batch_size"] == b]
                if v:
                    grid[i, j] = float(np.median(v))
        im = ax.imshow(grid, cmap="magma", origin="lower", aspect="auto")
        for i in range(len(sizes)):
            for j in range(len(batches)):
                if np.isfinite(grid[i, j]):
                    ax.text(j, i, f"{grid[i, j]:.0f}", ha="center", va="center", color="w", fontsize=8)
        ax.set_xticks(range(len(batches)))
        ax.set_xticklabels([fmt(b) for b in batches])
        ax.set_yticks(range(len(sizes)))
        ax.set_yticklabels([fmt(s) for s in sizes])
        ax.set_xlabel("batch size (per rank)")
        ax.set_ylabel("images per class")
        ax.set_title(f"{proc}, {int(ranks)} rank(s)")
        fig.colorbar(im, ax=ax, label="median samples/s")
    fig.suptitle("Training throughput (samples per epoch / epoch wall time)")
    return save(fig, out, "throughput", formats)


def trial_label(r):
    return f"#{int(r['trial'])} d{int(r['depth'])} lr{fmt(r['lr'])} b{int(r['batch_size'])}"


def reference_heatmaps(rows, refs, out, formats):
    names = [ref["name"] for ref in refs]
    have = [r for r in rows if all(math.isfinite(r.get("p_" + n, float("nan"))) for n in names)]
    if not have:
        return []
    trials = {}
    for r in have:
        trials.setdefault(int(r["trial"]), []).append(r)
    # Many trials: keep the 60 whose best epoch is nearest the range centres.
    ranked = sorted(trials, key=lambda t: min(r["distance"] for r in trials[t]))[:60]
    ranked.sort()
    epochs = sorted({int(r["epoch"]) for r in have})
    height = 2.2 + 0.22 * len(ranked)
    fig, axes = plt.subplots(2, len(names), figsize=(3.6 * len(names), height + 2.5),
                             gridspec_kw={"height_ratios": [2.2, height]}, squeeze=False)
    for j, ref in enumerate(refs):
        ax = axes[0][j]
        if "pixels" in ref:
            img = np.array(ref["pixels"], dtype=float).reshape(ref["height"], ref["width"])
            ax.imshow(img, cmap="gray", vmin=0, vmax=1)
        else:
            ax.text(0.5, 0.5, "(no image)", ha="center", va="center")
        ax.set_title(f"{ref['name']}\nexpected {ref['min']:g}-{ref['max']:g}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        grid = np.full((len(ranked), len(epochs)), np.nan)
        match = np.zeros_like(grid, dtype=bool)
        labels = []
        for i, t in enumerate(ranked):
            labels.append(trial_label(trials[t][0]))
            for r in trials[t]:
                k = epochs.index(int(r["epoch"]))
                grid[i, k] = r["p_" + ref["name"]]
                match[i, k] = r["matches"] == 1
        ax = axes[1][j]
        im = ax.imshow(grid, cmap="viridis", vmin=0, vmax=1, aspect="auto", interpolation="nearest")
        for i, k in zip(*np.nonzero(match)):
            ax.add_patch(Rectangle((k - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="red", linewidth=1.6))
        ax.set_xlabel("epoch")
        step = max(1, len(epochs) // 10)
        ax.set_xticks(range(0, len(epochs), step))
        ax.set_xticklabels([str(e) for e in epochs[::step]])
        ax.set_yticks(range(len(ranked)))
        ax.set_yticklabels(labels if j == 0 else [], fontsize=7)
    fig.colorbar(im, ax=axes[1].tolist(), label="P(usable)", shrink=0.8)
    fig.suptitle("P(usable) of the reference images per model and epoch (red boxes: every range matched)")
    return save(fig, out, "reference_heatmaps", formats)


def curves(rows, out, formats):
    trials = {}
    for r in rows:
        trials.setdefault(int(r["trial"]), []).append(r)
    best = max(rows, key=lambda r: -1 if math.isnan(r["val_accuracy"]) else r["val_accuracy"])
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    alpha = float(min(0.7, max(0.05, 20.0 / max(1, len(trials)))))
    for t, rs in trials.items():
        rs.sort(key=lambda r: r["epoch"])
        e = [r["epoch"] for r in rs]
        red = t == int(best["trial"])
        style = dict(color="red", linewidth=2.2, alpha=1, zorder=3) if red else dict(color="C0", linewidth=0.8,
                                                                                   alpha=alpha)
        a.plot(e, [r["train_loss"] for r in rs], **style)
        b.plot(e, [r["val_accuracy"] for r in rs], **style)
    a.set_yscale("log")
    a.set_xlabel("epoch")
    a.set_ylabel("training loss")
    b.set_xlabel("epoch")
    b.set_ylabel("validation accuracy")
    b.set_title(f"best (red): {trial_label(best)}", fontsize=9)
    return save(fig, out, "curves", formats)


def figure_formats(text):
    """The --formats list, PNG always among them (the HTML pages embed PNGs)."""
    formats = [f for f in text.split(",") if f]
    if "png" not in formats:
        formats.insert(0, "png")
    return formats


PAGE_STYLE = ("body{font-family:sans-serif;max-width:1400px;margin:auto}table{border-collapse:collapse}"
              "td,th{border:1px solid #ccc;padding:2px 6px;font-size:13px}img{max-width:100%}"
              "td.in{background:#dfd}td.out{background:#fdd}")


def write_page(path, title, body, figures, footer=""):
    """One self-contained HTML page: the title, the body's HTML parts, the figures embedded, a footer."""
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             f"<style>{PAGE_STYLE}</style></head><body>", f"<h1>{html.escape(title)}</h1>"]
    parts += body + embedded_figures(figures)
    parts.append(f"{footer}</body></html>")
    with open(path, "w") as f:
        f.write("\n".join(parts))


def embedded_figures(figures):
    """HTML of (title, PNG path) figures, each PNG embedded as base64 so the page stands alone."""
    parts = []
    for title, path in figures:
        with open(path, "rb") as f:
            data = base64.b64encode(f.read()).decode("ascii")
        parts.append(f"<h2>{html.escape(title)}</h2><img alt='{html.escape(title)}' src='data:image/png;base64,{data}'>")
    return parts


def write_html(out, rows, refs, figures):
    states = {}
    for r in rows:
        states.setdefault(int(r["trial"]), r["state"])
    counts = {}
    for s in states.values():
        counts[s] = counts.get(s, 0) + 1
    matches = sorted([r for r in rows if r.get("matches") == 1], key=lambda r: r["distance"])
    names = [ref["name"] for ref in refs]
    parts = [f"<p>{len(states)} trials, {len(rows)} (trial, epoch) models: "
             + ", ".join(f"{v} {html.escape(k)}" for k, v in sorted(counts.items())) + "</p>",
             f"<h2>Models matching every reference range ({len(matches)})</h2><table><tr><th>trial</th><th>depth</th>"
             "<th>lr</th><th>batch</th><th>epoch</th>" + "".join(f"<th>{html.escape(n)}</th>" for n in names)
             + "<th>distance</th><th>val acc</th></tr>"]
    for r in matches[:50]:
        parts.append(f"<tr><td>{int(r['trial'])}</td><td>{int(r['depth'])}</td><td>{fmt(r['lr'])}</td>"
                     f"<td>{int(r['batch_size'])}</td><td>{int(r['epoch'])}</td>"
                     + "".join(f"<td>{r['p_' + n]:.3f}</td>" for n in names)
                     + f"<td>{r['distance']:.3f}</td><td>{r['val_accuracy']:.4f}</td></tr>")
    parts.append("</table>")
    write_page(os.path.join(out, "report.html"), "dasnet sweep report", parts, figures,
               "<p>Data: runs.csv (one row per trial and epoch; HiPlot and pandas read it).</p>")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", required=True)
    parser.add_argument("--references", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--formats", default="png,svg")
    args = parser.parse_args()
    formats = figure_formats(args.formats)
    rows = read_runs(args.runs)
    if not rows:
        sys.stderr.write(f"{args.runs}: no rows\n")
        return 1
    with open(args.references) as f:
        refs = json.load(f)["references"]
    os.makedirs(args.out, exist_ok=True)
    figures = []
    for title, make in [("Parallel coordinates", lambda: parallel_coordinates(rows, args.out, formats)),
                        ("Training throughput", lambda: throughput_map(rows, args.out, formats)),
                        ("Reference probabilities", lambda: reference_heatmaps(rows, refs, args.out, formats)),
                        ("Loss and accuracy", lambda: curves(rows, args.out, formats))]:
        paths = make()
        if paths:
            figures.append((title, paths[0]))
            print("wrote " + ", ".join(paths))
    write_html(args.out, rows, refs, figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
