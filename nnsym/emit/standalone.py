"""A standalone module of gradient code: forward pass, every gradient in one pass, Hessians, a
``self_test()``, for NumPy, JAX or PyTorch.

`module_source` writes the text; the functions come from `write_function` with the chosen printer
(`NumPyPrinter` or a subclass), the stable helpers and the finite-difference check are copied in by
source. The text depends only on the formulas and the options: identifiers come from the sanitiser,
names are sorted, and no set or dict order leaks in, so the output is the same byte for byte on every
run and under every PYTHONHASHSEED.
"""

from __future__ import annotations

import inspect
import types
from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence, Tuple

from nnsym.declare.expressions import Expr, Symbol
from nnsym.declare.names import identifier
from nnsym.emit import finite_difference_check
from nnsym.emit.numpy_code import NumPyPrinter, helper_source, write_function
from nnsym.errors import InputError


@dataclass(frozen=True)
class ModuleSpec:
    """What goes into the module. ``formulas`` are (left, right) LaTeX pairs for the docstrings;
    ``test_shapes`` are concrete shapes for the self-test (symbol name -> (rows, cols)); ``kinds`` the
    assumption each symbol's random value honours ("normal" when none)."""

    title: str
    loss: Expr
    gradients: Mapping[Symbol, Expr]
    test_shapes: Mapping[str, Tuple[int, int]]
    kinds: Mapping[str, str] = field(default_factory=dict)
    prediction: Optional[Expr] = None
    hessians: Mapping[Symbol, Expr] = field(default_factory=dict)
    forward_formulas: Sequence[Tuple[str, str]] = ()
    gradient_formulas: Sequence[Tuple[str, str]] = ()
    hessian_formulas: Sequence[Tuple[str, str]] = ()


def _formulas(pairs) -> str:
    return "\n".join(f"{left} = {right}" for left, right in pairs)


def _sums_to_one_note(names, printer) -> str:
    """Issue 9: what the docstring says about targets that must sum to one."""
    if not names:
        return ""
    checked = ("is not checked under jax.jit (traced values): pass columns that sum to one"
               if printer.library == "JAX" else "is checked on every call (ValueError otherwise)")
    return (f"Each column of {', '.join(names)} must sum to one (a probability distribution or one-hot): the\n"
            f"gradients use the short form softmax(z) - y, which relies on it; this {checked}.\n\n")


# ----- issue 14b: the precision a JAX module computes and self-tests in -----

def _precision_note(printer) -> str:
    """JAX computes in float32 unless x64 is enabled, a process-wide switch the module leaves alone."""
    if printer.library != "JAX":
        return ""
    return ("Precision: arrays are converted to JAX's default float type, float32 unless the caller enabled\n"
            "x64 (jax.config.update('jax_enable_x64', True), before calling; this module never switches it,\n"
            "as it changes every JAX computation in the process). self_test() follows that type: in float64\n"
            "it checks to a relative error of 1e-6, in float32 only to 2e-2 (expect errors near 1e-4).\n\n")


def _raw_docstring(text: str) -> str:
    # As `docstring_lines`: quotes dropped, a final newline so no backslash meets the closing quotes.
    return 'r"""' + text.replace(chr(34), "").rstrip() + '\n"""'


def module_source(spec: ModuleSpec, printer: type = NumPyPrinter) -> str:
    symbols = sorted({s for s in spec.loss.free_symbols()}, key=lambda s: s.name)
    parameters = list(spec.gradients)
    if not parameters:
        raise InputError("nothing to differentiate: name at least one variable")
    names = {s: identifier(s.name) for s in symbols}
    for p in parameters:
        if p not in names:
            raise InputError(f"the function does not depend on {p.name}")
    if "loss" in names.values():
        raise InputError("a symbol named 'loss' would clash with the loss output; rename it")
    gradient_outputs = {names[p]: spec.gradients[p] for p in parameters}
    # A gradient has its parameter's shape; only a scalar parameter's is a number.
    arrays = [names[p] for p in parameters if p.kind != "scalar"]
    functions = [
        write_function("forward", {"": spec.loss}, "The loss.\n\n" + _formulas(spec.forward_formulas),
                       printer=printer, inputs=symbols),
    ]
    if spec.prediction is not None:
        functions.append(write_function("predict", {"": spec.prediction}, "The network's output.", printer=printer))
    functions.append(write_function(
        "gradients", gradient_outputs,
        "Every parameter's gradient in one pass (denominator layout: each has its parameter's shape).\n\n"
        + _formulas(spec.gradient_formulas), printer=printer, inputs=symbols,
        variables={k: f"d_{k}" for k in gradient_outputs}, arrays=arrays))
    functions.append(write_function(
        "loss_and_gradients", {"loss": spec.loss, **gradient_outputs},
        "The loss and every gradient, forward intermediates computed once.", printer=printer, inputs=symbols,
        variables={k: f"d_{k}" for k in gradient_outputs}, split_first=True, arrays=arrays))
    hessian_names = {}
    for p, h in spec.hessians.items():
        if p.cols != 1:
            raise InputError(f"Hessians are exported for vectors and scalars; {p.name} is a matrix")
        function_name = "hessian" if len(spec.hessians) == 1 else f"hessian_{names[p]}"
        hessian_names[names[p]] = function_name
        # A Hessian is an n x n matrix even for n = 1 (a scalar variable): never a bare number.
        functions.append(write_function(function_name, {"": h}, _formulas(spec.hessian_formulas),
                                        printer=printer, inputs=symbols, arrays=("",)))
    helpers = sorted({h for f in functions for h in f.helpers})
    inputs = tuple((names[s], tuple(spec.test_shapes[s.name]), spec.kinds.get(s.name, "normal")) for s in symbols)
    needs = "NumPy" if printer.library == "NumPy" else f"{printer.library} and NumPy"
    sums_to_one = sorted(names[s] for s in symbols if spec.kinds.get(s.name) in ("probability", "onehot"))
    header = _raw_docstring(
        f"{spec.title}\n\nGenerated by nnsym; needs {needs} only. self_test() checks the gradients against\n"
        "central finite differences.\n\n" + _sums_to_one_note(sums_to_one, printer) + _precision_note(printer)
        + _formulas([*spec.forward_formulas, *spec.gradient_formulas, *spec.hessian_formulas]))
    constants = "\n".join([
        f"PARAMETERS = {tuple(names[p] for p in parameters)!r}",
        "# (name, shape, kind) of each argument at which self_test() checks the gradients",
        f"INPUTS = {inputs!r}",
        f"HESSIANS = {hessian_names!r}",
    ])
    parts = [header, printer.imports, constants]
    if helpers:
        parts.append(helper_source(helpers, printer.stable_module))
    parts.extend(f.source for f in functions)
    parts.append(inspect.getsource(finite_difference_check._draw))
    parts.append(inspect.getsource(finite_difference_check.self_test))
    return "\n\n\n".join(part.rstrip() for part in parts) + "\n"


def load(source: str, name: str = "nnsym_exported") -> types.ModuleType:
    """The module that `module_source` wrote, imported from its text.

    Like `compile_function`, this executes only text nnsym wrote: identifiers from the sanitiser,
    numbers from `float`, no character of user input copied in.
    """
    module = types.ModuleType(name)
    exec(compile(source, f"<{name}>", "exec"), module.__dict__)  # noqa: S102
    return module
