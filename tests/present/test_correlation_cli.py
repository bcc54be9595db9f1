"""Correlation typed as lecturers write it (issue 15e): ``X \\star K``, ``\\star_{\\mathrm{full}}``,
``\\star_{p=1}``, ``\\operatorname{rot180}(K)`` read, printed and read back; `nnsym derive` prints dK and dX;
`nnsym check` and `nnsym lint` name "kernel not flipped" and "operands swapped"; `nnsym export` with
self_test, NumPy against PyTorch."""

import numpy as np
import pytest

import nnsym as ns
from nnsym.declare.correlation import Correlate, Rot180
from nnsym.declare.reading import read_latex
from nnsym.emit.standalone import load
from nnsym.errors import ParseError, ShapeError
from nnsym.present.cli import main
from nnsym.verify.evaluate import evaluate

SHAPES = {"X": "5x5", "K": "3x3", "Y": "3x3", "x": "7", "k": "3", "A": "5x5"}
F = r"\frac12\|X \star K - Y\|_F^2"
CLI_SHAPES = ["--shape", "X=5x5", "--shape", "K=3x3", "--shape", "Y=3x3"]


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def by_loops(x, k, p):
    """Zero padding p on every side; a negative p crops."""
    x = np.pad(x, ((max(p[0], 0),) * 2, (max(p[1], 0),) * 2))
    x = x[max(-p[0], 0):x.shape[0] - max(-p[0], 0), max(-p[1], 0):x.shape[1] - max(-p[1], 0)]
    rows, cols = x.shape[0] - k.shape[0] + 1, x.shape[1] - k.shape[1] + 1
    return np.array([[np.sum(x[i:i + k.shape[0], j:j + k.shape[1]] * k) for j in range(cols)] for i in range(rows)])


@pytest.mark.parametrize("text, shape, padding", [
    (r"X \star K", (3, 3), (0, 0)),
    (r"X \star_{\mathrm{full}} K", (7, 7), (2, 2)),
    (r"X\star_{\text{full}}K", (7, 7), (2, 2)),
    (r"X \star_\mathrm{full} K", (7, 7), (2, 2)),
    (r"X \star_{p=1} K", (5, 5), (1, 1)),
    (r"X \star_{p = (1, 2)} K", (5, 7), (1, 2)),
    (r"x \star_{p=1} k", (7, 1), (1, 0)),
    (r"X \star_{\mathrm{valid}} K", (3, 3), (0, 0)),
    (r"X \star_{\rm full} K", (7, 7), (2, 2)),
    (r"X \star_{ \mathrm{ full } } K", (7, 7), (2, 2)),
    (r"X \star_{p=-1} K", (1, 1), (-1, -1)),
])
def test_star_forms_read_with_their_padding_and_value(text, shape, padding):
    e = read_latex(text, SHAPES)
    assert isinstance(e, Correlate) and e.shape == shape and e.padding == padding
    rng = np.random.default_rng(1)
    values = {n: rng.standard_normal(tuple(int(s) for s in e.args[i].shape)) for i, n in enumerate(
        [e.args[0].name, e.args[1].name])}
    x, k = values[e.args[0].name], values[e.args[1].name]
    assert np.allclose(evaluate(e, values, {}), by_loops(x, k, padding))
    again = read_latex(ns.latex(e), SHAPES)
    assert again == e


@pytest.mark.parametrize("text", [r"\operatorname{rot180}(K)", r"\mathrm{rot180}(K)", r"\operatorname{rot}_{180}(K)",
                                  r"\operatorname{rot}_{180^\circ}(K)", r"\operatorname{rot}_{180^{\circ}}(K)"])
def test_rot180_spellings(text):
    e = read_latex(text, SHAPES)
    assert isinstance(e, Rot180) and e.args[0].name == "K"
    assert ns.latex(e) == r"\operatorname{rot180}\left(K\right)"


def test_precedence_star_binds_like_a_product_left_to_right():
    e = read_latex(r"X \star K - Y", SHAPES)
    assert ns.latex(e) == r"X \star K - Y"
    e = read_latex(r"A X \star K", SHAPES)  # (A X) \star K
    assert isinstance(e, Correlate) and ns.latex(e) == r"\left(A X\right) \star K"
    e = read_latex(r"(X \star K) Y", SHAPES)
    assert ns.latex(e) == r"\left(X \star K\right) Y" and read_latex(ns.latex(e), SHAPES) == e
    e = read_latex(r"(X \star K - Y) \star_{\mathrm{full}} \operatorname{rot180}(K)", SHAPES)
    assert e.shape == (5, 5)


def test_star_after_a_product_is_not_a_star():
    assert not isinstance(read_latex("A * X", SHAPES), Correlate)  # '*' still multiplies


@pytest.mark.parametrize("text, column, words", [
    (r"Y \star X", 3, r"correlation 3x3 \\star 5x5.*full correlation"),
    (r"2 \star X", 3, "scalar"),
    (r"X \star_{foo} K", 8, "unknown subscript"),
    (r"X \star_{1} K", 8, "unknown subscript"),
    (r"\operatorname{rot}_{90}(K)", 1, "180"),
    (r"\mathbf{1} \star K", 1, "needs its size"),
    (r"X \ast K", 3, r"\\ast and \\circledast usually mean the convolution"),
    (r"A X \star K \sum_i x_i", 5, "before a sum"),
])
def test_errors_point_at_the_position(text, column, words):
    with pytest.raises((ParseError, ShapeError), match=words) as caught:
        read_latex(text, SHAPES)
    assert str(caught.value).startswith(f"col {column}:")


def test_derive_prints_dk_and_dx(capsys):
    code, out, err = run(capsys, "derive", "--function", F, "--wrt", "K", *CLI_SHAPES)
    assert code == 0, err
    assert out.splitlines()[0] == r"\frac{\partial f}{\partial K} = X \star \left(X \star K - Y\right)"
    assert "verified by central finite differences" in out and "elementwise SymPy" in out
    code, out, err = run(capsys, "derive", "--function", F, "--wrt", "X", *CLI_SHAPES)
    assert code == 0, err
    assert out.splitlines()[0] == (r"\frac{\partial f}{\partial X} = \left(X \star K - Y\right) \star_{\mathrm{full}} "
                                   r"\operatorname{rot180}\left(K\right)")


@pytest.mark.parametrize("claim", [r"(X \star K - Y) \star_{\mathrm{full}} K",
                                   r"\frac{\partial L}{\partial X} = \left( X\star K-Y\right)\star_{\text{full}} K"])
def test_check_names_the_kernel_not_flipped(capsys, claim):
    code, out, err = run(capsys, "check", "--function", F, "--wrt", "X", *CLI_SHAPES, "--claimed", claim)
    assert code == 1, err
    assert "diagnosis: kernel not flipped" in out


@pytest.mark.parametrize("claim", [r"(X \star K - Y) \star_{\mathrm{full}} \operatorname{rot180}(K)",
                                   r"(X\star K-Y)\star_{\text{full}}\mathrm{rot}_{180}(K)"])
def test_check_passes_the_flipped_kernel(capsys, claim):
    code, out, err = run(capsys, "check", "--function", F, "--wrt", "X", *CLI_SHAPES, "--claimed", claim)
    assert code == 0, out + err
    assert out.startswith("right")


def test_forgotten_padding_says_the_input_gradient_is_a_full_correlation(capsys):
    code, out, err = run(capsys, "check", "--function", F, "--wrt", "X", *CLI_SHAPES,
                         "--claimed", r"(X \star K - Y) \star \operatorname{rot180}(K)")
    assert code == 1
    assert "full* correlation" in out and r"\star_{\mathrm{full}}" in out


def test_swapped_operands_with_same_padding(capsys):
    f = r"\frac12\|X \star_{p=1} K - Y\|_F^2"
    shapes = ["--shape", "X=5x5", "--shape", "K=3x3", "--shape", "Y=5x5"]
    code, out, err = run(capsys, "check", "--function", f, "--wrt", "K", *shapes,
                         "--claimed", r"(X \star_{p=1} K - Y) \star_{p=1} X")
    assert code == 1 and "diagnosis: operands swapped" in out
    code, out, err = run(capsys, "check", "--function", f, "--wrt", "K", *shapes,
                         "--claimed", r"X \star_{p=1} (X \star_{p=1} K - Y)")
    assert code == 0
    code, out, err = run(capsys, "check", "--function", f, "--wrt", "X", *shapes,
                         "--claimed", r"(X \star_{p=1} K - Y) \star_{p=1} K")
    assert code == 1 and "kernel not flipped" in out


def test_bad_input_exits_2(capsys):
    code, out, err = run(capsys, "derive", "--function", r"\frac12\|Y \star X\|_F^2", "--wrt", "X", *CLI_SHAPES)
    assert code == 2 and "col" in err and "Traceback" not in err


def test_lint_reads_and_checks_a_correlation_derivation(tmp_path, capsys):
    doc = tmp_path / "notes.md"
    doc.write_text("<!-- nnsym: --shape X=5x5 --shape K=3x3 --shape Y=3x3 -->\n\n"
                   "$$ L = \\frac12 \\|X \\star K - Y\\|_F^2 $$\n\n"
                   "$$ \\frac{\\partial L}{\\partial K} = X \\star (X \\star K - Y) $$\n\n"
                   "$$ \\frac{\\partial L}{\\partial X} = (X \\star K - Y) \\star_{\\mathrm{full}} K $$\n")
    code, out, err = run(capsys, "lint", str(doc))
    assert code == 1 and "kernel not flipped" in out and "2 right, 1 wrong" in out
    doc.write_text(doc.read_text().replace(r"\star_{\mathrm{full}} K", r"\star_{\mathrm{full}} \operatorname{rot180}(K)"))
    code, out, err = run(capsys, "lint", str(doc))
    assert code == 0, out


@pytest.mark.parametrize("target", ["numpy", "torch", "jax"])
def test_export_self_test(target):
    if target != "numpy":
        pytest.importorskip(target)
    f = read_latex(F, SHAPES)
    X, K = (s for s in sorted(f.free_symbols(), key=lambda s: s.name) if s.name in "XK")
    module = load(ns.export(f, wrt=[X, K], target=target))
    assert module.self_test() < (1e-4 if target == "jax" else 1e-7)


def test_exported_numpy_equals_torch_autograd():
    torch = pytest.importorskip("torch")
    f = read_latex(r"\frac12\|X \star_{p=1} K - Y\|_F^2 + \frac12\|X \star_{\mathrm{full}} K\|_F^2",
                   {"X": "9x7", "K": "3x2", "Y": "9x8"})
    symbols = {s.name: s for s in f.free_symbols()}
    module = load(ns.export(f, wrt=[symbols["X"], symbols["K"]]))
    rng = np.random.default_rng(0)
    x, k, y = rng.standard_normal((9, 7)), rng.standard_normal((3, 2)), rng.standard_normal((9, 8))
    got = module.gradients(X=x, K=k, Y=y)
    tx, tk = torch.tensor(x, requires_grad=True), torch.tensor(k, requires_grad=True)
    conv = torch.nn.functional.conv2d
    a = conv(tx[None, None], tk[None, None], padding=(1, 1))[0, 0] - torch.tensor(y)
    b = conv(tx[None, None], tk[None, None], padding=(2, 1))[0, 0]
    ((a * a).sum() / 2 + (b * b).sum() / 2).backward()
    assert np.allclose(got["X"], tx.grad.numpy(), rtol=1e-12, atol=1e-12)
    assert np.allclose(got["K"], tk.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_ones_beside_a_star_print_with_their_size_and_read_back():
    from nnsym.declare import expressions as E
    x = ns.vector("x", 8)
    e = ns.correlate(x, E.Ones(3, 1), 1)
    assert ns.latex(e) == r"x \star_{p=1} \mathbf{1}_{3}"
    assert read_latex(ns.latex(e), {"x": "8"}) == e


def test_a_transposed_kernel_is_named(capsys):
    code, out, err = run(capsys, "check", "--function", F, "--wrt", "X", *CLI_SHAPES,
                         "--claimed", r"(X \star K - Y) \star_{\mathrm{full}} K^\top")
    assert code == 1 and "diagnosis: kernel transposed, not rotated" in out


def test_swapped_operands_that_do_not_fit_say_the_input_comes_first(capsys):
    code, out, err = run(capsys, "check", "--function", F, "--wrt", "K", *CLI_SHAPES,
                         "--claimed", r"(X \star K - Y) \star X")
    assert code == 1 and "shapes do not fit" in out and r"puts the input first (X \star dY)" in out
