"""FastVGG in PyTorch: the reference for include/nibble/net/fast_vgg.hpp
(pytorch_reference_training.py --model fast-vgg), layer for layer as nibble
builds it (1,979,210 parameters for 10 classes): conv(32); conv(64), pool,
conv(64); conv(256), pool, conv(256); conv(256), pool, conv(256); every conv
3x3 with a bias, followed by BN and ReLU, the 2x2 pools after the ReLU; a
4x4 max pool; a linear classifier. With bits=4 the weights are quantized as
in torch_vgg4bit.py; with bits=32 they stay float. Initialised as nibble
initialises them.
"""
import torch.nn as nn

from torch_vgg4bit import QConv2d, QLinear, init_like_nibble


def fast_vgg(classes=10, bits=4):
    conv = QConv2d if bits == 4 else nn.Conv2d
    linear = QLinear if bits == 4 else nn.Linear

    def block(cin, cout):
        return [conv(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU()]

    model = nn.Sequential(
        *block(3, 32),
        *block(32, 64), nn.MaxPool2d(2), *block(64, 64),
        *block(64, 256), nn.MaxPool2d(2), *block(256, 256),
        *block(256, 256), nn.MaxPool2d(2), *block(256, 256),
        nn.MaxPool2d(4), nn.Flatten(),
        linear(256, classes),
    )
    init_like_nibble(model)
    return model
