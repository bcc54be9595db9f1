"""`export`: standalone gradient code for a network or a function, derived, verified, then written.

The formulas are derived and checked (finite differences, the elementwise oracle where small) exactly
as `grad`, `backprop` and `hessian` hand them out; only then is the module written for the chosen
target (`nnsym.emit.standalone`). The module needs its array library only, never SymPy or nnsym.
"""

from __future__ import annotations

from typing import Mapping, Optional, Sequence, Union

from nnsym.declare.expressions import Expr, Symbol
from nnsym.declare.reading import parse_shape, read_definition
from nnsym.declare.layers import Network
from nnsym.declare.names import canonical_name
from nnsym.derive.adjoints import adjoint_hook
from nnsym.emit.jax_code import JaxPrinter
from nnsym.emit.latex import latex
from nnsym.emit.numpy_code import NumPyPrinter
from nnsym.emit.standalone import ModuleSpec, module_source
from nnsym.emit.torch_code import TorchPrinter
from nnsym.errors import InputError
from nnsym.present.results import backprop, gradients, hessian
from nnsym.verify.evaluate import concrete_shape
from nnsym.verify.points import small_sizes

TARGETS = {"numpy": NumPyPrinter, "jax": JaxPrinter, "torch": TorchPrinter}
# The assumption a symbol's self-test value honours, strongest first (as `verify.points.draw`).
_KINDS = ("spd", "symmetric", "positive-determinant", "positive", "probability", "onehot")


def _kind(symbol: Symbol) -> str:
    return next((k for k in _KINDS if k in symbol.assumptions), "normal")


def _test_shapes(symbols) -> dict:
    sizes = small_sizes(symbols)
    return {s.name: concrete_shape(s, sizes) for s in symbols}


def _variables(f: Expr, wrt) -> list:
    """The symbols named in ``wrt`` (names or symbols), in the order given."""
    if isinstance(wrt, (str, Symbol)):
        wrt = [wrt]
    if wrt is not None and not isinstance(wrt, (list, tuple)):
        raise InputError(f"wrt names the variables (a name, a symbol or a list of them), not {type(wrt).__name__}")
    by_name = {s.name: s for s in f.free_symbols()}
    out = []
    for item in wrt or ():
        if isinstance(item, Symbol):
            # A symbol of the same name but another shape or assumptions is not the function's variable.
            if item not in f.free_symbols():
                raise InputError(f"the function does not depend on {item!r}"
                                 + (f"; its {item.name} is {by_name[item.name]!r}" if item.name in by_name else ""))
            out.append(item)
            continue
        if not isinstance(item, str):
            raise InputError(f"wrt names the variables (names or symbols), not {type(item).__name__} {item!r}")
        name = canonical_name(item)
        if name not in by_name:
            raise InputError(f"cannot differentiate with respect to {item!r}: the function has {', '.join(sorted(by_name))}")
        out.append(by_name[name])
    if not out:
        raise InputError("name the variables to differentiate with respect to (wrt)")
    return out


def export(source: Union[Network, Expr, str], wrt: Union[str, Symbol, Sequence, None] = None, *,
           shapes: Optional[Mapping[str, object]] = None, assumptions: Optional[Mapping] = None,
           target: str = "numpy", hessians: bool = False,
           title: Optional[str] = None, verify: bool = True) -> str:
    """The source of a standalone module computing ``source`` and its gradients.

    ``source`` is a `Network` (the gradients of all its weights and biases), an expression, or a
    formula in LaTeX with the ``shapes`` of its symbols (``{"W": "3x2", "x": "2"}``) and their
    ``assumptions`` (``{"A": "spd"}``); for the last two
    ``wrt`` names the variables. ``hessians`` adds the Hessian of each (vector) variable. ``target``
    is numpy, jax or torch.
    """
    if not isinstance(target, str) or target not in TARGETS:
        raise InputError(f"unknown target {target!r}; known: {', '.join(TARGETS)}")
    printer = TARGETS[target]
    title = _title(title)
    for option, example, value in (("shapes", "{'W': '3x2'}", shapes), ("assumptions", "{'A': 'spd'}", assumptions)):
        if value is not None and not isinstance(value, Mapping):
            raise InputError(f"export: {option} is a mapping from symbol names, e.g. {example}, not a {type(value).__name__}")
    if isinstance(source, Network):
        if hessians:
            raise InputError("Hessians are exported for functions of a vector, not for networks")
        # Both checks (finite differences, the elementwise oracle), at sizes `verify.budget` chooses; a
        # wrong formula raises VerificationError.
        result = backprop(source, verify=verify)
        fw = result.forward
        spec = ModuleSpec(
            title=title or _network_title(source),
            loss=fw.loss,
            gradients={p: result.equations.gradients[p] for p in fw.parameters},
            prediction=fw.output,
            test_shapes=_test_shapes(sorted(fw.loss.free_symbols(), key=lambda s: s.name)),
            kinds={s.name: _kind(s) for s in fw.loss.free_symbols()} | ({fw.penalty.name: "positive"} if fw.penalty else {}),
            forward_formulas=result.forward_lines(),
            gradient_formulas=result.backward_lines(),
        )
        return module_source(spec, printer)
    if isinstance(source, str):
        shapes = {name: parse_shape(spec) if isinstance(spec, str) else spec for name, spec in (shapes or {}).items()}
        # The docstrings show nnsym's own LaTeX of what was read, never the user's text itself.
        # A named function (L = ...) is read as derive and check read it (issue 10).
        source = read_definition(source, shapes, assumptions)[1]
    elif not isinstance(source, Expr):
        raise InputError(f"export takes a Network, an expression or a LaTeX formula, not {type(source).__name__}")
    if not source.is_scalar:
        raise InputError(f"gradients are of scalar functions; this one is {source.rows} x {source.cols}")
    variables = _variables(source, wrt)
    if hessians:
        for v in variables:
            if v.cols != 1:
                raise InputError(f"Hessians are exported for vectors and scalars; {v.name} is {v.rows} x {v.cols}")
    # Verified as `gradients` and `hessian` hand them out (`verify.budget` chooses the sizes: as given,
    # a copy with smaller sizes, or full size along random directions, and the reports say which).
    # Named intermediates (a transformer block's) name their adjoints, as a network names its deltas.
    adjoints = []
    found = gradients(source, variables, verify=verify,
                      hook=adjoint_hook(source, lambda name, definition: adjoints.append((name, definition))))
    hessian_results = {v: hessian(source, v, verify=verify) for v in variables} if hessians else {}
    symbols = sorted(source.free_symbols(), key=lambda s: s.name)
    spec = ModuleSpec(
        title=title or f"f = {latex(source)}",
        loss=source,
        gradients={v: found[v].expression for v in variables},
        hessians={v: h.expression for v, h in hessian_results.items()},
        test_shapes=_test_shapes(symbols),
        kinds={s.name: _kind(s) for s in symbols},
        forward_formulas=[("f", latex(source))],
        gradient_formulas=[(a.name, latex(definition)) for a, definition in adjoints]
        + [(rf"\frac{{\partial f}}{{\partial {v.name}}}", found[v].latex()) for v in variables],
        hessian_formulas=[(rf"\frac{{\partial^2 f}}{{\partial {v.name} \partial {v.name}^\top}}", h.latex())
                          for v, h in hessian_results.items()],
    )
    return module_source(spec, printer)


def _title(title) -> Optional[str]:
    """The user's title as lines of printable text: it goes into the module's docstring, where a NUL
    would stop the module compiling and a lone surrogate stop it being written as UTF-8."""
    if title is None:
        return None
    if not isinstance(title, str):
        raise InputError(f"export: the title must be a string, not {type(title).__name__}")
    lines = ("".join(ch if ch.isprintable() else " " for ch in line).rstrip() for line in title.splitlines())
    return "\n".join(line for line in lines if line.strip()) or None


def _network_title(net: Network) -> str:
    sizes = [net.layers[0].inputs] + [layer.outputs for layer in net.layers]
    activations = ", ".join(sorted({str(layer.activation) for layer in net.layers}))
    batch = f", batch {net.batch}" if net.batch is not None else ""
    mean = " (mean over the batch)" if net.mean else ""
    return f"Network {'-'.join(map(str, sizes))}, {activations}, {net.loss}{mean}{batch}"
