"""The DIP encoder-decoder with skip connections (Ulyanov et al. 2018), used for every layer, mask,
transmission and airlight net: one builder, whose arguments read like the architecture.

`groups=G` builds G independent nets of the same architecture side by side as one network (grouped
convolutions, per-channel BatchNorm): the same maths as G separate nets, in far fewer, larger kernels.
Coupled systems run their identical nets this way."""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


def conv(c_in: int, c_out: int, k: int, stride: int = 1, groups: int = 1) -> nn.Sequential:
    """Convolution with reflection padding, so borders do not fade to zero (channels are per group)."""
    pad = (k - 1) // 2
    layers: list[nn.Module] = [nn.ReflectionPad2d(pad)] if pad else []
    return nn.Sequential(*layers, nn.Conv2d(c_in * groups, c_out * groups, k, stride=stride, groups=groups))


def conv_bn_act(c_in: int, c_out: int, k: int, stride: int = 1, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(conv(c_in, c_out, k, stride, groups), nn.BatchNorm2d(c_out * groups),
                         nn.LeakyReLU(0.2, inplace=True))


def cat_groups(a: torch.Tensor, b: torch.Tensor, groups: int) -> torch.Tensor:
    """Concatenate channels group by group ([a_0, b_0, a_1, b_1, ...]) so each net sees only its own."""
    if groups == 1:
        return torch.cat([a, b], dim=1)
    n, _, h, w = a.shape
    return torch.cat([a.reshape(n, groups, -1, h, w), b.reshape(n, groups, -1, h, w)], dim=2).reshape(n, -1, h, w)


class Level(nn.Module):
    """One scale: a strided encoder block, the next level (if any), a bilinear ×2 upsampling, then a
    decoder block fed by the upsampled path concatenated with this scale's skip features."""

    def __init__(self, c_in: int, down: int, up: int, skip: int, k_down: int, k_up: int, k_skip: int,
                 deeper: Level | None, up_mode: str, groups: int = 1) -> None:
        super().__init__()
        g = self.groups = groups
        self.skip = conv_bn_act(c_in, skip, k_skip, groups=g) if skip else None
        self.down = nn.Sequential(conv_bn_act(c_in, down, k_down, 2, g), conv_bn_act(down, down, k_down, groups=g))
        self.deeper = deeper
        corners = {"align_corners": False} if up_mode in ("bilinear", "bicubic") else {}
        self.upsample = nn.Upsample(scale_factor=2, mode=up_mode, **corners)
        c_deep = deeper.up_channels if deeper is not None else down
        self.bn_merge = nn.BatchNorm2d((skip + c_deep) * g)
        self.up = nn.Sequential(conv_bn_act(skip + c_deep, up, k_up, groups=g), conv_bn_act(up, up, 1, groups=g))
        self.up_channels = up

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.down(x)
        if self.deeper is not None:
            y = self.deeper(y)
        y = self.upsample(y)
        if self.skip is not None:
            y = cat_groups(self.skip(x), y, self.groups)
        return self.up(self.bn_merge(y))


class Skip(nn.Module):
    """Encoder-decoder: levels from fine to coarse, then a 1×1 output convolution (and a sigmoid)."""

    def __init__(self, levels: Level, c_last: int, c_out: int, sigmoid: bool) -> None:
        super().__init__()
        self.levels = levels
        self.groups = levels.groups
        self.out = nn.Conv2d(c_last * self.groups, c_out * self.groups, 1, groups=self.groups)
        self.sigmoid = sigmoid
        self.depth = 0
        level: Level | None = levels
        while level is not None:
            self.depth += 1
            level = level.deeper

    @property
    def multiple(self) -> int:
        """Input sides must be divisible by this (2**depth)."""
        return 2**self.depth

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.out(self.levels(x))
        return torch.sigmoid(y) if self.sigmoid else y

    @torch.no_grad()
    def start_constant(self, values: Sequence[float]) -> None:
        """Make the output start as these constants, one per channel, whatever the input (its 1x1 output
        convolution's weights zeroed, its bias at their logits under the sigmoid): for a map that should start
        at an estimate (an airlight, a mixing weight) and learn only what departs from it. A fresh net's
        output is anywhere near 0.5, in a pattern of its own."""
        v = torch.as_tensor(values, dtype=self.out.bias.dtype).clamp(1e-3, 1 - 1e-3)
        self.out.weight.zero_()
        self.out.bias.copy_(torch.logit(v) if self.sigmoid else v)


def skip(input_depth: int, output_channels: int,
         channels_down: Sequence[int] = (8, 16, 32),
         channels_up: Sequence[int] = (8, 16, 32),
         channels_skip: Sequence[int] = (0, 0, 0),
         filter_down: int = 3, filter_up: int = 3, filter_skip: int = 1,
         upsample_mode: str = "bilinear", sigmoid: bool = True, groups: int = 1) -> Skip:
    """Build a DIP: per-scale channels down/up/skip (fine to coarse), stride-2 downsampling, bilinear
    upsampling, reflection padding, BatchNorm, LeakyReLU, a 1×1 output conv and an optional sigmoid.

    >>> skip(2, 1, [8, 16, 32], [8, 16, 32], [0, 0, 0])          # Double-DIP segmentation layer/mask
    >>> skip(8, 3, [8, 16, 32, 64, 128], [8, 16, 32, 64, 128], [0, 0, 0, 4, 4])  # dehazing J net
    >>> skip(2, 3, groups=3)  # three such nets in one: input 6 channels (2 per net), output 9 (3 per net)
    """
    if not (len(channels_down) == len(channels_up) == len(channels_skip)) or not channels_down:
        raise ValueError("channels_down, channels_up and channels_skip need one entry per scale")
    ins = [input_depth] + list(channels_down[:-1])
    deeper: Level | None = None
    for c_in, d, u, s in reversed(list(zip(ins, channels_down, channels_up, channels_skip, strict=True))):
        deeper = Level(c_in, d, u, s, filter_down, filter_up, filter_skip, deeper, upsample_mode, groups)
    assert deeper is not None
    return Skip(deeper, channels_up[0], output_channels, sigmoid)
