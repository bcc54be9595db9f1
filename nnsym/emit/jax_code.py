"""JAX source code: `NumPyPrinter` with ``jnp`` for ``np``.

Generated functions are jit-friendly: shapes are asserted (they are static under ``jax.jit``), but
no value is turned into a Python number inside, so a scalar result stays a 0-d array.
"""

from __future__ import annotations

from nnsym.emit import stable_jax
from nnsym.emit.numpy_code import NumPyPrinter


class JaxPrinter(NumPyPrinter):
    prefix = "jnp"
    functions = {"tanh": "jnp.tanh", "exp": "jnp.exp", "log": "jnp.log", "sqrt": "jnp.sqrt"}
    stable_module = stable_jax
    imports = "import math\n\nimport jax\nimport jax.numpy as jnp\nimport numpy as np"
    library = "JAX"

    argument_helper = None  # JAX's own default float type, below

    @classmethod
    def as_array(cls, text: str) -> str:
        # The default float type: float32 unless jax_enable_x64 is set (asking for float64 warns).
        return f"jnp.asarray({text}, dtype=jnp.result_type(float))"

    @staticmethod
    def scalar_output(text: str) -> str:
        return f"{text}[0, 0]"
