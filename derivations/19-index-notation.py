"""Index notation: a gradient derived entry by entry, with sums and Kronecker deltas, then read into
matrix form."""

import numpy as np

import nnsym as ns
from nnsym.declare.reading import read_claim
from nnsym.present import lint_marks
from nnsym.present.notes import Display, Formula, Note, Text, script_main
from nnsym.verify.evaluate import evaluate
from nnsym.verify.formulas import against

SHAPES = {"W": "mxn", "x": "n", "y": "m"}
LOSS = r"L = \frac{1}{2} \sum_{i} \left(\sum_{k} W_{ik} x_{k} - y_{i}\right)^{2}"
CHAIN = (r"\begin{aligned} \frac{\partial L}{\partial W_{ij}} "
         r"&= \sum_{p} \left(\sum_{k} W_{pk} x_{k} - y_{p}\right) \sum_{k} \delta_{pi} \delta_{kj} x_{k} \\ "
         r"&= \left(\sum_{k} W_{ik} x_{k} - y_{i}\right) x_{j} \end{aligned}")
STEPS = [r"\frac{\partial L}{\partial W_{ij}} = \sum_{p} \left(\sum_{k} W_{pk} x_{k} - y_{p}\right) "
         r"\sum_{k} \delta_{pi} \delta_{kj} x_{k}",
         r"\frac{\partial L}{\partial W_{ij}} = \left(\sum_{k} W_{ik} x_{k} - y_{i}\right) x_{j}"]
QUADRATIC = (r"\frac{\partial f}{\partial x_{k}} = \sum_{i} \sum_{j} A_{ij} \left(\delta_{ik} x_{j} + x_{i} \delta_{jk}\right)"
             r" = \sum_{j} A_{kj} x_{j} + \sum_{i} A_{ik} x_{i}")


def _loops(W, x, y):
    """The gradient entry by entry, with Python loops: the index formula itself."""
    m, n = W.shape
    out = np.zeros((m, n))
    for i in range(m):
        r = sum(W[i, k] * x[k, 0] for k in range(n)) - y[i, 0]
        for j in range(n):
            out[i, j] = r * x[j, 0]
    return out


def _index_check(steps, gradient, variable, loops):
    """Each index-notation line read by nnsym's reader into matrix form and compared, at random
    points, with nnsym's gradient and with the index formula computed by loops."""

    def check():
        worst = 0.0
        rng = np.random.default_rng(19)
        for step in steps:
            _, named, claim = read_claim(step, SHAPES | {"A": "nxn"})
            assert named == variable
            worst = max(worst, against(claim, gradient, seed=19))
            sizes = {ns.declare.expressions.as_size("m"): 3, ns.declare.expressions.as_size("n"): 2}
            values = {"W": rng.standard_normal((3, 2)), "x": rng.standard_normal((2, 1)),
                      "y": rng.standard_normal((3, 1)), "A": rng.standard_normal((2, 2))}
            if loops is not None:
                got = evaluate(claim, values, sizes)
                want = loops(values["W"], values["x"], values["y"])
                worst = max(worst, float(np.max(np.abs(got - want)) / np.max(np.abs(want))))
        return ("each line read by nnsym's reader into matrix form: equal to nnsym's gradient at random points"
                + (" and to the index formula computed by loops" if loops is not None else ""), worst)

    return check


def _chain(text):
    """'lhs = a = b' -> ['lhs = a', 'lhs = b']: each part is a claim about the same derivative."""
    lhs, *parts = text.split(" = ")
    return [f"{lhs} = {part}" for part in parts]


def note() -> Note:
    """19: index notation."""
    W, x, y = ns.matrix("W", "m", "n"), ns.vector("x", "n"), ns.vector("y", "m")
    A, v = ns.matrix("A", "n", "n"), ns.vector("x", "n")
    loss = ns.norm(W @ x - y, squared=True) / 2
    gradient = ns.grad(loss, W).expression
    quadratic = v.T @ A @ v
    quadratic_gradient = ns.grad(quadratic, v).expression
    lint = tuple(lint_marks.derivation(loss, "L"))
    return Note(19, "index-notation", "Index notation", (
        Text("Many texts derive gradients entry by entry: $x_i$ is the $i$-th entry of the vector $x$, $W_{ij}$ "
             "the entry in row $i$ and column $j$ of $W$, $[Wx]_i = \\sum_k W_{ik} x_k$ the $i$-th entry of a "
             "product, and the Kronecker delta $\\delta_{ij}$ is 1 where $i = j$ and 0 elsewhere. A subscript on "
             "a vector or matrix is an entry when it is made of index letters; $b_1$ or $W_2$ declared as "
             "symbols of their own are names. An index is summed only where a $\\sum$ says so."),
        Text("The squared error of a linear map, written with sums:"),
        Display(LOSS, lambda: ("read by nnsym's reader into matrix form, equal to "
                               r"\frac{1}{2}\|Wx - y\|^2 at random points",
                               against(read_claim(r"\frac{\partial L}{\partial W} = " + LOSS.partition("=")[2],
                                                  SHAPES)[2], loss)), lint=lint),
        Text("Its derivative by one entry $W_{ij}$: the chain rule gives a sum over $p$ of the residual times "
             "$\\partial [Wx]_p / \\partial W_{ij} = \\sum_k \\delta_{pi} \\delta_{kj} x_k$; summing the deltas "
             "away (a sum over $p$ of something times $\\delta_{pi}$ keeps the term $p = i$) leaves one term:"),
        Display(CHAIN, _index_check(STEPS, gradient, "W", _loops), lint=lint),
        Text("The residual $\\sum_k W_{ik} x_k - y_i$ is the $i$-th entry of $Wx - y$, and an entry $i$ of one "
             "vector times an entry $j$ of another is the entry $(i, j)$ of an outer product. In matrix form:"),
        Formula(gradient, r"\nabla_W L", derivative_of=(loss, W)),
        Text("The same way for the quadratic form $f = x^\\top A x = \\sum_i \\sum_j x_i A_{ij} x_j$: the product "
             "rule gives two terms, each with one delta, and the deltas are summed away:"),
        Display(QUADRATIC, _index_check(_chain(QUADRATIC), quadratic_gradient, "x", None),
                lint=tuple(lint_marks.derivation(quadratic, "f"))),
        Text("The first sum is the entry $k$ of $A x$, the second of $A^\\top x$:"),
        Formula(quadratic_gradient, r"\nabla_x f", derivative_of=(quadratic, v)),
    ))


if __name__ == "__main__":
    raise SystemExit(script_main(note))
