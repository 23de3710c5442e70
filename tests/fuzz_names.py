"""Names the fuzzers give nodes, groups and blocks: the ones generated code could confuse with its own.

A node name is a `state_dict` key part, and generated code holds each node as a module attribute or
a container key, beside the framework's own attributes (`_version`, `_parameters`, `forward`,
`keys` of a module dict...) and the names the generated classes define (`reset_parameters`,
`rngs`, a constructor parameter named after an op field). The frameworks' names are listed here
once, so the generators need neither torch nor flax; `python tests/fuzz_names.py` prints them
again from the installed versions, and tests/test_fuzz_backends.py fails when they miss one.
"""

from __future__ import annotations

import keyword
import re

# dir() of torch.nn.Module (class and instance) and of the containers generated code uses
# (nn.Sequential, nn.ModuleDict, nn.ModuleList, nn.ParameterList); torch 2.13.
TORCH_NAMES = (
    "T_destination", "__add__", "__annotations__", "__call__", "__class__", "__contains__", "__delattr__",
    "__delitem__", "__dict__", "__dir__", "__doc__", "__eq__", "__format__", "__ge__", "__getattr__",
    "__getattribute__", "__getitem__", "__getstate__", "__gt__", "__hash__", "__iadd__", "__imul__", "__init__",
    "__init_subclass__", "__iter__", "__le__", "__len__", "__lt__", "__module__", "__mul__", "__ne__", "__new__",
    "__reduce__", "__reduce_ex__", "__repr__", "__rmul__", "__setattr__", "__setitem__", "__setstate__",
    "__sizeof__", "__str__", "__subclasshook__", "__weakref__", "_apply", "_backward_hooks", "_backward_pre_hooks",
    "_buffers", "_call_impl", "_compiled_call_impl", "_forward_hooks", "_forward_hooks_always_called",
    "_forward_hooks_with_kwargs", "_forward_pre_hooks", "_forward_pre_hooks_with_kwargs", "_get_abs_string_index",
    "_get_backward_hooks", "_get_backward_pre_hooks", "_get_item_by_idx", "_get_name", "_is_full_backward_hook",
    "_load_from_state_dict", "_load_state_dict_post_hooks", "_load_state_dict_pre_hooks",
    "_maybe_warn_non_full_backward_hook", "_modules", "_named_members", "_non_persistent_buffers_set",
    "_parameters", "_register_load_state_dict_pre_hook", "_register_state_dict_hook",
    "_replicate_for_data_parallel", "_save_to_state_dict", "_slow_forward", "_state_dict_hooks",
    "_state_dict_pre_hooks", "_version", "_wrapped_call_impl", "add_module", "append", "apply", "bfloat16",
    "buffers", "call_super_init", "children", "clear", "compile", "cpu", "cuda", "double", "dump_patches", "eval",
    "extend", "extra_repr", "float", "forward", "get_buffer", "get_extra_state", "get_parameter", "get_submodule",
    "half", "insert", "ipu", "items", "keys", "load_state_dict", "modules", "mtia", "named_buffers",
    "named_children", "named_modules", "named_parameters", "parameters", "pop", "register_backward_hook",
    "register_buffer", "register_forward_hook", "register_forward_pre_hook", "register_full_backward_hook",
    "register_full_backward_pre_hook", "register_load_state_dict_post_hook", "register_load_state_dict_pre_hook",
    "register_module", "register_parameter", "register_state_dict_post_hook", "register_state_dict_pre_hook",
    "requires_grad_", "set_extra_state", "set_submodule", "share_memory", "state_dict", "to", "to_empty", "train",
    "training", "type", "update", "values", "xpu", "zero_grad",
)  # fmt: skip

# dir() of flax.nnx.Module (class and instance), nnx.Dict and nnx.List; flax 0.12.
NNX_NAMES = (
    "_MutableMapping__marker", "__abstractmethods__", "__annotations__", "__class__", "__class_getitem__",
    "__contains__", "__dataclass_fields__", "__dataclass_params__", "__deepcopy__", "__delattr__", "__delitem__",
    "__dict__", "__dir__", "__doc__", "__eq__", "__format__", "__ge__", "__getattribute__", "__getitem__",
    "__getstate__", "__gt__", "__hash__", "__iadd__", "__init__", "__init_subclass__", "__iter__", "__le__",
    "__len__", "__lt__", "__match_args__", "__module__", "__ne__", "__new__", "__nnx_repr__", "__orig_bases__",
    "__parameters__", "__reduce__", "__reduce_ex__", "__repr__", "__reversed__", "__setattr__", "__setitem__",
    "__setstate__", "__sizeof__", "__slots__", "__str__", "__subclasshook__", "__treescope_repr__", "__weakref__",
    "_abc_impl", "_check_valid_context", "_check_value", "_del_elem", "_get_elem", "_graph_node_clear",
    "_graph_node_create_empty", "_graph_node_flatten", "_graph_node_init", "_graph_node_pop_key",
    "_graph_node_set_key", "_is_protocol", "_object__nodes", "_object__state", "_pytree__flatten",
    "_pytree__flatten_with_paths", "_pytree__has_int_keys", "_pytree__is_pytree", "_pytree__nodes",
    "_pytree__state", "_pytree__unflatten", "_set_elem", "_setattr", "append", "clear", "count", "eval", "extend",
    "get", "index", "insert", "items", "iter_children", "iter_modules", "keys", "perturb", "pop", "popitem",
    "remove", "reverse", "set_attributes", "setdefault", "sow", "train", "update", "values",
)  # fmt: skip

KEYWORDS = tuple(keyword.kwlist + keyword.softkwlist)

# Names generated code defines or uses: methods and attributes of the generated classes, locals of
# forward, imports, helper classes and functions (tests/golden/source), attributes build() sets on
# the model, attributes nnx's train()/eval() set on every module that has them.
CODE_NAMES = (
    "forward", "reset_parameters", "__call__", "__init__", "rngs", "self", "super", "training", "x", "y", "out",
    "out2", "m", "i", "j", "n", "r", "h", "w", "key", "value", "values", "layer", "layers", "blocks", "nn", "torch",
    "F", "jax", "jnp", "nnx", "np", "math", "Sequential", "ModuleDict", "Dict", "List", "Buffer", "BatchNorm2d",
    "StochasticDepth", "LayerNorm2d", "ConvTranspose2d", "MultiheadAttention", "ShiftedWindowAttention",
    "center_crop", "expand_batch", "channel_shuffle", "normal", "constant", "fans", "random_init",
    "symmetric_uniform", "torch_default_bias", "RANDOM_BLOCK", "KAIMING_FAN_OUT", "deterministic",
    "use_running_average", "epsilon", "momentum", "num_batches_tracked", "running_mean", "running_var", "weight",
    "bias", "kernel", "scale", "mean", "var", "in_proj_weight", "in_proj_bias", "out_proj",
    "relative_position_bias_table", "relative_position_index", "archspec_fingerprint", "archspec_folded",
    "archspec_source", "archspec_backend",
    "inplace", "init", "dtype", "shape", "getattr", "setattr", "isinstance", "range", "int", "float", "tuple",
    "list", "dict", "len", "print", "input", "id", "object", "Model", "Fuzz", "fuzz",
)  # fmt: skip

# Keys: registered by name in a module dict, never attributes (a top-level key is an error).
KEY_NAMES = (
    "a-b", "block1-0", "0-0", "_-_", "x-", "a--b", "1x", "1e3", "0x1", "__-__", "self-attn", "T-destination",
    "forward-", "_version-1", "9-",
)  # fmt: skip
# YAML 1.1 reads these unquoted as booleans, null or numbers; as names they are strings.
YAML_NAMES = ("on", "off", "yes", "no", "y", "n", "null", "true", "false", "NaN", "inf")
# Not node names: the campaign uses them too (a located error is the right answer).
INVALID_NAMES = ("01", "-a", "a.b", "", "é", "a b", "a" * 300, "a/b", "a:b", "${i}", "-", ".", "__init__.x")
# Block names become class names (CamelCase): these meet the classes generated code defines.
BLOCK_NAMES = (
    "sequential", "batch_norm2d", "conv_transpose2d", "stochastic_depth", "multihead_attention",
    "shifted_window_attention", "layer_norm2d", "buffer", "fuzz", "module", "model", "nn", "torch", "jax", "jnp",
    "nnx", "np", "math", "_version", "T_destination", "g", "G", "x", "out", "block", "dict", "list",
)  # fmt: skip

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_KEY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]*$")


def op_field_names() -> tuple[str, ...]:
    """Every op field name: generated constructors take them as parameters, stored on `self`."""
    from archspec.ops import OPS

    return tuple(sorted({f for model in OPS.values() for f in model.model_fields if f != "op"}))


def legal(name: str, top: bool = False) -> bool:
    """A node name the language allows: a state_dict key part. Top-level nodes are the model's own
    members, so a key (`a-b`) is allowed only below the top level."""
    if name.isdigit():
        return name == "0" or not name.startswith("0")
    return bool(_IDENT.match(name)) if top else bool(_KEY.match(name))


FRAMEWORK = frozenset(TORCH_NAMES + NNX_NAMES + KEYWORDS)
CODE = frozenset(CODE_NAMES + op_field_names())
WEIRD = tuple(dict.fromkeys(TORCH_NAMES + NNX_NAMES + KEYWORDS + CODE_NAMES + YAML_NAMES + op_field_names()))
INNER = tuple(n for n in WEIRD + KEY_NAMES if legal(n))  # every one a legal name below the top level
TOP = tuple(n for n in WEIRD if legal(n, top=True))


def weird_name(r, top: bool = False, invalid: float = 0.0) -> str:
    """A legal node name that generated code could confuse with its own (with probability
    `invalid`, one that is no node name at all). Keys make a quarter of the names below the top."""
    if r.random() < invalid:
        return r.choice(INVALID_NAMES)
    if not top and r.random() < 0.25:
        return r.choice(KEY_NAMES)
    return r.choice(TOP if top else INNER)


def current() -> tuple[tuple[str, ...], tuple[str, ...]]:
    import flax.nnx as nnx
    import torch.nn as tnn

    torch_names = set(dir(tnn.Module)) | set(dir(tnn.Module()))
    for cls in (tnn.Sequential, tnn.ModuleDict, tnn.ModuleList, tnn.ParameterList):
        torch_names |= set(dir(cls))
    nnx_names = set(dir(nnx.Module)) | set(dir(nnx.Module())) | set(dir(nnx.Dict)) | set(dir(nnx.List))
    return tuple(sorted(torch_names)), tuple(sorted(nnx_names))


if __name__ == "__main__":  # print the lists from the installed frameworks
    import textwrap

    for label, names in zip(("TORCH_NAMES", "NNX_NAMES"), current()):
        text = ", ".join(f'"{n}"' for n in names) + ","
        body = textwrap.fill(text, 116, initial_indent="    ", subsequent_indent="    ")
        print(f"{label} = (\n{body}\n)  # fmt: skip\n")
