"""Vectors and matrices: dot product, matrix product, transpose rules, norms, with worked examples."""

import numpy as np

import nnsym as ns
from nnsym.declare import expressions as E
from nnsym.present.notes import Display, Formula, Note, Text, array_latex, script_main, steps
from nnsym.verify.formulas import relative_error

U = np.array([1.0, -2.0, 3.0])
V = np.array([4.0, 0.5, -1.0])
P = np.array([[1.0, 2.0, 0.0], [-1.0, 3.0, 1.0]])
Q = np.array([[2.0, 1.0], [0.0, -1.0], [4.0, 2.0]])


def _dot_by_loop(u, v):
    return sum(a * b for a, b in zip(u, v))


def _product_by_loops(a, b):
    """c_ij = sum_k a_ik b_kj, entry by entry."""
    out = np.zeros((a.shape[0], b.shape[1]))
    for i in range(a.shape[0]):
        for j in range(b.shape[1]):
            out[i, j] = sum(a[i, k] * b[k, j] for k in range(a.shape[1]))
    return out


def note() -> Note:
    """02: vectors and matrices."""
    dot = U @ V
    product = P @ Q
    length = float(np.sqrt(U @ U))
    frobenius = float(np.sqrt(np.sum(P * P)))
    n, m, k = "n", "m", "k"
    x, y = ns.vector("x", n), ns.vector("y", n)
    A, B = ns.matrix("A", m, n), ns.matrix("B", n, k)
    C = ns.matrix("C", m, n)
    S = ns.matrix("A", n, n)
    quadratic = ns.transpose(x) @ S @ x
    return Note(2, "vectors-and-matrices", "Vectors and matrices", (
        Text("A vector $x \\in \\mathbb{R}^n$ is a column of $n$ numbers; a matrix $A \\in \\mathbb{R}^{m \\times n}$ "
             "has $m$ rows and $n$ columns. The dot product of two vectors of the same length is the sum of the "
             "products of their entries, $x^\\top y = \\sum_i x_i y_i$. For example, with"),
        Display(rf"u = {array_latex(U[:, None])}, \quad v = {array_latex(V[:, None])}, \quad "
                rf"u^\top v = {array_latex(dot)}",
                lambda: ("against the sum of products, term by term", relative_error(dot, _dot_by_loop(U, V)))),
        Text("The matrix product $C = A B$ of an $m \\times n$ and an $n \\times k$ matrix is $m \\times k$, with "
             "$c_{ij} = \\sum_l a_{il} b_{lj}$: the dot product of row $i$ of $A$ with column $j$ of $B$."),
        Display(rf"P Q = {array_latex(P)} {array_latex(Q)} = {array_latex(product)}",
                lambda: ("against the sum over l, entry by entry", relative_error(product, _product_by_loops(P, Q)))),
        Text("The transpose swaps rows and columns. Its rules, each checked at random matrices against the "
             "transpose computed entry by entry:"),
        Formula(ns.transpose(B) @ ns.transpose(A), r"\left(A B\right)^\top", reference=E.Transpose(E.MatMul(A, B))),
        Formula(ns.transpose(A) + ns.transpose(C), r"\left(A + C\right)^\top", reference=E.Transpose(E.Add(A, C))),
        Formula(ns.transpose(x) @ y, r"y^\top x", reference=E.MatMul(E.Transpose(y), x)),
        Text("The Euclidean norm of a vector is $\\|x\\| = \\sqrt{x^\\top x}$, and the Frobenius norm of a matrix "
             "is the same taken over all its entries, $\\|A\\|_F^2 = \\operatorname{tr}(A^\\top A)$:"),
        Formula(ns.transpose(x) @ x, r"\left\|x\right\|^{2}", reference=ns.norm(x, squared=True)),
        Formula(ns.trace(ns.transpose(A) @ A), r"\left\|A\right\|_F^{2}", reference=ns.norm(A, squared=True)),
        Text("For the vector $u$ and the matrix $P$ of the examples above:"),
        Display(rf"\left\|u\right\| = {array_latex(length)}, \quad \left\|P\right\|_F = {array_latex(frobenius)}",
                lambda: ("against numpy.linalg.norm", max(relative_error(length, np.linalg.norm(U)),
                                                          relative_error(frobenius, np.linalg.norm(P, "fro"))))),
        Text("Two gradients that follow from these rules. For the quadratic form $x^\\top A x$ with a square $A$ "
             "the product rule gives two terms, collected into one:"),
        steps(quadratic, [x]),
        Formula(ns.grad(quadratic, x).expression, r"\nabla_x \left(x^\top A x\right)",
                reference=(S + ns.transpose(S)) @ x, derivative_of=(quadratic, x)),
        Text("and the squared norm, $\\nabla_x \\|x\\|^2 = 2x$:"),
        Formula(ns.grad(ns.norm(x, squared=True), x).expression, r"\nabla_x \left\|x\right\|^{2}",
                reference=2 * x, derivative_of=(ns.norm(x, squared=True), x)),
    ))


if __name__ == "__main__":
    raise SystemExit(script_main(note))
