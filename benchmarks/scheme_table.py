#!/usr/bin/python3
"""The INT8 / INT4 / FP32 report as one table: for each model file, its size
on disk, its CIFAR test accuracy and its inference images/s, all three read
from `cifar_model evaluate` (examples/cifar_model.cpp) on the test set.

    /usr/bin/python3 benchmarks/scheme_table.py --data DIR \\
        W32A32=fp32.nibble W8A8=w8a8.nibble W4A8=w4a8.nibble W4A4=w4a4.nibble W4=w4.nibble

Each LABEL=FILE is a model file written by `cifar_model export`. The files
are evaluated in alternating rounds (the machine is noisy); the table gives
the median images/s over rounds and the spread (min-max). The accuracy must
be the same in every round (the networks are deterministic), else the script
stops. Ratios are to the first model given. Say in the report how each
network was trained: this script only measures what the files hold.
"""
import argparse
import re
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_TOOL = REPO / "build" / "examples" / "cifar_model"

SIZE = re.compile(r"^\s+(\d+) bytes", re.M)
ACCURACY = re.compile(r"test accuracy ([\d.]+)% \((\d+) of (\d+) images\), (\d+) images/s at batch (\d+) on (\d+) threads")


def evaluate(tool, model, data, batch_size):
    cmd = [str(tool), "evaluate", str(model), "--batch-size", str(batch_size)]
    if data:
        cmd += ["--data", str(data)]
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"failed with exit code {out.returncode}: {' '.join(cmd)}\n{out.stdout}")
    size, acc = SIZE.search(out.stdout), ACCURACY.search(out.stdout)
    if not size or not acc:
        raise SystemExit(f"unexpected output of {' '.join(cmd)}:\n{out.stdout}")
    return {"bytes": int(size.group(1)), "accuracy": float(acc.group(1)), "correct": int(acc.group(2)),
            "images": int(acc.group(3)), "rate": float(acc.group(4)), "threads": int(acc.group(6))}


def parse_model(text):
    label, sep, path = text.partition("=")
    if not sep or not label or not path:
        raise argparse.ArgumentTypeError(f"expected LABEL=FILE, got {text!r}")
    if not Path(path).is_file():
        raise argparse.ArgumentTypeError(f"{path} is not a file")
    return label, Path(path)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="+", type=parse_model, metavar="LABEL=FILE")
    p.add_argument("--cifar-model", type=Path, default=DEFAULT_TOOL, help="the cifar_model program")
    p.add_argument("--data", type=Path, help="CIFAR folder (default: cifar_model's, env NIBBLE_DATA)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=128)
    args = p.parse_args()
    if not args.cifar_model.exists():
        raise SystemExit(f"{args.cifar_model} does not exist; build the examples (cmake --build build)")

    runs = {label: [] for label, _ in args.models}
    for r in range(args.rounds):
        for label, path in args.models:
            m = evaluate(args.cifar_model, path, args.data, args.batch_size)
            if runs[label] and m["correct"] != runs[label][0]["correct"]:
                raise SystemExit(f"{label}: {m['correct']} correct in round {r + 1}, "
                                 f"{runs[label][0]['correct']} before: the network is not deterministic")
            runs[label].append(m)
            print(f"round {r + 1}  {label:8s} {m['accuracy']:6.2f}%  {m['rate']:8.0f} images/s", file=sys.stderr)

    first = args.models[0][0]
    base_bytes = runs[first][0]["bytes"]
    base_rate = statistics.median(m["rate"] for m in runs[first])
    threads = runs[first][0]["threads"]
    print(f"\nCIFAR test set, {runs[first][0]['images']} images; images/s at batch {args.batch_size} on {threads} "
          f"threads, median of {args.rounds} alternating rounds (min-max); ratios to {first}")
    print("| scheme | model file | size | vs " + first + " | test accuracy | images/s | spread | vs " + first + " |")
    print("|---|---|---|---|---|---|---|---|")
    for label, path in args.models:
        ms = runs[label]
        rates = [m["rate"] for m in ms]
        rate = statistics.median(rates)
        size = ms[0]["bytes"]
        print(f"| {label} | {path.name} | {size / 1e6:.2f} MB | {size / base_bytes:.3f}x | {ms[0]['accuracy']:.2f} % | "
              f"{rate:,.0f} | {min(rates):,.0f}-{max(rates):,.0f} | {rate / base_rate:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
