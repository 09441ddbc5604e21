"""SimpleResNet4bit with the paper's 4-bit weight scheme, in PyTorch: the
reference for nibble's residual network (pytorch_reference_training.py
--model resnet), layer for layer as include/nibble/net/simple_resnet4bit.hpp
builds it (75,530 parameters): conv(16); one residual block at 16 channels
(conv, BN, ReLU, conv, BN, added to its input, then ReLU); conv(32, stride
2), conv(32); conv(64, stride 2), conv(64); every conv with a bias and
followed by BN and ReLU; global average pooling; a linear classifier.
Weights are quantized and initialised as in torch_vgg4bit.py.
"""
import torch.nn as nn

from torch_vgg4bit import QConv2d, QLinear, init_like_nibble


def conv_bn(cin, cout, stride=1, relu=True):
    layers = [QConv2d(cin, cout, 3, stride=stride, padding=1), nn.BatchNorm2d(cout)]
    return layers + [nn.ReLU()] if relu else layers


class Residual(nn.Module):
    def __init__(self, *body):
        super().__init__()
        self.body = nn.Sequential(*body)

    def forward(self, x):
        return x + self.body(x)


def simple_resnet4bit(classes=10):
    model = nn.Sequential(
        *conv_bn(3, 16),
        Residual(*conv_bn(16, 16), *conv_bn(16, 16, relu=False)), nn.ReLU(),
        *conv_bn(16, 32, stride=2), *conv_bn(32, 32),
        *conv_bn(32, 64, stride=2), *conv_bn(64, 64),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        QLinear(64, classes),
    )
    init_like_nibble(model)
    return model
