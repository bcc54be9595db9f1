"""No user text is ever executed, and no input makes nnsym hang or overflow the stack (issue 5).

1. A scan of nnsym's source (ast) for the calls that run or parse code; each remaining use is in
   `ALLOWED` with the reason it is safe, and the list has no stale entries.
2. Hostile names and values (quotes, semicolons, ``__import__``, newlines, backslashes) through
   every door: LaTeX, symbol and size declarations, exponents and parameters, generated code, the
   command line. The payload would create a file; each test asserts that it does not exist.
3. Blow-up is bounded: a formula too large to write out, a chain too deep to walk, a power too large
   to compute each get an `InputError` quickly.
"""

from __future__ import annotations

import ast
import keyword
import re
import time
from pathlib import Path

import numpy as np
import pytest
import sympy

import nnsym as ns
from nnsym.declare.reading import read_claim, read_latex
from nnsym.declare.names import identifier
from nnsym.emit import numpy_code
from nnsym.emit.numpy_code import compile_function, module_source, write_function
from nnsym.present import cli

PACKAGE = Path(ns.__file__).parent

# ----------------------------------------------------------------------------------------------------
# 1. The source scan
# ----------------------------------------------------------------------------------------------------

# Calls that run text as code or parse it (SymPy's sympify/nsimplify/parse_expr run eval on a string).
RISKY_NAMES = {"eval", "exec", "compile", "sympify", "S", "parse_expr", "lambdify", "__import__", "nsimplify",
               "import_module", "parse_latex"}
RISKY_MODULES = {"pickle", "marshal", "shelve", "subprocess", "os", "importlib", "dill", "cloudpickle"}

# (file, enclosing function, call) -> why the use is safe. sympify(..., strict=True) is safe by itself
# (strict mode refuses strings) and needs no entry.
ALLOWED = {
    ("nnsym/emit/numpy_code.py", "compile_function", "exec"):
        "runs only the module text write_function produced: identifiers from names.identifier (a whitelist), "
        "numbers through float(); the injection tests below prove it",
    ("nnsym/emit/numpy_code.py", "compile_function", "compile"): "the same generated text, compiled for that exec",
    ("nnsym/emit/standalone.py", "load", "exec"): "imports a module that module_source wrote (same sanitiser)",
    ("nnsym/emit/standalone.py", "load", "compile"): "the same generated module text",
    ("nnsym/declare/linear_equations.py", "_scalar", "nsimplify"):
        "called only on a SymPy expression (strings are refused at the top of _scalar)",
    ("nnsym/verify/elementwise.py", "_scalar_function", "lambdify"):
        "lambdify of SymPy expressions the oracle built from nodes over its own placeholders p_0, p_1, ..., "
        "never of a string",
    ("nnsym/__init__.py", "__getattr__", "import_module"):
        "imports one of nnsym's own modules, looked up in the fixed table _EXPORTS by a public name; "
        "any other attribute is an AttributeError",
    ("nnsym/present/cli.py", "main", "os.open"):
        "opens os.devnull (a fixed name) when the reader of our output has gone (broken pipe)",
    ("nnsym/present/cli.py", "main", "os.dup2"): "points stdout at that os.devnull descriptor, nothing else",
    ("nnsym/present/notes.py", "compile_pdf", "subprocess.run"):
        "an argument list (no shell) naming a TeX engine found by shutil.which and a file nnsym wrote",
}


def risky_calls():
    """(file, enclosing function, call, keyword arguments) for every risky call in the package."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        where = path.relative_to(PACKAGE.parent).as_posix()
        scope = []

        class Visitor(ast.NodeVisitor):
            def visit_FunctionDef(self, node):
                scope.append(node.name)
                self.generic_visit(node)
                scope.pop()

            visit_AsyncFunctionDef = visit_FunctionDef

            def visit_Call(self, node):
                f, name = node.func, None
                if isinstance(f, ast.Name) and f.id in RISKY_NAMES:
                    name = f.id
                elif isinstance(f, ast.Attribute) and f.attr in RISKY_NAMES - {"compile"}:
                    name = f.attr  # re.compile is not compile
                elif isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id in RISKY_MODULES:
                    name = f"{f.value.id}.{f.attr}"
                if name:
                    keywords = {k.arg: ast.unparse(k.value) for k in node.keywords}
                    found.append((where, scope[-1] if scope else "<module>", name, keywords))
                self.generic_visit(node)

        Visitor().visit(ast.parse(path.read_text(encoding="utf-8")))
    return found


def test_every_call_that_runs_or_parses_code_is_justified():
    unexplained = [(where, function, name) for where, function, name, keywords in risky_calls()
                   if not (name == "sympify" and keywords.get("strict") == "True")
                   and (where, function, name) not in ALLOWED]
    assert not unexplained, f"add a reason to ALLOWED or remove the call: {unexplained}"


def test_the_allow_list_has_no_stale_entries():
    present = {(where, function, name) for where, function, name, _ in risky_calls()}
    assert set(ALLOWED) <= present, set(ALLOWED) - present


def test_the_scan_sees_the_calls_it_looks_for():
    """The scanner is not vacuous: it finds the one exec nnsym has, and a sympify without strict."""
    assert any(name == "exec" for _, _, name, _ in risky_calls())
    tree = ast.parse("import sympy\ndef f(text):\n    return sympy.sympify(text)\n")
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
    assert calls[0].func.attr in RISKY_NAMES


def test_no_shell_anywhere():
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "shell=True" not in text, path
        assert "shell-escape" not in text.replace("no-shell-escape", ""), path


# ----------------------------------------------------------------------------------------------------
# 2. Hostile text through every door
# ----------------------------------------------------------------------------------------------------


@pytest.fixture
def marker(tmp_path):
    """A file the payload would create, and the payload itself."""
    path = tmp_path / "pwned"
    payload = f"__import__('pathlib').Path({str(path)!r}).touch()"
    yield path, payload
    assert not path.exists(), "injected code ran"


def hostile_texts(payload):
    return [
        payload,
        f"x'); {payload}; ('",
        f'x"); {payload}; ("',
        f"x\n{payload}",
        f"x\\\n{payload}",
        f"x;{payload}",
        f"x'+{payload}+'",
        f"{payload}#",
        "\"\"\"\n" + payload + "\n\"\"\"",
        "'''\n" + payload + "\n'''",
        "x\x00" + payload,
        "__import__",
        "\\__import__",
    ]


_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def assert_safe_identifier(name):
    ident = identifier(name)
    assert _IDENTIFIER.match(ident) and not keyword.iskeyword(ident), (name, ident)


def run_generated(expression, values):
    """Generate, compile and run the NumPy code of an expression (the docstring is tested apart)."""
    function = compile_function(write_function("f", {"": expression}))
    return function(**values)


def test_hostile_symbol_names_are_refused_or_sanitised(marker):
    _, payload = marker
    for text in hostile_texts(payload) + ["x'", "a'+(print)('hi')+'", "(print)", "x\\", "\\", "os", "exec", "np",
                                          "float", "softmax", "sigmoid", "lambda", "t1"]:
        for declare in (lambda n: ns.scalar(n), lambda n: ns.vector(n, 2), lambda n: ns.matrix(n, 2, 2)):
            try:
                symbol = declare(text)
            except ns.InputError as error:
                assert str(error)
                continue
            # Accepted: the identifier is a plain name and the generated code runs as intended.
            assert_safe_identifier(symbol.name)
            value = np.arange(1.0, 1.0 + np.prod([int(d) for d in symbol.shape])).reshape(
                [int(d) for d in symbol.shape])
            f = ns.sum_entries(ns.softmax(ns.sigmoid(symbol) + 0 * symbol)) if symbol.shape[1] == 1 \
                else ns.norm(ns.sigmoid(symbol), squared=True)
            got = run_generated(f, {identifier(symbol.name): value})
            np.testing.assert_allclose(got, ns.evaluate(f, {symbol.name: value})[0, 0], rtol=1e-12)


def test_a_symbol_named_after_a_helper_or_builtin_does_not_shadow_it():
    """Found by this suite: a vector called softmax (or float) shadowed the helper (or the builtin)
    inside the generated function, which then called an array."""
    for name in ("softmax", "sigmoid", "float", "logsumexp", "np", "math"):
        z = ns.vector(name, 3)
        f = ns.logsumexp(ns.sigmoid(z)) + ns.sum_entries(ns.softmax(z))
        g = ns.grad(f, z)
        value = np.array([0.5, -1.0, 2.0])
        np.testing.assert_allclose(g.to_numpy()(**{name: value}).ravel(),
                                   ns.evaluate(g.expression, {name: value}).ravel(), rtol=1e-12)


def test_every_helper_of_every_printer_is_reserved():
    helpers = set(numpy_code.HELPERS)
    for module in ("stable_jax", "stable_torch"):
        try:
            stable = __import__(f"nnsym.emit.{module}", fromlist=["_"])
        except ImportError:
            continue
        helpers |= {n for n, v in vars(stable).items() if callable(v) and getattr(v, "__module__", "") == stable.__name__}
    assert all(identifier(h) != h for h in helpers), [h for h in helpers if identifier(h) == h]


def test_hostile_latex_is_refused_or_read_safely(marker):
    _, payload = marker
    shapes = {"x": "2", "W": "2x2"}
    texts = hostile_texts(payload) + [
        rf"\operatorname{{{payload}}}(x)", rf"\mathrm{{{payload}}}", rf"\text{{{payload}}}", rf"x^{{{payload}}}",
        rf"\frac{{{payload}}}{{2}}", rf"W_{{{payload}}} x", rf"\sqrt{{{payload}}}", rf"x_{{{payload}}}",
        rf"\sigma({payload})", rf"\operatorname{{LeakyReLU}}_{{{payload}}}(x)", rf"\{payload}",
    ]
    for text in texts:
        for read in (read_latex, read_claim):
            try:
                result = read(text, shapes)
            except ns.NnsymError as error:
                assert str(error)
                continue
            expression = result[2] if isinstance(result, tuple) else result
            ns.latex(expression)
            if expression.is_scalar:
                write_function("f", {"": expression})


def test_hostile_declarations_in_the_reader_are_refused(marker):
    _, payload = marker
    for shapes, assumptions in [({payload: "2"}, None), ({"x": payload}, None), ({"x": "2"}, {"x": payload}),
                                ({"x": f"2x{payload}"}, None), ({"x": "n;" + payload}, None)]:
        with pytest.raises(ns.NnsymError):
            read_latex("x", shapes, assumptions)


def test_hostile_numbers_are_refused_before_sympy_parses_them(marker):
    """Found by this suite: ``x ** "..."`` went to sympy.sympify and ``leaky_relu(z, "...")`` to
    sympy.nsimplify, both of which run eval on a string: the payload created the file."""
    _, payload = marker
    x, z = ns.scalar("x"), ns.vector("z", 2)
    attempts = [lambda: x ** payload, lambda: ns.leaky_relu(z, payload), lambda: ns.elu(z, payload),
                lambda: ns.vector("v", payload), lambda: ns.matrix("M", 2, payload), lambda: ns.ones(payload),
                lambda: ns.vector("v", sympy.Symbol(f"n'+{payload}+'")), lambda: ns.identity(sympy.Symbol(payload)),
                lambda: x * payload, lambda: x + payload, lambda: payload @ x, lambda: x / payload,
                lambda: ns.network(["n_0", payload]), lambda: ns.network([2, 2], activation=payload),
                lambda: ns.network([2, 2], loss=payload), lambda: ns.network([2, 2], batch=payload),
                lambda: ns.dense(2, 2, activation=payload)]
    for attempt in attempts:
        with pytest.raises(ns.NnsymError):
            attempt()


def test_generated_code_takes_no_name_or_title_as_code(marker):
    _, payload = marker
    x = ns.vector("x", 2)
    f = ns.norm(x, squared=True)
    for name in (f"f(): pass\n{payload}\ndef g", "f; " + payload, "class", "", "f\u00e9"):
        with pytest.raises(ns.InputError):
            write_function(name, {"": f})
    function = write_function("f", {"": f}, doc=f'"""\n{payload}\n"""\\')
    for title in (f'"""\n{payload}\n"""', f"\\N{{{payload}}}", "\\"):
        namespace = {}
        exec(compile(module_source([function], title), "<test>", "exec"), namespace)  # noqa: S102
        assert namespace["f"](x=np.array([1.0, 2.0])) == pytest.approx(5.0)


def test_hostile_command_lines_exit_2(marker, capsys):
    _, payload = marker
    for argv in (["backprop", "--sizes", f"2,{payload}"], ["backprop", "--activation", payload],
                 ["backprop", "--loss", payload], ["backprop", "--batch", payload], [payload]):
        assert cli.main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("nnsym: ") and "Traceback" not in err


# ----------------------------------------------------------------------------------------------------
# 3. Blow-up is bounded
# ----------------------------------------------------------------------------------------------------


def doubling(rounds):
    """f = sigma(f f + f), ``rounds`` times: 3 nodes a round, a written-out formula growing ~ 3^rounds."""
    x = ns.scalar("x")
    f = x
    for _ in range(rounds):
        f = ns.sigmoid(f * f + f)
    return x, f


def test_a_formula_too_large_to_write_is_refused_quickly_but_still_exported():
    x, f = doubling(12)  # ~10^12 nodes written out
    g = ns.grad(f, x, oracle=False)  # deriving and checking walk the DAG: fast
    started = time.perf_counter()
    with pytest.raises(ns.InputError, match="written out"):
        g.latex()
    assert time.perf_counter() - started < 1.0
    # The generated code shares subexpressions, so it stays small and agrees with the evaluator.
    code = g.to_numpy()
    assert len(code.source) < 20_000
    assert code(x=0.3) == pytest.approx(float(ns.evaluate(g.expression, {"x": 0.3})[0, 0]), rel=1e-12)


def test_a_chain_too_deep_to_walk_is_an_input_error_not_a_recursion_error():
    x = ns.scalar("x")
    f = x
    for _ in range(3000):
        f = ns.tanh(f)
    with pytest.raises(ns.InputError, match="nested too deeply"):
        ns.grad(f, x)
    with pytest.raises(ns.InputError):
        ns.latex(f)
    # The evaluator walks iteratively: tanh applied 3000 times to 0.5 is still computed.
    value = 0.5
    for _ in range(3000):
        value = np.tanh(value)
    assert float(ns.evaluate(f, {"x": 0.5})[0, 0]) == pytest.approx(value, rel=1e-12)


def test_deeply_nested_activations_are_checked_by_both_checks_quickly():
    """8 nested activations took SymPy's expanded entry-by-entry derivative 40 s, so the oracle used
    to be skipped past a bound; the oracle now differentiates a straight-line program (one step per
    entry), so both checks run and grad still returns in about a second."""
    x = ns.scalar("x")
    f = x
    for i in range(8):
        f = ns.tanh(f) if i % 2 else ns.sigmoid(f) + x
    started = time.perf_counter()
    g = ns.grad(f, x)
    assert time.perf_counter() - started < 10.0
    assert [r.ok for r in g.reports] == [True, True]
    assert "finite differences" in g.reports[0].method and "elementwise SymPy" in g.reports[1].method


def test_a_formula_too_large_to_write_out_is_still_checked_by_the_oracle():
    """~10^12 nodes written out, 36 distinct ones: the oracle's program has a step per distinct node."""
    x, f = doubling(12)
    started = time.perf_counter()
    g = ns.grad(f, x)
    assert time.perf_counter() - started < 10.0
    assert [r.ok for r in g.reports] == [True, True]


def test_huge_powers_are_refused():
    A = ns.matrix("A", 2, 2)
    with pytest.raises(ns.InputError, match="factors"):
        A ** 1_000_000
    for text in ("2^{100000000}", "A^{1000000}", "10^{10^{10}}"):
        started = time.perf_counter()
        with pytest.raises(ns.NnsymError):
            read_latex(text, {"A": "2x2"})
        assert time.perf_counter() - started < 1.0
    # Within the bounds the values are right.
    assert float(ns.evaluate(read_latex("2^{10}"), {})[0, 0]) == 1024.0
    M = np.array([[1.0, 1.0], [0.0, 1.0]])
    np.testing.assert_allclose(ns.evaluate(A ** 5, {"A": M}), np.linalg.matrix_power(M, 5))
