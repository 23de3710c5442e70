"""Two ops from outside archspec: `hardtanh` (clamp to [min_val, max_val]) for both backends, and
`square` with a PyTorch emitter only, to show the error a backend without an emitter gives."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from archspec.codegen import OpEmitter, Slot, call, template
from archspec.opbase import Finite, Op
from archspec.plugins import register_op


class Hardtanh(Op):
    """Clamps every value to [min_val, max_val] (PyTorch's Hardtanh)."""

    op: Literal["hardtanh"] = "hardtanh"
    min_val: Finite = Field(-1.0, description="lower bound")
    max_val: Finite = Field(1.0, description="upper bound")


class Square(Op):
    """x * x."""

    op: Literal["square"] = "square"


def register() -> None:
    register_op(
        Hardtanh,
        {
            "torch": OpEmitter(
                lambda op, shape: call("nn.Hardtanh", Slot(op.min_val, "min_val"), Slot(op.max_val, "max_val")),
                lambda op, module, args, shape: call(module, args[0]),
            ),
            "flax": OpEmitter(
                lambda op, shape: None,
                lambda op, module, args, shape: call(
                    "jnp.clip", args[0], Slot(op.min_val, "min_val"), Slot(op.max_val, "max_val")
                ),
            ),
        },
    )
    register_op(
        Square,
        {"torch": OpEmitter(lambda op, shape: None, lambda op, module, args, shape: template("{x} * {x}", x=args[0]))},
    )
