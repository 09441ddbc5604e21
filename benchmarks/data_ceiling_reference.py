#!/usr/bin/python3
"""Runs a published fast CIFAR-10 method in PyTorch on the CIFAR-10 copy given,
to measure what that copy of the data costs in test accuracy.

The method is airbench94's (Keller Jordan, 2024: 94.01 % mean test accuracy
over 1,000 runs in 9.9 epochs on the official CIFAR-10 release), written
here from its description: a 2×2 patch-whitening first convolution (frozen
weights, from the eigenvectors of the training patches' covariance), three
blocks of (conv, 2×2 max-pool, batch norm, GELU, conv, batch norm, GELU) of
64, 256 and 256 channels with identity-initialised kernels, batch norm
without a learned scale, a 3×3 max-pool, a linear classifier scaled by 1/9;
Nesterov SGD at batch 1024 with a triangular rate, 64× the rate for the
batch-norm shifts, label smoothing 0.2, a lookahead average of the weights
from epoch 3, random two-pixel translation (reflected border) and
alternating flips; the test averages the logits of six views (the image,
its mirror, and both shifted one pixel up-left and down-right).

A copy that scores near 94 % here is as good as the official one; every
point below it is what the copy costs every recipe, nibble's included.

    /usr/bin/python3 benchmarks/data_ceiling_reference.py --data DIR [--metrics FILE] [--seed 0] [--threads 2] [--bf16] [--weight-bits 4] [--epochs 9.9]

Writes one CSV row per epoch (epoch, train_loss, train_accuracy of the last
batch, test_accuracy on plain images, seconds), then prints the six-view
test accuracy. Needs PyTorch: python3-torch on Debian
(scripts/setup-debian.sh --benchmarks).
"""
import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pytorch_reference_training import read_cifar10  # noqa: E402
from torch_vgg4bit import fake_quantize  # noqa: E402

EPOCHS = 9.9  # the method's; --epochs stretches the schedule
BATCH = 1024
# Rates in the decoupled form of the method: per 1,024 examples, independent
# of momentum; converted to torch's SGD parameters in main().
LR, MOMENTUM, WEIGHT_DECAY, BIAS_LR_FACTOR = 11.5, 0.85, 0.0153, 64.0
LABEL_SMOOTHING = 0.2
BN_KEEP = 0.6  # running statistics keep 0.6 of their old value per batch
LOOKAHEAD_START_EPOCH, LOOKAHEAD_EVERY, LOOKAHEAD_BASE, LOOKAHEAD_POWER = 3, 5, 0.95, 3.0
WHITEN_BIAS_EPOCHS = 3
MEAN = torch.tensor([0.4914, 0.4822, 0.4465]).view(1, 3, 1, 1)
STD = torch.tensor([0.2470, 0.2435, 0.2616]).view(1, 3, 1, 1)


def shift_norm(channels):
    """Batch norm whose scale stays 1: only the shift is learned."""
    bn = nn.BatchNorm2d(channels, eps=1e-12, momentum=1.0 - BN_KEEP)
    bn.weight.requires_grad_(False)
    return bn


class QuantConv(nn.Conv2d):
    """A convolution whose weights are fake-quantized to 4 bits as nibble's
    paper scheme does (abs-max per tensor, 15 levels, straight-through)."""
    def forward(self, x):
        return F.conv2d(x, fake_quantize(self.weight), None, self.stride, self.padding)


class QuantLinear(nn.Linear):
    def forward(self, x):
        return F.linear(x, fake_quantize(self.weight))


def block_conv(c_in, c_out, bits):
    conv = (QuantConv if bits == 4 else nn.Conv2d)(c_in, c_out, 3, padding=1, bias=False)
    if bits == 4:
        # Not with an abs-max scale: the identity's ones would set the scale
        # and round every other initial weight to zero.
        return conv
    with torch.no_grad():
        # The first c_in filters pass their input channel through: each
        # block starts close to an identity, as a residual path would.
        nn.init.dirac_(conv.weight[:c_in])
    return conv


class Block(nn.Module):
    def __init__(self, c_in, c_out, bits):
        super().__init__()
        self.conv1, self.norm1 = block_conv(c_in, c_out, bits), shift_norm(c_out)
        self.conv2, self.norm2 = block_conv(c_out, c_out, bits), shift_norm(c_out)

    def forward(self, x):
        x = F.gelu(self.norm1(F.max_pool2d(self.conv1(x), 2)))
        return F.gelu(self.norm2(self.conv2(x)))


class Net(nn.Module):
    def __init__(self, bits=32):
        super().__init__()
        self.whiten = nn.Conv2d(3, 24, 2, bias=True)
        self.whiten.weight.requires_grad_(False)
        self.blocks = nn.Sequential(Block(24, 64, bits), Block(64, 256, bits), Block(256, 256, bits))
        self.classifier = (QuantLinear if bits == 4 else nn.Linear)(256, 10, bias=False)

    def forward(self, x):
        x = self.blocks(F.gelu(self.whiten(x)))
        return self.classifier(F.max_pool2d(x, 3).flatten(1)) / 9.0


def init_whitening(conv, images, bits, eps=5e-4):
    """Sets the 2×2 filters to the covariance eigenvectors of the images'
    patches, each divided by the square root of its eigenvalue, and their
    negatives: the first layer's outputs start decorrelated with unit variance."""
    patches = images.unfold(2, 2, 1).unfold(3, 2, 1)  # n, c, 31, 31, 2, 2
    flat = patches.permute(0, 2, 3, 1, 4, 5).reshape(-1, 12).double()
    covariance = flat.T @ flat / len(flat)
    values, vectors = torch.linalg.eigh(covariance)
    filters = (vectors.T / torch.sqrt(values + eps).unsqueeze(1)).reshape(12, 3, 2, 2).float()
    if bits == 4:
        # The frozen filters' norms differ by the eigenvalues' spread, so
        # each is quantized on its own scale (15 levels per output channel).
        top = filters.abs().amax(dim=(1, 2, 3), keepdim=True) / 7
        filters = torch.round(filters / top).clamp(-7, 7) * top
    with torch.no_grad():
        conv.weight.copy_(torch.cat([filters, -filters]))
        conv.bias.zero_()


def translate_batch(padded, rng, pad=2):
    """A random crop of 32×32 out of each padded image."""
    n = len(padded)
    out = torch.empty(n, 3, 32, 32)
    dy, dx = rng.integers(0, 2 * pad + 1, n), rng.integers(0, 2 * pad + 1, n)
    for i in range(n):
        out[i] = padded[i, :, dy[i]:dy[i] + 32, dx[i]:dx[i] + 32]
    return out


def six_view_logits(model, x):
    def mirrored(v):
        return 0.5 * (model(v) + model(v.flip(-1)))
    padded = F.pad(x, (1, 1, 1, 1), mode="reflect")
    shifted = 0.5 * (mirrored(padded[:, :, 0:32, 0:32]) + mirrored(padded[:, :, 2:34, 2:34]))
    return 0.5 * mirrored(x) + 0.5 * shifted


def test_accuracy(model, images, labels, views=False, bf16=False):
    model.eval()
    correct = 0
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        for s in range(0, len(images), 1000):
            x = images[s:s + 1000]
            logits = six_view_logits(model, x) if views else model(x)
            correct += (logits.argmax(1) == labels[s:s + 1000]).sum().item()
    model.train()
    return correct / len(images)


def load_average(model, average):
    """Copies the lookahead average into the model's weights and statistics."""
    state = model.state_dict()
    for k, v in average.items():
        state[k].copy_(v)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="folder with the CIFAR-10 binary files")
    parser.add_argument("--metrics", help="CSV file for the per-epoch rows")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epochs", type=float, default=EPOCHS,
                        help=f"the schedule's length (default {EPOCHS}, the method's)")
    parser.add_argument("--weight-bits", type=int, choices=[4, 32], default=32,
                        help="4: every weight 4-bit as nibble's paper scheme quantizes it (the frozen first "
                             "layer per output channel, the rest per tensor, and no identity init); "
                             "32: float, as the method")
    parser.add_argument("--bf16", action="store_true",
                        help="convolutions and products in bf16 under autocast (the method ran in fp16 on a GPU)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)

    train_x, train_y = read_cifar10(args.data, [f"data_batch_{i}.bin" for i in range(1, 6)])
    test_x, test_y = read_cifar10(args.data, ["test_batch.bin"])
    train = (torch.from_numpy(train_x.astype(np.float32) / 255.0) - MEAN) / STD
    test = (torch.from_numpy(test_x.astype(np.float32) / 255.0) - MEAN) / STD
    train_labels, test_labels = torch.from_numpy(train_y), torch.from_numpy(test_y)

    # Alternating flips: a random half starts mirrored, and every image is
    # mirrored again in every odd epoch, so two epochs in a row show both sides.
    first_flip = torch.from_numpy(rng.random(len(train)) < 0.5)
    train = torch.where(first_flip.view(-1, 1, 1, 1), train.flip(-1), train)
    padded = F.pad(train, (2, 2, 2, 2), mode="reflect")

    model = Net(args.weight_bits)
    init_whitening(model.whiten, train[:5000], args.weight_bits)
    model = model.to(memory_format=torch.channels_last)

    kilostep = 1024 * (1 + 1 / (1 - MOMENTUM))
    lr, decay = LR / kilostep, WEIGHT_DECAY * BATCH / kilostep
    shifts = [p for n, p in model.named_parameters() if "norm" in n and p.requires_grad]
    others = [p for n, p in model.named_parameters() if "norm" not in n and p.requires_grad]
    bias_lr = lr * BIAS_LR_FACTOR
    optimizer = torch.optim.SGD([dict(params=shifts, lr=bias_lr, weight_decay=decay / bias_lr),
                                 dict(params=others, lr=lr, weight_decay=decay / lr)],
                                momentum=MOMENTUM, nesterov=True)
    steps_per_epoch = len(train) // BATCH
    total_steps = math.ceil(steps_per_epoch * args.epochs)

    def triangle(step, start=0.2, end=0.07, peak=0.23):
        top = int(peak * total_steps)
        if step < top:
            return start + (1 - start) * step / top
        return 1 + (end - 1) * (step - top) / (total_steps - top)

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, triangle)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=LABEL_SMOOTHING, reduction="none")
    average, step = None, 0
    out = open(args.metrics, "w") if args.metrics else None
    if out:
        print("epoch,train_loss,train_accuracy,test_accuracy,seconds", file=out, flush=True)
    print(f"steps: {total_steps} of batch {BATCH} ({args.epochs} epochs)", flush=True)
    for epoch in range(math.ceil(args.epochs)):
        start = time.perf_counter()
        model.whiten.bias.requires_grad_(epoch < WHITEN_BIAS_EPOCHS)
        images = translate_batch(padded, rng)
        if epoch % 2 == 1:
            images = images.flip(-1)
        order = torch.from_numpy(rng.permutation(len(images)))
        for b in range(steps_per_epoch):
            idx = order[b * BATCH:(b + 1) * BATCH]
            x = images[idx].contiguous(memory_format=torch.channels_last)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
                logits = model(x)
            loss = loss_fn(logits.float(), train_labels[idx]).sum()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            step += 1
            if epoch >= LOOKAHEAD_START_EPOCH and step % LOOKAHEAD_EVERY == 0:
                # Lookahead: the weights are pulled back to a running average
                # whose decay grows towards the end of the run.
                state = model.state_dict()
                if average is None:
                    average = {k: v.clone() for k, v in state.items() if v.is_floating_point()}
                else:
                    rho = LOOKAHEAD_BASE ** LOOKAHEAD_EVERY * (step / total_steps) ** LOOKAHEAD_POWER
                    for k, v in average.items():
                        v.lerp_(state[k], 1 - rho)
                    load_average(model, average)
            if step >= total_steps:
                break
        if average is not None:
            load_average(model, average)
        seconds = time.perf_counter() - start
        train_acc = (logits.argmax(1) == train_labels[idx]).float().mean().item()
        acc = test_accuracy(model, test, test_labels, bf16=args.bf16)
        print(f"epoch {epoch + 1}: train loss {loss.item() / BATCH:.4f} acc {100 * train_acc:.2f}% "
              f"test acc {100 * acc:.2f}%  {seconds:.0f} s", flush=True)
        if out:
            print(f"{epoch + 1},{loss.item() / BATCH:.6f},{train_acc:.4f},{acc:.4f},{seconds:.2f}", file=out, flush=True)
    views = test_accuracy(model, test, test_labels, views=True, bf16=args.bf16)
    print(f"test accuracy with six views: {100 * views:.2f}%", flush=True)
    if out:
        print(f"# six-view test accuracy after {args.epochs} epochs: {views:.4f}", file=out, flush=True)


if __name__ == "__main__":
    main()
