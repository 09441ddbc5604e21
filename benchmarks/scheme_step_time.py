#!/usr/bin/env python3
"""What each scheme's quantizer costs per training step of VGG4bit (bf16
products, batch 128, random data): train_step_throughput --scheme S for each
scheme, in alternating rounds so that the machine's drift falls on all alike.
Prints images/s (median and range over the rounds) and the ratio to the
paper's scheme.

  benchmarks/scheme_step_time.py --binary build-bench/benchmarks/train_step_throughput --rounds 3
"""
import argparse
import statistics
import subprocess

SCHEMES = ["paper", "stochastic", "percentile", "lsq", "lsq-a4", "ema-a4", "pact-a4", "pot-soft", "pot-soft-a4"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default="build-bench/benchmarks/train_step_throughput")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--schemes", nargs="+", default=SCHEMES, choices=SCHEMES)
    args = parser.parse_args()
    rates = {s: [] for s in args.schemes}
    for r in range(args.rounds):
        for s in args.schemes:
            out = subprocess.run([args.binary, "--scheme", s, "--arithmetic", "bf16", "--steps", str(args.steps),
                                  "--repeats", "1", "--eval-batches", "0", "--warmup", "2"],
                                 check=True, capture_output=True, text=True).stdout
            rate = next(float(l.split()[1]) for l in out.splitlines() if l.startswith("train_images_per_second"))
            rates[s].append(rate)
            print(f"round {r + 1}: {s:<11} {rate:7.1f} images/s", flush=True)
    base = statistics.median(rates["paper"]) if "paper" in rates else None
    print(f"\n| scheme | images/s (median) | range | vs paper |\n|---|---|---|---|")
    for s in args.schemes:
        m = statistics.median(rates[s])
        ratio = f"{m / base:.2f}" if base else "-"
        print(f"| {s} | {m:.1f} | {min(rates[s]):.1f}–{max(rates[s]):.1f} | {ratio} |")


if __name__ == "__main__":
    main()
