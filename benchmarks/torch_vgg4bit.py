"""VGG4bit with the paper's 4-bit weight scheme, in PyTorch: the reference
that nibble's speed (side_by_side.py) and accuracy
(pytorch_reference_training.py) are compared against.

Weights of every convolution and linear layer are fake-quantized to 15
levels on each forward pass (per-tensor abs-max scale, round half to even,
straight-through gradient); after each optimizer step every weight tensor is
soft-clipped, W <- 3 tanh(W / 3). Initialisation as nibble does it: He
normal for convolutions, N(0, 1/fan_in) for linear layers, zero biases.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

QMAX = 7  # 4 bits, narrow symmetric range: 15 levels


def fake_quantize(w):
    """Per-tensor abs-max 4-bit fake quantization with a straight-through gradient."""
    m = w.detach().abs().max()
    scale = torch.where(m > 0, m / QMAX, torch.ones_like(m))
    q = torch.clamp(torch.round(w.detach() / scale), -QMAX, QMAX) * scale
    return w + (q - w).detach()


class QConv2d(nn.Conv2d):
    def forward(self, x):
        return F.conv2d(x, fake_quantize(self.weight), self.bias, self.stride, self.padding)


class QLinear(nn.Linear):
    def forward(self, x):
        return F.linear(x, fake_quantize(self.weight), self.bias)


def vgg4bit(classes=10):
    def block(cin, cout):
        return [QConv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]

    model = nn.Sequential(
        *block(3, 64), *block(64, 64), nn.MaxPool2d(2),
        *block(64, 128), *block(128, 128), nn.MaxPool2d(2),
        *block(128, 256), *block(256, 256), nn.MaxPool2d(2),
        nn.Flatten(),
        QLinear(4096, 512), nn.BatchNorm1d(512), nn.ReLU(inplace=True), nn.Dropout(0.5),
        QLinear(512, classes),
    )
    init_like_nibble(model)
    return model


def init_like_nibble(model):
    """He normal for convolutions, N(0, 1/fan_in) for linear layers, zero biases."""
    for mod in model.modules():
        if isinstance(mod, nn.Conv2d):
            nn.init.normal_(mod.weight, 0.0, (2.0 / (mod.in_channels * 9)) ** 0.5)
            nn.init.zeros_(mod.bias)
        elif isinstance(mod, nn.Linear):
            nn.init.normal_(mod.weight, 0.0, (1.0 / mod.in_features) ** 0.5)
            nn.init.zeros_(mod.bias)


def weight_tensors(model):
    """The tensors the scheme quantizes and clips (rank >= 2)."""
    return [p for p in model.parameters() if p.dim() >= 2]


def tanh_clip_(weights, bound=3.0):
    with torch.no_grad():
        for w in weights:
            w.copy_(bound * torch.tanh(w / bound))
