"""PyTorch source code: `NumPyPrinter` with ``torch`` for ``np``.

Tensors keep the caller's float type (float32 in, float32 out; anything else becomes float64, NumPy's
default); constructors name the dtype because PyTorch's default is float32. A scalar result stays a
0-d tensor.
"""

from __future__ import annotations

from nnsym.emit import stable_torch
from nnsym.emit.numpy_code import NumPyPrinter


class TorchPrinter(NumPyPrinter):
    prefix = "torch"
    functions = {"tanh": "torch.tanh", "exp": "torch.exp", "log": "torch.log", "sqrt": "torch.sqrt"}
    stable_module = stable_torch
    imports = "import math\n\nimport numpy as np\nimport torch"
    library = "PyTorch"


    @staticmethod
    def scalar_output(text: str) -> str:
        return f"{text}[0, 0]"

    @classmethod
    def full(cls, text: str) -> str:
        return f"torch.full((1, 1), {text}, dtype=torch.float64)"

    def dtype(self) -> str:
        return super().dtype() or ", dtype=torch.float64"
