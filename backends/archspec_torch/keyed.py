"""Members whose names are no safe attributes of an `nn.Module`: registered and read by key.

A node name is a `state_dict` key part, and any valid one builds (`training`, `_version`, `self`,
`register_forward_hook`, `block1-0`, `0`): `self.conv1` where the name is a plain attribute,
otherwise `self._modules["training"]` / `self._parameters["training"]`, which is where
`nn.Module.__setattr__` would have put it, so the keys are the names. Not `add_module` or
`register_parameter`: they refuse a name the module already has as an attribute.
"""

from __future__ import annotations

import ast

# What archspec.build sets on the model it returns (archspec/codegen instantiate()).
BUILD_ATTRIBUTES = frozenset({"archspec_source", "archspec_backend", "archspec_fingerprint"})

# Public attributes of nn.Module and nn.ModuleDict, instances included (torch 2.13); private names
# (a leading `_`) are always keyed. tests/test_keyed_names.py holds this against the installed torch.
RESERVED = (
    frozenset(
        [
            "T_destination",
            "add_module",
            "apply",
            "bfloat16",
            "buffers",
            "call_super_init",
            "children",
            "clear",
            "compile",
            "cpu",
            "cuda",
            "double",
            "dump_patches",
            "eval",
            "extra_repr",
            "float",
            "forward",
            "get_buffer",
            "get_extra_state",
            "get_parameter",
            "get_submodule",
            "half",
            "ipu",
            "items",
            "keys",
            "load_state_dict",
            "modules",
            "mtia",
            "named_buffers",
            "named_children",
            "named_modules",
            "named_parameters",
            "parameters",
            "pop",
            "register_backward_hook",
            "register_buffer",
            "register_forward_hook",
            "register_forward_pre_hook",
            "register_full_backward_hook",
            "register_full_backward_pre_hook",
            "register_load_state_dict_post_hook",
            "register_load_state_dict_pre_hook",
            "register_module",
            "register_parameter",
            "register_state_dict_post_hook",
            "register_state_dict_pre_hook",
            "requires_grad_",
            "set_extra_state",
            "set_submodule",
            "share_memory",
            "state_dict",
            "to",
            "to_empty",
            "train",
            "training",
            "type",
            "update",
            "values",
            "xpu",
            "zero_grad",
        ]
    )
    | {"reset_parameters"}
    | BUILD_ATTRIBUTES
)  # defined by generated models, set by build()

# Instance attributes assigned after construction (`train()` sets `training`, build() the
# archspec_* ones): a member under such a name needs a module whose __setattr__ lets them
# through (KeyedModule).
ASSIGNED = frozenset({"training"}) | BUILD_ATTRIBUTES

KEYED_MODULE = '''
class KeyedModule(nn.Module):
    """An nn.Module with members named like its own attributes (`training`, `_version`): they are
    registered under those names, so those are their state_dict keys, and read by key; the
    module's own attributes (`self.training = mode` in train()) stay plain attributes."""

    def __setattr__(self, name: str, value: object) -> None:
        keyed = name in self.__dict__.get("_modules", ()) or name in self.__dict__.get("_parameters", ())
        if keyed and not isinstance(value, (nn.Module, nn.Parameter)):
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)
'''

MEMBERS = '''
class Members(KeyedModule):
    """Layers and learned tensors under any names (their state_dict keys), read by key; no forward."""

    def __init__(self, members: dict[str, nn.Module | nn.Parameter]) -> None:
        super().__init__()
        for key, value in members.items():
            if isinstance(value, nn.Parameter):
                self._parameters[key] = value
            else:
                self._modules[key] = value

    def __getitem__(self, key: str) -> nn.Module | nn.Parameter:
        return self._parameters[key] if key in self._parameters else self._modules[key]
'''

ON_DEMAND = {"KeyedModule": KEYED_MODULE, "Members": MEMBERS}


def _registry(tensor: bool) -> ast.expr:
    return ast.Attribute(ast.Name("self", ast.Load()), "_parameters" if tensor else "_modules", ast.Load())


def keyed_set(name: str, value: ast.expr, tensor: bool) -> ast.stmt:
    """`self._modules["training"] = value` (`_parameters` for a learned tensor)."""
    target = ast.Subscript(_registry(tensor), ast.Constant(name), ast.Store())
    return ast.Assign([target], value, lineno=0)


def keyed_get(name: str, tensor: bool) -> ast.expr:
    return ast.Subscript(_registry(tensor), ast.Constant(name), ast.Load())


def needs_keyed_base(names) -> bool:
    """Whether a class with these members must be a KeyedModule: one is named like an attribute
    that nn.Module assigns later (`training`) or like a private one."""
    return any(n in ASSIGNED or n.startswith("_") for n in names)


def module_dict_ok(items: dict[str, ast.expr]) -> bool:
    """Whether nn.ModuleDict can hold these: layers only, under names add_module accepts."""
    return all(not (k.startswith("_") or k in RESERVED) and not _is_parameter(v) for k, v in items.items())


def _is_parameter(value: ast.expr) -> bool:
    return isinstance(value, ast.Call) and ast.unparse(value.func) == "nn.Parameter"
