"""`export`: standalone gradient code for a network or a function, derived, verified, then written.

The formulas are derived and checked (finite differences, the elementwise oracle where small) exactly
as `grad`, `backprop` and `hessian` hand them out; only then is the module written for the chosen
target (`nnsym.emit.standalone`). The module needs its array library only, never SymPy or nnsym.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Mapping, Optional, Sequence, Union

import sympy

from nnsym.declare.attention import ColumnBlock, PadColumns
from nnsym.declare.convolution import Col2im, Im2col, _Pooling
from nnsym.declare.correlation import Correlate, Rot180
from nnsym.declare.expressions import Constant, Expr, Symbol, post_order
from nnsym.declare.reading import parse_shape, read_definition
from nnsym.declare.layers import Network
from nnsym.declare.names import canonical_name
from nnsym.derive.adjoints import adjoint_hook
from nnsym.emit.jax_code import JaxPrinter
from nnsym.emit.latex import latex
from nnsym.emit.numpy_code import NumPyPrinter
from nnsym.emit.standalone import ModuleSpec, module_source
from nnsym.emit.torch_code import TorchPrinter
from nnsym.errors import InputError, VerificationError
from nnsym.present.claims import MAX_TOTAL_ENTRIES
from nnsym.present.results import backprop, gradients, hessian
from nnsym.verify.budget import resized
from nnsym.verify.directional import check_directional
from nnsym.verify.evaluate import concrete_shape
from nnsym.verify.points import MAX_ENTRIES, entries, small_sizes, symbols_of

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
        if verify:
            # Both checks (finite differences, the elementwise oracle) on the small twin; a wrong formula
            # raises VerificationError.
            backprop(_small_twin(source))
        result = backprop(source, verify=False)
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
    # Sizes too large for finite differences (an export needs no numeric check at full size): the
    # formulas are checked on a small twin, as for networks, and must be the full-size ones resized.
    small = _small_sizes(source, variables) if verify else None
    # Named intermediates (a transformer block's) name their adjoints, as a network names its deltas.
    adjoints = []
    found = gradients(source, variables, verify=verify and not small,
                      hook=adjoint_hook(source, lambda name, definition: adjoints.append((name, definition))))
    hessian_results = {v: hessian(source, v, verify=verify and not small) for v in variables} if hessians else {}
    if small and _has_geometry(source):
        _check_at_full_size(source, variables, {v: found[v].expression for v in variables}, hessian_results)
    elif small:
        _check_on_twin(source, variables, small, {v: found[v].expression for v in variables},
                       {v: h.expression for v, h in hessian_results.items()})
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


def _small_sizes(f: Expr, variables) -> Optional[dict]:
    """``{size: small size}`` when ``f``'s sizes are too large to check quickly by finite differences, else
    None. Each distinct concrete size other than 1 becomes a distinct small one (a size of 1 stays 1,
    since it changes the algebra); symbolic sizes stay symbolic (the checks choose them small)."""
    symbols = symbols_of(f, *variables)
    symbolic = small_sizes(symbols)
    # Too many variable entries to perturb one by one, or every evaluation too slow (a 1000 x 500 X
    # makes the 3000 evaluations of a Hessian check take 10 s): either way, check the twin.
    if entries(variables, symbolic) <= MAX_ENTRIES and entries(symbols, symbolic) <= MAX_TOTAL_ENTRIES:
        return None
    concrete = sorted({d for s in symbols for d in s.shape if d.is_Integer and d != 1})
    # Distinct from the symbolic sizes' choices too: a size that happens to equal another could let
    # a transposed formula pass.
    free = (n for n in range(2, 100) if n not in symbolic.values())
    blocks = _column_blocks(f)
    if not blocks:
        return {d: sympy.Integer(next(free)) for d in concrete}
    widths = {w for w in blocks.values() if w != 1}  # a head's width is no symbol's size
    return _small_block_sizes(sorted(set(concrete) | widths), blocks, list(free))


# ----- issue 14b: the small copy of formulas whose heads split fixed column blocks -----

def _column_blocks(f: Expr) -> dict:
    """{total columns: block width} of the column blocks in ``f`` (multi-head attention's heads: block
    h of width w is columns h w to (h + 1) w of a total that is a multiple of w). A split that is not
    such a partition cannot be shrunk consistently: a clear refusal."""
    blocks: dict = {}
    for node in post_order([f]):
        if isinstance(node, ColumnBlock):
            total, width, start = node.args[0].cols, node.stop - node.start, node.start
        elif isinstance(node, PadColumns):
            total, width, start = node.total, node.args[0].cols, node.start
        else:
            continue
        total, width = sympy.Integer(total), sympy.Integer(width)
        if start % width or total % width or blocks.setdefault(total, width) != width:
            raise InputError("the column blocks of these formulas (heads) are not an even split of the columns, "
                             "so they cannot be checked on a copy with smaller sizes: export them at sizes small "
                             "enough to check, or with symbolic sizes")
        blocks[total] = width
    return blocks


def _small_block_sizes(concrete, blocks: Mapping, free: Sequence[int]) -> dict:
    """Small sizes that keep every column split: a total of k blocks of width w becomes k blocks of
    the small width, k w'. Every small size differs from the others (a size that happens to equal
    another could let a transposed formula pass)."""
    if any(width in blocks for width in blocks.values()):
        raise InputError("column blocks of column blocks cannot be checked on a copy with smaller sizes")
    small: dict = {}
    for d in concrete:
        if d in blocks:
            continue
        multiples = [int(total // d) for total, width in blocks.items() if width == d]
        small[d] = next(n for n in free if not {n, *(k * n for k in multiples)} & set(small.values()))
        for total, width in blocks.items():
            if width == d:
                small[total] = int(total // d) * small[d]
    for total, width in blocks.items():  # blocks one column wide keep their width of 1
        small.setdefault(total, int(total))
    return {d: sympy.Integer(n) for d, n in small.items() if d in concrete}


def _check_on_twin(f: Expr, variables, small: Mapping, found: Mapping, hessians: Mapping) -> None:
    """Verify the derivation on the small twin of ``f`` and require that the full-size formulas are
    exactly the twin's, resized: then what was checked is what is exported."""
    twin = resized(f, small)
    twin_variables = [resized(v, small) for v in variables]
    if entries(twin_variables, small_sizes(symbols_of(twin, *twin_variables))) > MAX_ENTRIES:
        raise InputError(f"sizes too large to check numerically (more than {MAX_ENTRIES} entries), "
                         "even with each size made small")
    checked = gradients(twin, twin_variables, hook=adjoint_hook(twin))
    for v, tv in zip(variables, twin_variables):
        if checked[tv].expression not in (resized(found[v], small), _numbers_resized(found[v], small)):
            raise VerificationError(f"the gradient with respect to {v.name} at full size is not the one "
                                    "checked at small sizes; export it with symbolic sizes (mxn)")
        if v in hessians and hessian(twin, tv).expression not in (resized(hessians[v], small),
                                                                   _numbers_resized(hessians[v], small)):
            raise VerificationError(f"the Hessian with respect to {v.name} at full size is not the one "
                                    "checked at small sizes; export it with symbolic sizes (mxn)")


def _numbers_resized(expr: Expr, small: Mapping) -> Expr:
    """``expr`` resized, with each number p/q whose p or q is a resized size resized with it: a rule
    writes a node's size as a number (layer norm's 1/n over the 256 features of a transformer block),
    which `resized` alone leaves at 1/256. Tried only after the plain comparison, so a number the user
    wrote that happens to equal a size is never changed by it; the twin itself is checked numerically."""
    shrunk = {int(d): int(n) for d, n in small.items() if d != n}
    root = resized(expr, small)
    done: dict = {}
    for node in post_order([root]):
        if isinstance(node, Constant) and node.value.is_Rational and node.value != 0:
            p, q = abs(int(node.value.p)), int(node.value.q)
            done[node] = Constant(sympy.sign(node.value) * sympy.Rational(shrunk.get(p, p), shrunk.get(q, q)))
        else:
            done[node] = node.rebuilt([done[child] for child in node.args])
    return done[root]


# ---- convolution and pooling at full size (issue 15) ------------------------------------------------
# Their nodes carry the image geometry (window, image size, padding) as data, tied to the matrix sizes
# by products (columns = batch x height x width): a copy with every matrix size shrunk is no longer the
# same formula (the old twin check failed with a ShapeError). The full-size formulas are checked
# instead by directional central differences (nnsym.verify.directional), two evaluations per direction
# at any size.

_GEOMETRY_NODES = (Im2col, Col2im, _Pooling)
_GEOMETRY_NODES += (Correlate, Rot180)  # issue 15e: X \star K, output n - k + 1 + 2p


def _has_geometry(f: Expr) -> bool:
    return any(isinstance(node, _GEOMETRY_NODES) for node in post_order([f]))


def _check_at_full_size(f: Expr, variables, found: Mapping, hessian_results: Mapping) -> None:
    if hessian_results:
        raise InputError("Hessians of convolution or pooling are not exported at sizes too large to check entry "
                         "by entry; export them at small sizes")
    report = check_directional(f, found)
    if not report.ok:
        raise VerificationError(f"the gradient with respect to {report.worst_variable} failed the full-size "
                                f"check: {report}")


def _title(title) -> Optional[str]:
    """The user's title as lines of printable text: it goes into the module's docstring, where a NUL
    would stop the module compiling and a lone surrogate stop it being written as UTF-8."""
    if title is None:
        return None
    if not isinstance(title, str):
        raise InputError(f"export: the title must be a string, not {type(title).__name__}")
    lines = ("".join(ch if ch.isprintable() else " " for ch in line).rstrip() for line in title.splitlines())
    return "\n".join(line for line in lines if line.strip()) or None


def _small_twin(net: Network) -> Network:
    """The same network with small sizes, where finite differences are quick: each distinct size
    other than 1 becomes a distinct small one (a size of 1 stays 1, since it changes the algebra). The
    derivation never looks at a size's value, so the twin's equations are the network's, resized."""
    sizes = [net.layers[0].inputs] + [layer.outputs for layer in net.layers]
    if net.batch is not None:
        sizes.append(net.batch)
    small = {}
    for size in sizes:
        if size != 1 and size not in small:
            small[size] = 2 + len(small)
    resize = lambda size: small.get(size, size)  # noqa: E731
    layers = tuple(replace(layer, inputs=resize(layer.inputs), outputs=resize(layer.outputs)) for layer in net.layers)
    return replace(net, layers=layers, batch=None if net.batch is None else resize(net.batch))


def _network_title(net: Network) -> str:
    sizes = [net.layers[0].inputs] + [layer.outputs for layer in net.layers]
    activations = ", ".join(sorted({str(layer.activation) for layer in net.layers}))
    batch = f", batch {net.batch}" if net.batch is not None else ""
    mean = " (mean over the batch)" if net.mean else ""
    return f"Network {'-'.join(map(str, sizes))}, {activations}, {net.loss}{mean}{batch}"
