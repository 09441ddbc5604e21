"""ResNet-20 with the paper's 4-bit weight scheme, in PyTorch: the reference
for nibble's resnet20 (include/nibble/net/resnet20.hpp), layer for layer
(273,258 parameters): conv(16); three stages of three basic blocks at 16,
32 and 64 channels (conv, BN, ReLU, conv, BN, added to the shortcut, then
ReLU), the first block of the second and third stage at stride 2 with a
projection shortcut (1x1 conv at stride 2 and BN); every conv with a bias;
global average pooling; a linear classifier. Weights are quantized and
initialised as in torch_vgg4bit.py.
"""
import torch
import torch.nn as nn

from torch_vgg4bit import QConv2d, QLinear, init_like_nibble


def conv_bn(cin, cout, kernel=3, stride=1, relu=True):
    layers = [QConv2d(cin, cout, kernel, stride=stride, padding=kernel // 2), nn.BatchNorm2d(cout)]
    return layers + [nn.ReLU()] if relu else layers


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.body = nn.Sequential(*conv_bn(cin, cout, stride=stride), *conv_bn(cout, cout, relu=False))
        self.shortcut = (nn.Sequential(*conv_bn(cin, cout, kernel=1, stride=stride, relu=False))
                         if stride != 1 or cin != cout else nn.Identity())

    def forward(self, x):
        return torch.relu(self.shortcut(x) + self.body(x))


def resnet20(classes=10):
    blocks = []
    for cin, cout, stride in [(16, 16, 1), (16, 32, 2), (32, 64, 2)]:
        blocks += [BasicBlock(cin, cout, stride), BasicBlock(cout, cout), BasicBlock(cout, cout)]
    model = nn.Sequential(*conv_bn(3, 16), *blocks, nn.AdaptiveAvgPool2d(1), nn.Flatten(), QLinear(64, classes))
    init_like_nibble(model)
    return model
