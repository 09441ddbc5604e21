#!/usr/bin/python3
"""Inference speed of VGG4bit, ResNet-20 or ResNet-8: nibble against PyTorch.

nibble's deployed networks against PyTorch fp32 and PyTorch int8, on the
same cores, in one run. --model picks the network, the same on both sides:
  vgg       VGG4bit (the default)
  resnet20  ResNet-20 (include/nibble/net/resnet20.hpp; projection shortcuts
            with batch norm)
  resnet8   MLPerf Tiny's ResNet-8 (include/nibble/net/resnet8.hpp; its
            projection shortcuts without batch norm)

nibble (benchmarks/inference_throughput.cpp):
  trained  the trained network's eval forward (4-bit weights fake-quantized, fp32)
  w4       deployed, weight-only: 4-bit codes decoded to floats, fp32 products
  w4a8     deployed, integer: u8 activation codes x 4-bit weight codes, int32 sums,
           on the fastest int8 micro-tile the machine has (AMX tiles where the
           CPU and kernel allow them)
  w4a8-vnni  the same on the AVX-512 VNNI micro-tile (NIBBLE_INT8_KERNEL=vnni)
PyTorch (1.13, Debian python3-torch, oneDNN):
  torch-fp32  the float network in eval mode under torch.inference_mode()
              (plain nn.Conv2d and nn.Linear, each with a bias, as nibble's)
  torch-int8  the same network quantized after training (eager-mode static
              quantization: conv+bn(+relu) fused, and VGG4bit's linear+bn; per-channel
              weights, 8-bit activations calibrated on 4 random batches, 'onednn'
              engine; a residual block's sum and ReLU as one quantized add_relu). The child
              stops if the int8 network's top-1 agrees with the float one's on
              less than half of 256 random images (logits less their mean over
              the images: random weights give every image the same raw top-1).

Random data and weights: speed does not depend on them. Each configuration
runs in a child process of its own; the configurations alternate, several
rounds; each child warms up and reports the median of its timed windows.
The table gives the median over rounds and the spread (min-max), and ratios
to PyTorch. With --vnni-peak GOPS (two operations per multiply-add, for the
whole machine: ../shared/tools/peak.cpp or any register-bound vpdpbusd
loop) it also gives the share of that peak the integer network reaches;
one forward is 154.8 M multiply-adds for VGG4bit, 40.8 M for ResNet-20 and
12.5 M for ResNet-8.

    /usr/bin/python3 benchmarks/inference_side_by_side.py [--model vgg|resnet20|resnet8] [--binary PATH]
        [--rounds 3] [--repeats 5] [--batch-sizes 128,1] [--threads 2] [--vnni-peak GOPS]

The nibble side is built by
    cmake -S . -B build-bench -DNIBBLE_NATIVE=ON -DNIBBLE_BUILD_BENCHMARKS=ON
    cmake --build build-bench --target inference_throughput
"""
import argparse
import copy
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
LABELS = {"vgg": "VGG4bit", "resnet20": "ResNet-20", "resnet8": "ResNet-8"}

# The residual networks, stage by stage: (channels, stride of its first block,
# blocks), after a 3x3 convolution of 16 channels on 32x32 images; and whether
# a projection shortcut (1x1 convolution, stride 2) has batch norm.
RESNET_STAGES = {"resnet20": [(16, 1, 3), (32, 2, 3), (64, 2, 3)], "resnet8": [(16, 1, 1), (32, 2, 1), (64, 2, 1)]}
PROJECTION_BATCH_NORM = {"resnet20": True, "resnet8": False}
# The counts nibble's headers give (net/resnet8.hpp, net/resnet20.hpp; VGG4bit
# in docs/benchmarks.md): the layer lists here must reproduce them.
EXPECTED_MULTIPLY_ADDS = {"vgg": 154_866_688, "resnet20": 40_813_184, "resnet8": 12_501_632}


def resnet_blocks(model):
    """(input channels, output channels, stride) of each residual block."""
    cin = 16
    for channels, stride, blocks in RESNET_STAGES[model]:
        for b in range(blocks):
            yield cin, channels, stride if b == 0 else 1
            cin = channels


def multiply_adds_per_image(model):
    """One forward of the network for 10 classes on a 32x32 image."""
    if model == "vgg":
        convs = [(3, 64, 32), (64, 64, 32), (64, 128, 16), (128, 128, 16), (128, 256, 8), (256, 256, 8)]
        total = sum(cout * cin * 9 * side * side for cin, cout, side in convs)
        return total + 4096 * 512 + 512 * 10
    side = 32
    total = 3 * 16 * 9 * side * side
    for cin, cout, stride in resnet_blocks(model):
        side //= stride
        total += (cin * cout * 9 + cout * cout * 9) * side * side
        if stride != 1 or cin != cout:
            total += cin * cout * side * side  # the 1x1 projection
    return total + 64 * 10


# --------------------------------------------------------------------------
# The PyTorch child
# --------------------------------------------------------------------------

def torch_child(args):
    import torch
    import torch.nn as nn

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    quantized_functional = torch.ao.nn.quantized.FloatFunctional

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

        def fusion_groups(self):
            groups = [[f"features.{i}", f"features.{i + 1}", f"features.{i + 2}"]
                      for i in range(len(self.features)) if isinstance(self.features[i], nn.Conv2d)]
            return groups + [["fc1", "bn1"]]  # 1.13 fuses linear+bn1d, not with the relu after it

    class ResidualBlock(nn.Module):
        """relu(shortcut(x) + bn(conv(relu(bn(conv(x)))))), the first conv at stride."""

        def __init__(self, cin, cout, stride, projection_batch_norm):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1)
            self.bn1 = nn.BatchNorm2d(cout)
            self.relu1 = nn.ReLU()
            self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
            self.bn2 = nn.BatchNorm2d(cout)
            self.shortcut = nn.Identity()
            if stride != 1 or cin != cout:
                norm = [nn.BatchNorm2d(cout)] if projection_batch_norm else []
                self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride), *norm)
            # Observes the sum's range in calibration; becomes one quantized add_relu.
            self.sum = quantized_functional()

        def forward(self, x):
            body = self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))
            return self.sum.add_relu(body, self.shortcut(x))

        def fusion_groups(self, prefix):
            groups = [[f"{prefix}conv1", f"{prefix}bn1", f"{prefix}relu1"], [f"{prefix}conv2", f"{prefix}bn2"]]
            if isinstance(self.shortcut, nn.Sequential) and len(self.shortcut) == 2:
                groups.append([f"{prefix}shortcut.0", f"{prefix}shortcut.1"])
            return groups

    class ResNet(nn.Module):
        def __init__(self, model):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU())
            self.blocks = nn.Sequential(*[ResidualBlock(cin, cout, stride, PROJECTION_BATCH_NORM[model])
                                          for cin, cout, stride in resnet_blocks(model)])
            self.pool = nn.AvgPool2d(8)  # global: the last stage is 8x8
            self.fc = nn.Linear(64, 10)
            self.quant = torch.ao.quantization.QuantStub()
            self.dequant = torch.ao.quantization.DeQuantStub()

        def forward(self, x):
            x = self.blocks(self.stem(self.quant(x)))
            return self.dequant(self.fc(torch.flatten(self.pool(x), 1)))

        def fusion_groups(self):
            groups = [["stem.0", "stem.1", "stem.2"]]
            for i, b in enumerate(self.blocks):
                groups += b.fusion_groups(f"blocks.{i}.")
            return groups

    model = (VGG() if args.model == "vgg" else ResNet(args.model)).eval()
    x = torch.randn(args.batch_size, 3, 32, 32)
    if args.kind == "torch-int8":
        # Calibration and check images of their own: the same at every batch size.
        images = torch.Generator().manual_seed(args.seed)
        float_model = copy.deepcopy(model)
        torch.backends.quantized.engine = "onednn"
        model = torch.ao.quantization.fuse_modules(model, model.fusion_groups())
        model.qconfig = torch.ao.quantization.get_default_qconfig("onednn")
        torch.ao.quantization.prepare(model, inplace=True)
        with torch.inference_mode():
            for _ in range(4):
                model(torch.randn(32, 3, 32, 32, generator=images))
        torch.ao.quantization.convert(model, inplace=True)
        # A network that runs fast but computes something else (a block
        # wired wrongly, a scale badly calibrated) would make the timing moot.
        agreement = top1_agreement(float_model, model, torch.randn(256, 3, 32, 32, generator=images))
        if agreement < 0.5:
            raise SystemExit(f"torch int8 {args.model} agrees with fp32 on {100 * agreement:.0f} % of top-1 only")

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


def top1_agreement(float_model, int8_model, images):
    """The share of images on which both networks pick the same class, from
    logits less their mean over the images: a random network's raw top-1 is
    one class for nearly every image (the classifier's bias outweighs what
    depends on the image), which would agree whatever int8 computed."""
    import torch

    with torch.inference_mode():
        a, b = float_model(images), int8_model(images)
    return ((a - a.mean(0)).argmax(1) == (b - b.mean(0)).argmax(1)).float().mean().item()


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
    p.add_argument("--model", choices=list(LABELS), default="vgg")
    p.add_argument("--binary", type=Path, default=DEFAULT_BINARY)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch-sizes", default="128,1")
    p.add_argument("--vnni-peak", type=float, default=0.0, help="int8 peak of the machine in GOP/s")
    p.add_argument("--child", choices=TORCH_KINDS, help=argparse.SUPPRESS)
    p.add_argument("--batch-size", type=int, default=128, help=argparse.SUPPRESS)
    p.add_argument("--batches", type=int, default=5, help=argparse.SUPPRESS)
    p.add_argument("--repeats", type=int, default=5, help="timed windows in each child (their median is its figure)")
    p.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        args.kind = args.child
        return torch_child(args)
    macs = multiply_adds_per_image(args.model)
    assert macs == EXPECTED_MULTIPLY_ADDS[args.model], (args.model, macs)
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
                    cmd = [str(args.binary), "--model", args.model, "--kind", base, "--batch-size", str(batch),
                           "--batches", str(batches), "--repeats", str(args.repeats), "--threads", str(args.threads)]
                    if kernel:
                        env = dict(os.environ, NIBBLE_INT8_KERNEL=kernel)
                else:
                    cmd = [sys.executable, __file__, "--child", kind, "--model", args.model, "--batch-size", str(batch),
                           "--batches", str(batches), "--repeats", str(args.repeats), "--threads", str(args.threads)]
                rate = run_child(cmd, env)
                results.setdefault((batch, kind), []).append(rate)
                print(f"batch {batch:4d}  round {r + 1}  {kind:11s} {rate:9.1f} images/s", file=sys.stderr)

    print(f"\n{LABELS[args.model]} inference, images/s: median of {args.rounds} alternating rounds (min-max), "
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
