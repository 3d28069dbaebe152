"""Mixed precision: the nets' convolutions in bfloat16 where the hardware has it (CPUs with AVX-512-BF16
or AMX, CUDA GPUs from Ampere on), every loss, PSNR and optimiser state in float32."""
from __future__ import annotations

import contextlib

import torch


def bf16_supported(device: torch.device) -> bool:
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return False


def resolve(precision: str, device: torch.device) -> str:
    """'auto' -> 'bf16' where supported, else 'fp32'; an explicit 'bf16' must be supported."""
    from utils.config import check_choice
    from utils.errors import UserError
    check_choice("precision", precision, ("auto", "fp32", "bf16"))
    if precision == "auto":
        return "bf16" if bf16_supported(device) else "fp32"
    if precision == "bf16" and not bf16_supported(device):
        raise UserError(f"--precision=bf16 but {device} has no fast bfloat16 (use --precision=fp32)")
    return precision


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """The context the nets run in: bf16 autocast, or nothing for fp32. No cast cache: every weight is
    used once per iteration, and a captured CUDA graph must not keep casts made at capture time."""
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16, cache_enabled=False)
    return contextlib.nullcontext()
