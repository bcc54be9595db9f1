"""`import nnsym` loads its modules lazily; the handles every expression promises (.to_sympy(), Jupyter's
_repr_latex_) must work in a fresh interpreter, before anything has imported the printers (they did
not: X.to_sympy() was an AttributeError until some other call had loaded nnsym.emit)."""

import json
import subprocess
import sys

import sympy

SCRIPT = r"""
import json
import nnsym as ns
W, x = ns.matrix("W", 2, 3), ns.vector("x", 3)
print(json.dumps([str((W @ x).to_sympy()), (W @ x)._repr_latex_(), ns.network([3, 2, 1])._repr_latex_()]))
"""


def test_handles_work_right_after_import():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    product, shown, network = json.loads(done.stdout)
    W, x = sympy.MatrixSymbol("W", 2, 3), sympy.MatrixSymbol("x", 3, 1)
    assert product == str(W * x)
    assert shown == r"$\displaystyle W x$"
    assert network.startswith(r"$\begin{aligned}z^{(1)} &= W^{(1)} x + b^{(1)}")
