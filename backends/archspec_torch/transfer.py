"""Torch modules' state in the canonical layout (PyTorch's own), both ways."""

from __future__ import annotations

import numpy as np


def export_state(module) -> dict[str, np.ndarray]:
    # copies: a view of a live tensor would let later in-place updates leak into the destination
    return {k: v.detach().cpu().numpy().copy() for k, v in module.state_dict().items()}


def import_state(module, state: dict[str, np.ndarray]) -> None:
    import torch

    own = module.state_dict()
    missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
    if missing or unexpected:
        raise ValueError(f"parameters differ: missing {missing[:5]}, unexpected {unexpected[:5]}")
    converted = {}
    for key, target in own.items():
        value = np.asarray(state[key])
        if tuple(value.shape) != tuple(target.shape):
            raise ValueError(
                f"'{key}' has shape {tuple(value.shape)} in the source but the destination "
                f"expects {tuple(target.shape)}"
            )
        converted[key] = torch.from_numpy(np.ascontiguousarray(value)).to(target.dtype)
    # a module built with init=False holds meta tensors: the loaded tensors replace them
    assign = any(t.is_meta for t in own.values())
    module.load_state_dict(converted, strict=True, assign=assign)
