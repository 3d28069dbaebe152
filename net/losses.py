"""Losses of the coupled-DIP systems. Images are N×C×H×W tensors in [0, 1]; masks N×1×H×W."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def l1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean absolute error (reconstruction loss of segmentation)."""
    return (a - b).abs().mean()


def mse(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean squared error (reconstruction loss of dehazing)."""
    return ((a - b) ** 2).mean()


def hint_l1(output: torch.Tensor, image: torch.Tensor, hint: torch.Tensor) -> torch.Tensor:
    """L1 between `output` and `image` inside `hint`, normalised by the hint's area.

    The mean over the hinted pixels, so a small hint pulls as hard as a large one; 0 for an empty hint.
    """
    area = hint.sum() * (output.shape[1] / hint.shape[1])
    return ((output - image).abs() * hint).sum() / area.clamp_min(1.0)


def hint_cross_entropy(mask: torch.Tensor, target: torch.Tensor, hinted: torch.Tensor, eps: float = 1e-6
                       ) -> torch.Tensor:
    """Cross-entropy of a mask's probabilities against the hints on the hinted pixels, each layer's hint
    weighted equally (a small hint counts as much as a large one). `mask`: N×1×H×W sigmoid (Double-DIP's
    m) or N×K×H×W softmax; `target`: the hints as N×1 (m's target) or N×K one-hot maps; `hinted`: their
    union. Unlike an L1 on probabilities, it keeps pulling a confident wrong pixel back."""
    if mask.shape[1] == 1:
        mask, target = torch.cat([mask, 1 - mask], 1), torch.cat([target, 1 - target], 1)
    on = target * hinted
    return (-(on * (mask + eps).log()).sum(dim=(0, 2, 3)) / on.sum(dim=(0, 2, 3)).clamp_min(1)).mean()


def to_grey(x: torch.Tensor) -> torch.Tensor:
    """Rec. 601 luma of an RGB batch (a 1-channel batch is returned as it is)."""
    if x.shape[1] == 1:
        return x
    w = x.new_tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    return (x * w).sum(dim=1, keepdim=True)


def smoothness(x: torch.Tensor, size: int = 5) -> torch.Tensor:
    """Local-variance loss: mean squared difference between each pixel (of the grey image) and the mean
    of its size×size neighbourhood (valid positions only). Zero for a constant image."""
    g = to_grey(x)
    local_mean = F.avg_pool2d(g, size, stride=1)
    r = size // 2
    centre = g[:, :, r:g.shape[2] - r, r:g.shape[3] - r]
    return ((centre - local_mean) ** 2).mean()


def binarisation(mask: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Pushes a mask away from 0.5: 1 / mean|m − 0.5|, i.e. 2 for a binary mask and huge for m ≡ 0.5."""
    return 1.0 / ((mask - 0.5).abs().mean() + eps)


def entropy(mask: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Mean per-pixel entropy (nats) of a soft-max mask N×K×H×W: 0 when every pixel is one-hot. The
    K-layer generalisation of the binarisation loss (for K=2 both are minimised by a binary mask)."""
    return -(mask * (mask + eps).log()).sum(dim=1).mean()


def _gradients(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return x[:, :, 1:, :] - x[:, :, :-1, :], x[:, :, :, 1:] - x[:, :, :, :-1]


def exclusion(a: torch.Tensor, b: torch.Tensor, levels: int = 3) -> torch.Tensor:
    """Gradient exclusion loss of Zhang, Ng & Chen (CVPR 2018): small when the edges of the two layers
    do not coincide. At each of `levels` scales (×2 average pooling between them), for every pair of
    channels (i of a, j of b) and each direction: mean(s(∇a_i)² · s(∇b_j)²)^¼ with s(g) = 2σ(g) − 1,
    b's gradients first scaled so both layers have the same mean gradient magnitude; the result is
    the average over scales, channel pairs and the two directions."""
    total = a.new_zeros(())
    for level in range(levels):
        for ga, gb in zip(_gradients(a), _gradients(b), strict=True):
            alpha = 2.0 * ga.abs().mean() / gb.abs().mean().clamp_min(1e-8)
            sa = (torch.sigmoid(ga) * 2 - 1) ** 2  # N×Ca×h×w
            sb = (torch.sigmoid(gb * alpha) * 2 - 1) ** 2
            prod = sa.unsqueeze(2) * sb.unsqueeze(1)  # N×Ca×Cb×h×w: every channel pair
            m = prod.mean(dim=(0, 3, 4))
            # m^¼, exactly 0 at 0 with a finite (zero) gradient there
            total = total + torch.where(m > 0, m.clamp_min(1e-12).pow(0.25), torch.zeros_like(m)).mean()
        if level < levels - 1:
            a, b = F.avg_pool2d(a, 2), F.avg_pool2d(b, 2)
    return total / (2 * levels)
