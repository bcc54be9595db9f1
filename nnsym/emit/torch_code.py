"""PyTorch source code: `NumPyPrinter` with ``torch`` for ``np``.

Tensors keep the caller's float type (float32 in, float32 out; anything else becomes float64, NumPy's
default); constructors name the dtype because PyTorch's default is float32. A scalar result stays a
0-d tensor.
"""

from __future__ import annotations

from nnsym.declare.expressions import Constant
from nnsym.emit.lowering import SigmoidPrimeOf, TanhPrimeOf
from nnsym.emit import stable_torch
from nnsym.emit.numpy_code import NumPyPrinter


class TorchPrinter(NumPyPrinter):
    prefix = "torch"
    functions = {"tanh": "torch.tanh", "exp": "torch.exp", "log": "torch.log", "sqrt": "torch.sqrt"}
    stable_module = stable_torch
    imports = "import math\n\nimport numpy as np\nimport torch"
    library = "PyTorch"
    convolution_kernels = True  # issue 15h: F.conv2d and its adjoints instead of unfold/fold


    @staticmethod
    def scalar_output(text: str) -> str:
        return f"{text}[0, 0]"

    @classmethod
    def full(cls, text: str) -> str:
        return f"torch.full((1, 1), {text}, dtype=torch.float64)"

    def dtype(self) -> str:
        return super().dtype() or ", dtype=torch.float64"

    # ---- normalization and attention (issue 14) ----
    axis_keywords = ("dim", "keepdim")

    def _print_PadColumns(self, node):
        return f"torch.nn.functional.pad({self.arg(node)}, ({node.start}, {node.total - node.stop}))"

    # ----- an elementwise function of a number (the log 2 pi of a Gaussian; issue 16) -----
    def _print_Apply(self, node):
        # torch.log takes tensors only; a number's log, exp or square root is a Python float from math.
        if isinstance(node.args[0], Constant) and node.function.name in ("log", "exp", "sqrt", "tanh"):
            return f"math.{node.function.name}({self.arg(node)})"
        return super()._print_Apply(node)

    # ----- issue 15h: g o sigma'(z) and g o tanh'(z) from sigma(z), tanh(z) in one kernel -----
    def _print_Hadamard(self, node):
        for i, prime in enumerate(node.args):
            if isinstance(prime, (SigmoidPrimeOf, TanhPrimeOf)):
                name = "sigmoid_vjp" if isinstance(prime, SigmoidPrimeOf) else "tanh_vjp"
                return f"{self.helper(name)}({self.arg(node, 1 - i)}, {self.names[prime.args[0]]})"
        return super()._print_Hadamard(node)

    # ----- single-channel correlation as typed (issue 15e): torch has no negative-step slices -----
    def _print_Rot180(self, node):
        return f"torch.flip({self.arg(node)}, (0, 1))"
