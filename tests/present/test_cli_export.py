"""`nnsym export`: writes a module that runs, and bad input is one stderr line with exit code 2."""

import numpy as np
import pytest

from nnsym.emit.standalone import load
from nnsym.present.cli import main


def test_export_network_to_a_file(tmp_path, capsys):
    target = tmp_path / "mlp.py"
    code = main(["export", "--sizes", "3,4,2", "--activation", "tanh", "--loss", "softmax_cross_entropy",
                 "--batch", "B", "--mean", "-o", str(target)])
    assert code == 0 and capsys.readouterr().err == ""
    module = load(target.read_text())
    assert module.PARAMETERS == ("W_1", "b_1", "W_2", "b_2")
    assert module.self_test() < 1e-6


def test_export_function_to_stdout_matches_the_closed_form(capsys):
    code = main(["export", "--function", r"\frac{1}{2}\|W x - y\|^2", "--wrt", "W", "--wrt", "x",
                 "--shape", "W=3x2", "--shape", "x=2", "--shape", "y=3"])
    assert code == 0
    module = load(capsys.readouterr().out)
    rng = np.random.default_rng(0)
    W, x, y = rng.standard_normal((3, 2)), rng.standard_normal((2, 1)), rng.standard_normal((3, 1))
    found = module.gradients(W=W, x=x, y=y)
    np.testing.assert_allclose(found["W"], (W @ x - y) @ x.T, rtol=1e-12)
    np.testing.assert_allclose(found["x"], W.T @ (W @ x - y), rtol=1e-12)


@pytest.mark.parametrize("argv, message", [
    (["export", "--target", "fortran"], "invalid choice: 'fortran'"),
    (["export", "--function", "x^\\top x", "--wrt", "q", "--shape", "x=3"], "cannot differentiate with respect to 'q'"),
    (["export", "--wrt", "W"], "--wrt, --shape, --assume and --define go with --function"),
    (["export", "--sizes", "2,2,1", "-o", "/nonexistent-folder/out.py"], "cannot write /nonexistent-folder/out.py"),
    (["export", "--sizes", "2,2,1", "--hessian"], "Hessians are exported for functions of a vector"),
])
def test_bad_input_is_one_line_and_exit_2(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_export_every_activation_from_the_command_line(tmp_path, capsys):
    """Each activation the help text offers exports a module that passes its self-test (ELU used to end
    in a traceback: its default alpha was a Python int the LaTeX printer could not read)."""
    for activation in ("sigmoid", "tanh", "relu", "leaky_relu", "softplus", "elu", "gelu"):
        target = tmp_path / f"{activation}.py"
        code = main(["export", "--sizes", "2,3,1", "--activation", activation, "--loss", "binary_cross_entropy",
                     "--batch", "4", "--mean", "--weight-decay", "-o", str(target)])
        assert code == 0 and capsys.readouterr().err == "", activation
        module = load(target.read_text())
        assert module.PARAMETERS == ("W_1", "b_1", "W_2", "b_2")
        assert module.self_test() < 1e-6
