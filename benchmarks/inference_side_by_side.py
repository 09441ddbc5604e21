#!/usr/bin/python3
"""VGG4bit inference speed: nibble's deployed networks against PyTorch fp32
and PyTorch int8, on the same cores, in one run.

nibble (benchmarks/inference_throughput.cpp):
  trained  the trained network's eval forward (4-bit weights fake-quantized, fp32)
  w4       deployed, weight-only: 4-bit codes decoded to floats, fp32 products
  w4a8     deployed, integer: u8 activation codes x 4-bit weight codes, int32 sums,
           on the fastest int8 micro-tile the machine has (AMX tiles where the
           CPU and kernel allow them)
  w4a8-vnni  the same on the AVX-512 VNNI micro-tile (NIBBLE_INT8_KERNEL=vnni)
PyTorch (1.13, Debian python3-torch, oneDNN):
  torch-fp32  the float VGG4bit in eval mode under torch.inference_mode()
  torch-int8  the same network quantized after training (eager-mode static
              quantization: conv+bn+relu and linear+bn fused, per-channel weights, 8-bit
              activations calibrated on 4 random batches, 'onednn' engine)

Random data and weights: speed does not depend on them. Each configuration
runs in a child process of its own; the configurations alternate, several
rounds; each child warms up and reports the median of its timed windows.
The table gives the median over rounds and the spread (min-max), and ratios
to PyTorch. With --vnni-peak GOPS (two operations per multiply-add, for the
whole machine: ../shared/tools/peak.cpp or any register-bound vpdpbusd
loop) it also gives the share of that peak the integer network reaches;
one VGG4bit forward is 154.8 M multiply-adds.

    /usr/bin/python3 benchmarks/inference_side_by_side.py [--binary PATH] [--rounds 3]

The nibble side is built by
    cmake -S . -B build-bench -DNIBBLE_NATIVE=ON -DNIBBLE_BUILD_BENCHMARKS=ON
    cmake --build build-bench --target inference_throughput
"""
import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_BINARY = REPO / "build-bench" / "benchmarks" / "inference_throughput"
NIBBLE_KINDS = ["trained", "w4", "w4a8", "w4a8-vnni"]
TORCH_KINDS = ["torch-fp32", "torch-int8"]


def multiply_adds_per_image():
    """VGG4bit for 10 classes on 32x32 images."""
    convs = [(3, 64, 32), (64, 64, 32), (64, 128, 16), (128, 128, 16), (128, 256, 8), (256, 256, 8)]
    total = sum(cout * cin * 9 * side * side for cin, cout, side in convs)
    return total + 4096 * 512 + 512 * 10


# --------------------------------------------------------------------------
# The PyTorch child
# --------------------------------------------------------------------------

def torch_child(args):
    import torch
    import torch.nn as nn

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    def block(cin, cout):
        return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU()]

    class VGG(nn.Module):
        def __init__(self):
            super().__init__()
            layers = []
            for cin, cout in [(3, 64), (64, 128), (128, 256)]:
                layers += block(cin, cout) + block(cout, cout) + [nn.MaxPool2d(2)]
            self.features = nn.Sequential(*layers)
            self.fc1 = nn.Linear(4096, 512)
            self.bn1 = nn.BatchNorm1d(512)
            self.relu1 = nn.ReLU()
            self.fc2 = nn.Linear(512, 10)
            self.quant = torch.ao.quantization.QuantStub()
            self.dequant = torch.ao.quantization.DeQuantStub()

        def forward(self, x):
            x = self.quant(x)
            x = self.features(x)
            x = torch.flatten(x, 1)
            x = self.relu1(self.bn1(self.fc1(x)))
            return self.dequant(self.fc2(x))

    model = VGG().eval()
    x = torch.randn(args.batch_size, 3, 32, 32)
    if args.kind == "torch-int8":
        torch.backends.quantized.engine = "onednn"
        groups = [[f"features.{i}", f"features.{i + 1}", f"features.{i + 2}"]
                  for i in range(0, len(model.features), 1) if isinstance(model.features[i], nn.Conv2d)]
        groups.append(["fc1", "bn1"])  # 1.13 fuses linear+bn1d, not with the relu after it
        model = torch.ao.quantization.fuse_modules(model, groups)
        model.qconfig = torch.ao.quantization.get_default_qconfig("onednn")
        torch.ao.quantization.prepare(model, inplace=True)
        with torch.inference_mode():
            for _ in range(4):
                model(torch.randn(32, 3, 32, 32))
        torch.ao.quantization.convert(model, inplace=True)

    print(f"torch_version {torch.__version__}")
    print(f"threads {torch.get_num_threads()}")
    sys.stdout.flush()
    rates = []
    with torch.inference_mode():
        model(x)
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            for _ in range(args.batches):
                model(x)
            rates.append(args.batches * args.batch_size / (time.perf_counter() - t0))
            print(f"window_images_per_second {rates[-1]:.2f}")
            sys.stdout.flush()
    print(f"images_per_second {statistics.median(rates):.2f}")
    return 0


# --------------------------------------------------------------------------
# The parent
# --------------------------------------------------------------------------

KERNELS_SEEN = set()


def run_child(cmd, env=None):
    out = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=False, env=env)
    if out.returncode != 0:
        raise SystemExit(f"failed with exit code {out.returncode}: {' '.join(map(str, cmd))}\n{out.stdout}")
    for line in out.stdout.splitlines():
        key, _, value = line.partition(" ")
        if key == "int8_kernel":
            KERNELS_SEEN.add(value)
        if key == "images_per_second":
            return float(value)
    raise SystemExit(f"no images_per_second in the output of {' '.join(map(str, cmd))}")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--binary", type=Path, default=DEFAULT_BINARY)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch-sizes", default="128,1")
    p.add_argument("--vnni-peak", type=float, default=0.0, help="int8 peak of the machine in GOP/s")
    p.add_argument("--child", choices=TORCH_KINDS, help=argparse.SUPPRESS)
    p.add_argument("--batch-size", type=int, default=128, help=argparse.SUPPRESS)
    p.add_argument("--batches", type=int, default=5, help=argparse.SUPPRESS)
    p.add_argument("--repeats", type=int, default=5, help=argparse.SUPPRESS)
    p.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        args.kind = args.child
        return torch_child(args)
    if not args.binary.exists():
        raise SystemExit(f"{args.binary} does not exist; build it as this script's docstring says")

    results = {}
    for batch in [int(b) for b in args.batch_sizes.split(",")]:
        # About a second of work per window at either batch size.
        batches = max(1, 256 // batch) if batch > 1 else 64
        for r in range(args.rounds):
            for kind in NIBBLE_KINDS + TORCH_KINDS:
                env = None
                if kind in NIBBLE_KINDS:
                    base, _, kernel = kind.partition("-")
                    cmd = [str(args.binary), "--kind", base, "--batch-size", str(batch), "--batches", str(batches),
                           "--threads", str(args.threads)]
                    if kernel:
                        env = dict(os.environ, NIBBLE_INT8_KERNEL=kernel)
                else:
                    cmd = [sys.executable, __file__, "--child", kind, "--batch-size", str(batch),
                           "--batches", str(batches), "--threads", str(args.threads)]
                rate = run_child(cmd, env)
                results.setdefault((batch, kind), []).append(rate)
                print(f"batch {batch:4d}  round {r + 1}  {kind:11s} {rate:9.1f} images/s", file=sys.stderr)

    macs = multiply_adds_per_image()
    print(f"\nVGG4bit inference, images/s: median of {args.rounds} alternating rounds (min-max), "
          f"{args.threads} threads; nibble's int8 micro-tiles: {', '.join(sorted(KERNELS_SEEN))}")
    print(f"| batch | configuration | images/s | spread | vs torch fp32 | vs torch int8 |"
          + (" share of VNNI peak |" if args.vnni_peak else ""))
    print("|---|---|---|---|---|---|" + ("---|" if args.vnni_peak else ""))
    for batch in [int(b) for b in args.batch_sizes.split(",")]:
        f32 = statistics.median(results[(batch, "torch-fp32")])
        i8 = statistics.median(results[(batch, "torch-int8")])
        for kind in NIBBLE_KINDS + TORCH_KINDS:
            v = results[(batch, kind)]
            m = statistics.median(v)
            row = (f"| {batch} | {kind} | {m:.1f} | {min(v):.1f}-{max(v):.1f} | {m / f32:.2f}x | {m / i8:.2f}x |")
            if args.vnni_peak:
                share = 2 * macs * m / (args.vnni_peak * 1e9)
                row += f" {100 * share:.1f} % |" if kind.startswith("w4a8") or kind == "torch-int8" else " |"
            print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
