#!/usr/bin/python3
"""Trains VGG4bit (or SimpleResNet4bit, or FastVGG) with the paper's recipe or the fast one in
PyTorch, on the same CIFAR-10 binary files nibble reads, and writes
per-epoch metrics in nibble's CSV columns, so the two test-accuracy curves
can be laid over each other (scripts/plot_metrics.py). It is the check that
nibble's training has no defect that would hide in its own tests.

The recipe, as train_cifar10 runs it: 4-bit weights (torch_vgg4bit.py;
torch_simple_resnet4bit.py with --model resnet),
AdamW (lr 1e-3, weight decay 5e-4), global gradient-norm clip 0.5, tanh
clip after each step, cosine annealing over T_MAX epochs stepped per epoch,
batch 128 (the last batch of an epoch smaller), random crop 32 with zero
padding 4 and horizontal flip, per-channel normalisation.

The fast recipe (--recipe fast), as train_cifar10 --recipe fast runs it:
SGD with Nesterov momentum 0.9 (constant) and L2 decay 5e-4 on every
parameter, batch 128, a one-cycle rate stepped per batch (cosine from
lr/25 up to lr over the first quarter, down to lr/2.5e5 at the end), no
gradient clip, label smoothing 0.1, and the test pass averaging the logits
of each image and its mirror image (test_accuracy; the plain images'
accuracy is printed beside it). --bits 32 keeps the weights float (no
quantizer, no tanh clip) as train_cifar10 --bits 32 does. --stop-after N
ends the run after N epochs of the --epochs-long schedule, for comparing
the first epochs of a long cycle.

    /usr/bin/python3 benchmarks/pytorch_reference_training.py --data DIR --epochs 10 --metrics torch.csv \
        [--model vgg|resnet|fast-vgg] [--bits 4|32] [--recipe paper|fast] [--stop-after N] \
        [--checkpoint torch.ckpt [--resume]]
With --checkpoint the state (model, optimizer, random generators, the rows
so far) is saved atomically after every epoch, and --resume continues from
it, so a run can outlast a session. Needs PyTorch: python3-torch on Debian (scripts/setup-debian.sh --benchmarks).
"""
import argparse
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from torch_fast_vgg import fast_vgg  # noqa: E402
from torch_simple_resnet4bit import simple_resnet4bit  # noqa: E402
from torch_vgg4bit import vgg4bit, weight_tensors, tanh_clip_  # noqa: E402

MEAN = np.array([0.4914, 0.4822, 0.4465], dtype=np.float32).reshape(1, 3, 1, 1)
STD = np.array([0.2023, 0.1994, 0.2010], dtype=np.float32).reshape(1, 3, 1, 1)
RECORD = 3073


def read_cifar10(folder, names):
    raw = b"".join((Path(folder) / n).read_bytes() for n in names)
    if len(raw) % RECORD:
        raise SystemExit(f"{folder}: not whole CIFAR-10 records")
    records = np.frombuffer(raw, dtype=np.uint8).reshape(-1, RECORD)
    return records[:, 1:].reshape(-1, 3, 32, 32), records[:, 0].astype(np.int64)


def normalise(images):
    return torch.from_numpy((images.astype(np.float32) / 255.0 - MEAN) / STD)


def augment(images, rng):
    """Zero-padded (black pixels) random crop and horizontal flip, in pixel space."""
    n = len(images)
    padded = np.zeros((n, 3, 40, 40), dtype=np.uint8)
    padded[:, :, 4:36, 4:36] = images
    dy = rng.integers(0, 9, n)
    dx = rng.integers(0, 9, n)
    out = np.empty_like(images)
    flip = rng.integers(0, 2, n).astype(bool)
    for i in range(n):
        crop = padded[i, :, dy[i]:dy[i] + 32, dx[i]:dx[i] + 32]
        out[i] = crop[:, :, ::-1] if flip[i] else crop
    return out


def evaluate(model, images, labels, batch_size, flip=False):
    """(accuracy, loss, plain accuracy): with flip the logits of each image and its mirror image averaged."""
    model.eval()
    correct, plain_correct, loss = 0, 0, 0.0
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            x = normalise(images[start:start + batch_size])
            y = torch.from_numpy(labels[start:start + batch_size])
            plain = model(x)
            logits = 0.5 * (plain + model(x.flip(-1))) if flip else plain
            loss += F.cross_entropy(logits, y, reduction="sum").item()
            correct += (logits.argmax(1) == y).sum().item()
            plain_correct += (plain.argmax(1) == y).sum().item()
    return correct / len(images), loss / len(images), plain_correct / len(images)


def one_cycle_lr(max_lr, epoch, total_epochs, rise=0.25, div=25.0, final_div=1e4):
    """nibble's one_cycle_schedule (include/nibble/train/schedule.hpp) at fractional epoch t."""
    start = max_lr / div
    end, peak = start / final_div, rise * total_epochs

    def along_cosine(a, b, f):
        return b + (a - b) * (1 + math.cos(math.pi * min(max(f, 0.0), 1.0))) / 2

    if epoch < peak:
        return along_cosine(start, max_lr, epoch / peak)
    return along_cosine(max_lr, end, (epoch - peak) / max(total_epochs - peak, 1e-9))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="folder with the CIFAR-10 binary files")
    parser.add_argument("--model", choices=["vgg", "resnet", "fast-vgg"], default="vgg",
                        help="VGG4bit, SimpleResNet4bit or FastVGG, as train_cifar10 --model")
    parser.add_argument("--bits", type=int, choices=[4, 32], default=4,
                        help="4: the paper's weights; 32: float weights (fast-vgg only)")
    parser.add_argument("--recipe", choices=["paper", "fast"], default="paper")
    parser.add_argument("--epochs", type=int, default=10, help="the schedule's length in epochs")
    parser.add_argument("--stop-after", type=int, help="stop after this many epochs of the schedule")
    parser.add_argument("--t-max", type=float, default=100.0, help="cosine period in epochs (default 100)")
    parser.add_argument("--lr", type=float, help="peak learning rate (paper 1e-3, fast 0.1)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--metrics", required=True, help="CSV file to write (nibble's columns)")
    parser.add_argument("--checkpoint", help="save the run's state here after every epoch")
    parser.add_argument("--resume", action="store_true", help="continue from --checkpoint if it exists")
    args = parser.parse_args()
    if args.bits == 32 and args.model != "fast-vgg":
        parser.error("--bits 32 is built for --model fast-vgg only")
    fast = args.recipe == "fast"
    if args.lr is None:
        args.lr = 0.1 if fast else 1e-3

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    train_x, train_y = read_cifar10(args.data, [f"data_batch_{i}.bin" for i in range(1, 6)])
    test_x, test_y = read_cifar10(args.data, ["test_batch.bin"])
    if args.model == "fast-vgg":
        model = fast_vgg(10, args.bits)
    else:
        model = vgg4bit(10) if args.model == "vgg" else simple_resnet4bit(10)
    weights = weight_tensors(model) if args.bits == 4 else []  # float weights are not clipped
    if fast:
        opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, nesterov=True, weight_decay=5e-4)
    else:
        opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=5e-4)
    print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{sum(p.numel() for p in model.parameters()):,} parameters, "
          f"{len(train_x)} training and {len(test_x)} test images", flush=True)

    header = ("epoch,learning_rate,train_loss,train_accuracy,test_loss,test_accuracy,seconds,"
              "train_images_per_second,eval_images_per_second\n")
    rows, first_epoch = [], 0
    if args.resume and args.checkpoint and os.path.exists(args.checkpoint):
        state = torch.load(args.checkpoint)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["torch_rng"])
        rng.bit_generator.state = state["numpy_rng"]
        rows, first_epoch = state["rows"], state["epoch"]
        print(f"resumed from {args.checkpoint} after epoch {first_epoch}", flush=True)

    def write_atomically(path, write):
        tmp = f"{path}.tmp"
        write(tmp)
        os.replace(tmp, path)

    last_epoch = min(args.epochs, args.stop_after or args.epochs)
    batches = math.ceil(len(train_x) / args.batch_size)
    for epoch in range(first_epoch, last_epoch):
        lr = args.lr * 0.5 * (1 + math.cos(math.pi * epoch / args.t_max))
        for group in opt.param_groups:
            group["lr"] = lr
        model.train()
        start = time.perf_counter()
        order = rng.permutation(len(train_x))
        loss_sum, correct = 0.0, 0
        for b in range(0, len(order), args.batch_size):
            if fast:  # stepped per batch
                lr = one_cycle_lr(args.lr, epoch + b // args.batch_size / batches, args.epochs)
                for group in opt.param_groups:
                    group["lr"] = lr
            idx = order[b:b + args.batch_size]
            x = normalise(augment(train_x[idx], rng))
            y = torch.from_numpy(train_y[idx])
            opt.zero_grad(set_to_none=True)
            logits = model(x)
            loss = F.cross_entropy(logits, y, label_smoothing=0.1 if fast else 0.0)
            loss.backward()
            if not fast:
                torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
            opt.step()
            tanh_clip_(weights)
            loss_sum += loss.item() * len(idx)
            correct += (logits.argmax(1) == y).sum().item()
        train_seconds = time.perf_counter() - start
        eval_start = time.perf_counter()
        test_acc, test_loss, plain_acc = evaluate(model, test_x, test_y, args.batch_size, flip=fast)
        eval_seconds = time.perf_counter() - eval_start
        n = len(train_x)
        rows.append(f"{epoch + 1},{lr:.6g},{loss_sum / n:.6f},{correct / n:.4f},{test_loss:.6f},{test_acc:.4f},"
                    f"{train_seconds + eval_seconds:.2f},{n / train_seconds:.1f},{len(test_x) / eval_seconds:.1f}\n")
        if args.checkpoint:
            write_atomically(args.checkpoint, lambda f: torch.save(
                {"model": model.state_dict(), "optimizer": opt.state_dict(), "torch_rng": torch.get_rng_state(),
                 "numpy_rng": rng.bit_generator.state, "rows": rows, "epoch": epoch + 1}, f))

        def write_rows(f):
            with open(f, "w") as out:
                out.write(header + "".join(rows))

        write_atomically(args.metrics, write_rows)
        print(f"epoch {epoch + 1}/{args.epochs}  lr {lr:.3g}  train loss {loss_sum / n:.4f} "
              f"acc {100 * correct / n:.2f}%  test loss {test_loss:.4f} acc {100 * test_acc:.2f}%"
              f"{f' (plain {100 * plain_acc:.2f}%)' if fast else ''}  {n / train_seconds:.0f} img/s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
