#!/usr/bin/python3
"""VGG4bit (or ResNet-20) training and evaluation speed and memory: PyTorch against nibble.

Both frameworks run the same recipe on random data (no data loading is
timed): VGG4bit for 10 classes (3,251,018 parameters; with --model resnet20
ResNet-20, 273,258, torch_resnet20.py), weights of every
convolution and linear layer fake-quantized to 4 bits on each forward pass
(per-tensor abs-max scale, 15 levels, straight-through gradient), AdamW
(lr 1e-3, weight decay 5e-4), global gradient-norm clip 0.5, tanh clip
3·tanh(W/3) of the weights after each step, batch 128.

Each framework runs in a child process of its own, several times, the two
alternating. A child warms up, then times windows of training steps and
windows of evaluation batches (eval mode, no gradients) and reports the
median window; its peak resident memory is the ru_maxrss that wait4 returns
for it. The table gives the medians over the runs and the ratios of each
column to PyTorch fp32.

Columns: PyTorch fp32, and with --torch-bf16 PyTorch under bf16 autocast
(its convolutions and linear layers in bf16, on oneDNN; AMX where the CPU
has it); nibble with each --arithmetic: fp32, bf16 (AMX tiles where the
CPU has them) and bf16-avx512 (NIBBLE_BF16_KERNEL=avx512: vdpbf16ps only).

    /usr/bin/python3 benchmarks/side_by_side.py [path/to/train_step_throughput]

The nibble side is benchmarks/train_step_throughput.cpp, built by
    cmake -S . -B build-bench -DNIBBLE_NATIVE=ON -DNIBBLE_BUILD_BENCHMARKS=ON
    cmake --build build-bench --target train_step_throughput
Needs PyTorch: run with /usr/bin/python3 on Debian (python3-torch).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_BINARY = REPO / "build-bench" / "benchmarks" / "train_step_throughput"
EXPECTED_PARAMETERS = {"vgg": 3_251_018, "resnet20": 273_258}


# --------------------------------------------------------------------------
# The PyTorch child
# --------------------------------------------------------------------------

def torch_child(args):
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from torch_vgg4bit import vgg4bit, weight_tensors, tanh_clip_
    from torch_resnet20 import resnet20

    model = vgg4bit(10) if args.model == "vgg" else resnet20(10)
    parameters = sum(p.numel() for p in model.parameters())
    weights = weight_tensors(model)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=5e-4)

    x = torch.randn(args.batch_size, 3, 32, 32)
    y = torch.randint(0, 10, (args.batch_size,))

    print(f"torch_version {torch.__version__}")
    print(f"parameters {parameters}")
    print(f"threads {torch.get_num_threads()}")
    print(f"batch_size {args.batch_size}")
    sys.stdout.flush()

    loss = None

    def forward(images):
        if args.autocast:
            with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
                return model(images).float()
        return model(images)

    def train_step():
        nonlocal loss
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(forward(x), y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
        opt.step()
        tanh_clip_(weights)

    model.train()
    for _ in range(args.warmup):
        train_step()
    train_rates = []
    for _ in range(args.windows):
        t0 = time.perf_counter()
        for _ in range(args.steps):
            train_step()
        train_rates.append(args.steps * args.batch_size / (time.perf_counter() - t0))
        print(f"train_window_images_per_second {train_rates[-1]:.2f}")
        sys.stdout.flush()
    print(f"final_train_loss {loss.item():.4f}")

    eval_rates = []
    if args.eval_batches > 0:
        model.eval()
        with torch.no_grad():
            forward(x)
            for _ in range(args.windows):
                t0 = time.perf_counter()
                for _ in range(args.eval_batches):
                    forward(x)
                eval_rates.append(args.eval_batches * args.batch_size / (time.perf_counter() - t0))
                print(f"eval_window_images_per_second {eval_rates[-1]:.2f}")
                sys.stdout.flush()

    print(f"train_images_per_second {statistics.median(train_rates):.2f}")
    if eval_rates:
        print(f"eval_images_per_second {statistics.median(eval_rates):.2f}")
    print(f"peak_rss_mb {vm_hwm_mb():.1f}")
    return 0


def vm_hwm_mb():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


# --------------------------------------------------------------------------
# The parent: runs the children, collects and prints
# --------------------------------------------------------------------------

def run_child(cmd, label, verbose, env=None):
    """Runs cmd, returns its "key value" lines as a dict plus the child's own ru_maxrss."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
    out = proc.stdout.read()
    proc.stdout.close()
    # wait4 rather than communicate(): it returns the resource usage of this
    # child alone (RUSAGE_CHILDREN would be the maximum over all children).
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if verbose:
        sys.stderr.write(out)
    if proc.returncode != 0:
        raise SystemExit(f"{label} failed with exit code {proc.returncode}: {' '.join(map(str, cmd))}\n{out}")
    result = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0].endswith("_version"):
            result[parts[0]] = parts[1]
        elif len(parts) == 2:
            try:
                result[parts[0]] = float(parts[1])
            except ValueError:
                result[parts[0]] = parts[1]
    result["ru_maxrss_mb"] = usage.ru_maxrss / 1024.0  # kilobytes on Linux
    result["wall_seconds"] = time.perf_counter() - t0
    for key in ("train_images_per_second", "parameters"):
        if key not in result:
            raise SystemExit(f"{label} printed no '{key}' line:\n{out}")
    return result


def child_arguments(args):
    return ["--model", args.model, "--warmup", str(args.warmup), "--steps", str(args.steps), "--eval-batches", str(args.eval_batches),
            "--batch-size", str(args.batch_size), "--seed", str(args.seed)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("binary", nargs="?", default=str(DEFAULT_BINARY),
                        help="nibble's train_step_throughput (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each framework, alternated (default 3)")
    parser.add_argument("--threads", type=int, default=2, help="compute threads for both (default 2)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed training steps per run (default 2)")
    parser.add_argument("--steps", type=int, default=4, help="training steps per timed window (default 4)")
    parser.add_argument("--eval-batches", type=int, default=4, help="evaluation batches per window (default 4)")
    parser.add_argument("--windows", type=int, default=3, help="timed windows of each kind per run (default 3)")
    parser.add_argument("--model", choices=["vgg", "resnet20"], default="vgg",
                        help="VGG4bit or ResNet-20, both with 4-bit weights (default vgg)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", choices=["pytorch", "nibble"], help="run one framework only")
    parser.add_argument("--arithmetic", nargs="+", choices=["fp32", "bf16", "bf16-avx512"], default=["fp32", "bf16"],
                        help="nibble's convolution arithmetic, each run as its own column (default: fp32 bf16); "
                             "bf16-avx512 is bf16 kept off the AMX tiles")
    parser.add_argument("--torch-bf16", action="store_true",
                        help="also run PyTorch under bf16 autocast, as a column of its own")
    parser.add_argument("--autocast", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--json", help="also write every run's figures to this file")
    parser.add_argument("--verbose", action="store_true", help="echo the children's output to stderr")
    parser.add_argument("--child", choices=["torch"], help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child == "torch":
        return torch_child(args)

    binary = Path(args.binary)
    if args.only != "pytorch" and not binary.is_file():
        raise SystemExit(f"no nibble binary at {binary}; build it with\n"
                         f"  cmake -S {REPO} -B {REPO / 'build-bench'} -DNIBBLE_NATIVE=ON -DNIBBLE_BUILD_BENCHMARKS=ON\n"
                         f"  cmake --build {REPO / 'build-bench'} --target train_step_throughput\n"
                         f"or pass its path as the first argument")

    common = child_arguments(args)
    torch_command = [sys.executable, str(Path(__file__).resolve()), "--child", "torch", "--threads",
                     str(args.threads), "--windows", str(args.windows)] + common
    commands = {"pytorch": torch_command}
    environments = {}
    if args.torch_bf16:
        commands["pytorch-bf16"] = torch_command + ["--autocast"]
    for a in args.arithmetic:
        commands[f"nibble-{a}"] = [str(binary), "--threads", str(args.threads), "--repeats", str(args.windows),
                                   "--arithmetic", a.split("-")[0]] + common
        if a == "bf16-avx512":
            environments[f"nibble-{a}"] = dict(os.environ, NIBBLE_BF16_KERNEL="avx512")
    frameworks = [f for f in commands if args.only is None or f.startswith(args.only)]
    runs = {f: [] for f in frameworks}
    for r in range(args.repeats):
        # Alternate which one goes first, so slow drifts in background load
        # do not favour either.
        order = frameworks if r % 2 == 0 else frameworks[::-1]
        for f in order:
            res = run_child(commands[f], f, args.verbose, environments.get(f))
            runs[f].append(res)
            sys.stderr.write(f"run {r + 1}/{args.repeats} {f:12s} train {res['train_images_per_second']:8.1f} img/s  "
                             f"eval {res.get('eval_images_per_second', float('nan')):8.1f} img/s  "
                             f"peak RSS {res['ru_maxrss_mb']:7.1f} MB  ({res['wall_seconds']:.0f} s)\n")
            sys.stderr.flush()

    for f, rs in runs.items():
        counts = {int(r["parameters"]) for r in rs}
        if counts != {EXPECTED_PARAMETERS[args.model]}:
            sys.stderr.write(f"warning: {f} reports {sorted(counts)} parameters, "
                             f"expected {EXPECTED_PARAMETERS[args.model]:,}\n")

    def med(f, key):
        values = [r[key] for r in runs.get(f, []) if key in r]
        return statistics.median(values) if values else float("nan")

    rows = [("train images/s", "train_images_per_second", "{:.1f}"),
            ("eval images/s", "eval_images_per_second", "{:.1f}"),
            ("peak RSS MB", "ru_maxrss_mb", "{:.0f}")]
    torch_version = next((r["torch_version"] for r in runs.get("pytorch", []) if "torch_version" in r), "not run")
    params = ", ".join(f"{f} {int(med(f, 'parameters')):,}" for f in frameworks)
    network = "VGG4bit" if args.model == "vgg" else "ResNet-20"
    print(f"\n{network} 4-bit training, batch {args.batch_size}, {args.threads} threads, random data; "
          f"medians of {args.repeats} runs (each the median of {args.windows} windows)")
    print(f"PyTorch {torch_version}; parameters: {params} (expected {EXPECTED_PARAMETERS[args.model]:,})\n")
    nibbles = [f for f in frameworks if f != "pytorch"]  # every column after PyTorch fp32
    print(f"{'':16s} {'PyTorch':>10s}" + "".join(f" {f:>18s} {'ratio':>6s}" for f in nibbles))
    for name, key, fmt in rows:
        a = med("pytorch", key)
        line = f"{name:16s} {fmt.format(a):>10s}"
        for f in nibbles:
            b = med(f, key)
            ratio = b / a if a == a and b == b and a > 0 else float("nan")
            line += f" {fmt.format(b):>18s} {ratio:>6.2f}"
        print(line)
    print("(ratio = the column / PyTorch fp32)")
    if "pytorch-bf16" in runs and "nibble-bf16" in runs:
        key = "train_images_per_second"
        print(f"nibble bf16 / PyTorch bf16 autocast, training: {med('nibble-bf16', key) / med('pytorch-bf16', key):.2f}")
    spread = {f: [round(r["train_images_per_second"], 1) for r in rs] for f, rs in runs.items()}
    print(f"\ntrain images/s per run: {spread}")

    if args.json:
        with open(args.json, "w") as f:
            json.dump({"settings": vars(args), "runs": runs}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
