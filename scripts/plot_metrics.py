#!/usr/bin/python3
"""Draws test-accuracy curves from metrics files (nibble's --metrics CSV or
JSON lines, or pytorch_reference_training.py's CSV): against the epoch and
against the wall-clock time summed over epochs, several runs on one chart.

    /usr/bin/python3 scripts/plot_metrics.py --output curves.png \\
        "nibble bf16, seed 0=runs/a/metrics.csv" "PyTorch, seed 0=runs/torch.csv" [--goal 91]

A run is LABEL=FILE, or just FILE (then the file name is the label). A run
that kept a moving average of its weights (--weight-average) gets a second,
dashed curve for the average.
Needs matplotlib: python3-matplotlib on Debian.
"""
import argparse
import csv
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def read_metrics(path):
    """Rows as dicts of floats, from a .csv (lines starting with # are
    comments, as data_ceiling_reference.py's closing line) or a .jsonl/.json file."""
    path = Path(path)
    if path.suffix == ".csv":
        with open(path, newline="") as f:
            rows = list(csv.DictReader(line for line in f if not line.startswith("#")))
    else:
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    out = []
    for r in rows:
        try:
            row = {"epoch": float(r["epoch"]), "test_accuracy": float(r["test_accuracy"]),
                   "seconds": float(r["seconds"])}
        except (KeyError, TypeError, ValueError) as e:
            raise SystemExit(f"{path}: a row without a usable {e} column: {r}")
        average = r.get("average_test_accuracy")
        if average not in (None, ""):
            row["average_test_accuracy"] = float(average)
        out.append(row)
    if not out:
        raise SystemExit(f"{path}: no epochs in it")
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", help="LABEL=FILE or FILE")
    parser.add_argument("--output", required=True, help="PNG (or any format matplotlib writes) to write")
    parser.add_argument("--title", default="CIFAR-10 test accuracy")
    parser.add_argument("--goal", type=float, action="append", default=[],
                        help="draw a dotted line at this test accuracy (%%); may be repeated")
    args = parser.parse_args()

    fig, (by_epoch, by_time) = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for run in args.runs:
        label, _, file = run.rpartition("=")
        label = label or Path(file).stem
        rows = read_metrics(file)
        epochs = [r["epoch"] for r in rows]
        accuracy = [100 * r["test_accuracy"] for r in rows]
        hours, total = [], 0.0
        for r in rows:
            total += r["seconds"]
            hours.append(total / 3600)
        marker = "." if len(rows) < 40 else None
        line, = by_epoch.plot(epochs, accuracy, marker=marker, label=label)
        by_time.plot(hours, accuracy, marker=marker, color=line.get_color())
        print(f"{label}: {len(rows)} epochs, best {max(accuracy):.2f} %, last {accuracy[-1]:.2f} %, "
              f"{total / 3600:.2f} h")
        averaged = [(e, h, 100 * r["average_test_accuracy"])
                    for e, h, r in zip(epochs, hours, rows) if "average_test_accuracy" in r]
        if averaged:
            e, h, a = zip(*averaged)
            by_epoch.plot(e, a, linestyle="--", color=line.get_color(), label=f"{label}, weight average")
            by_time.plot(h, a, linestyle="--", color=line.get_color())
            print(f"{label}, weight average: best {max(a):.2f} %, last {a[-1]:.2f} %")
    by_epoch.set_xlabel("epoch")
    by_time.set_xlabel("wall-clock hours (summed epoch times)")
    by_epoch.set_ylabel("test accuracy (%)")
    for ax in (by_epoch, by_time):
        ax.grid(True, alpha=0.3)
        for goal in args.goal:
            ax.axhline(goal, color="grey", linestyle=":", linewidth=1)
    by_epoch.legend(loc="lower right", fontsize="small")
    fig.suptitle(args.title)
    fig.tight_layout()
    fig.savefig(args.output, dpi=110)
    return 0


if __name__ == "__main__":
    sys.exit(main())
