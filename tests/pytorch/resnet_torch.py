"""The study's CIFAR-style ResNet in PyTorch, module for module the network dasnet builds
(models/resnet.cpp), so parameter names and shapes match one to one. Used by the reference
tensor generator (tests/pytorch/make_reference.py) and by the benchmarks (bench/)."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class BasicBlock(nn.Module):
    def __init__(self, in_c, out_c, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(in_c, out_c, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_c)
        self.conv2 = nn.Conv2d(out_c, out_c, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_c)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_c != out_c:
            self.shortcut = nn.Sequential(nn.Conv2d(in_c, out_c, 1, stride, bias=False), nn.BatchNorm2d(out_c))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class Bottleneck(nn.Module):
    def __init__(self, in_c, inner, out_c, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(in_c, inner, 1, 1, 0, bias=False)
        self.bn1 = nn.BatchNorm2d(inner)
        self.conv2 = nn.Conv2d(inner, inner, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(inner)
        self.conv3 = nn.Conv2d(inner, out_c, 1, 1, 0, bias=False)
        self.bn3 = nn.BatchNorm2d(out_c)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_c != out_c:
            self.shortcut = nn.Sequential(nn.Conv2d(in_c, out_c, 1, stride, bias=False), nn.BatchNorm2d(out_c))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return F.relu(out + self.shortcut(x))


class ResNet(nn.Module):
    def __init__(self, depth=14, in_channels=1, outputs=2, width=16, block="basic", bottleneck_width=0):
        super().__init__()
        per_block = 6 if block == "basic" else 9
        assert (depth - 2) % per_block == 0, "depth must be %dn+2" % per_block
        n = (depth - 2) // per_block
        inner0 = bottleneck_width or max(1, width // 4)
        self.conv1 = nn.Conv2d(in_channels, width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        channels = width
        for stage in range(3):
            out_c = width << stage
            blocks = []
            for b in range(n):
                stride = 2 if (b == 0 and stage > 0) else 1
                if block == "basic":
                    blocks.append(BasicBlock(channels, out_c, stride))
                else:
                    blocks.append(Bottleneck(channels, inner0 << stage, out_c, stride))
                channels = out_c
            setattr(self, "layer%d" % (stage + 1), nn.Sequential(*blocks))
        self.linear = nn.Linear(channels, outputs)
        # The study's initialization for convolutions; BN weight 1, bias 0; Linear as PyTorch's.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                k = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                m.weight.data.normal_(0, (2.0 / k) ** 0.5)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        out = F.adaptive_avg_pool2d(out, 1).flatten(1)
        return self.linear(out)
