"""The `nnsym` command.

Each subcommand is a function taking the parsed arguments and returning an exit code. Errors that
nnsym raises on purpose (`NnsymError`) print one line on stderr and exit 2; no traceback reaches the
user.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Callable, Dict, List, Optional

from nnsym.errors import InputError, NnsymError, command_line

SUBCOMMANDS: Dict[str, Callable] = {}


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit code 2 like every other bad input."""

    def error(self, message):
        # "nnsym: nnsym backprop: ..." would say the program twice.
        where = self.prog.partition(" ")[2]
        raise InputError(f"{where}: {message}" if where else message)


def subcommand(name: str, help_text: str):
    def register(configure):
        SUBCOMMANDS[name] = (configure, help_text)
        return configure

    return register


def _sizes(text: str) -> List:
    parts = [p.strip() for p in text.split(",")]
    if len([p for p in parts if p]) < 2:
        raise InputError(f"--sizes needs at least two comma-separated sizes, got {text!r}")
    if "" in parts:  # 2,,3 is a layer left out, not 2,3
        raise InputError(f"--sizes {text!r}: size {parts.index('') + 1} of {len(parts)} is empty")
    return [_size(p) for p in parts]


def _size(text: str):
    # isdigit alone is true of '²', which int() refuses.
    return int(text) if text.isascii() and text.isdigit() else text


@subcommand("backprop", "the forward and backpropagation equations of a dense network, verified")
def _backprop(parser: argparse.ArgumentParser):
    parser.add_argument("--sizes", default="2,2,1", help="layer sizes from input to output, e.g. 2,2,1 or n_0,n_1,n_2")
    parser.add_argument("--activation", default="sigmoid", help="sigmoid, tanh, relu, leaky_relu, softplus, elu, gelu")
    parser.add_argument("--loss", default="squared_error",
                        help="squared_error, binary_cross_entropy or softmax_cross_entropy")
    parser.add_argument("--batch", default=None, help="batch size (an int or a name such as B): examples as columns")
    parser.add_argument("--mean", action="store_true", help="divide the loss by the batch size")
    parser.add_argument("--weight-decay", action="store_true", help="add lambda/2 sum ||W||_F^2")

    def run(args) -> int:
        # Imported here, not at the top: `nnsym --help` and argument errors stay fast (start-up budget).
        from nnsym.declare.layers import network
        from nnsym.present.results import backprop

        batch = None
        if args.batch is not None:
            batch = _size(args.batch)
        net = network(_sizes(args.sizes), activation=args.activation, loss=args.loss, batch=batch,
                      mean=args.mean, weight_decay=args.weight_decay)
        result = backprop(net)
        print(result.latex())
        for report in result.reports:
            print(f"% {report}")
        return 0

    return run


@subcommand("notes", "lecture notes of the chapter, one file per topic and format, every formula verified")
def _notes(parser: argparse.ArgumentParser):
    parser.add_argument("topic", nargs="+",
                        help="topics (number, name or file stem, e.g. 4 or activation-functions), or 'all'")
    parser.add_argument("-o", "--output", required=True, help="the folder to write the notes into")
    parser.add_argument("--format", default="md,tex", help="comma-separated: md, tex, pdf, html")
    parser.add_argument("--detail", default="key", choices=("result", "key", "every"),
                        help="steps shown: the result only, the key steps, every step")
    parser.add_argument("--derivations", default=None,
                        help="a folder of your own topic scripts (NN-name.py), added to the chapter's")

    def run(args) -> int:
        # Imported here, not at the top: `nnsym --help` and argument errors stay fast (start-up budget).
        from nnsym.present.notes import build_notes

        formats = [f.strip() for f in args.format.split(",") if f.strip()]
        for message in build_notes(args.topic, args.output, formats, args.detail, args.derivations):
            print(message)
        return 0

    return run


def _declarations(args):
    """--shape NAME=SPEC and --assume NAME=KIND -> the shapes and assumptions the reader takes."""
    from nnsym.declare.expressions import ASSUMPTIONS
    from nnsym.declare.reading import parse_shape, read_name

    def split(flag, item, what):
        name, equals, value = item.partition("=")
        if not equals or not name.strip() or not value.strip():
            raise InputError(f"{flag} {item!r}: write {flag} NAME={what}")
        try:
            return read_name(name), value.strip()
        except NnsymError as error:
            raise InputError(f"{flag} {item!r}: {error}") from None

    shapes, assumptions = {}, {}
    for item in args.shape:
        name, spec = split("--shape", item, "SPEC (3x2, 3, mxn)")
        try:
            shape = parse_shape(spec)
        except NnsymError as error:
            raise InputError(f"--shape {item!r}: {str(error).partition(': ')[2]}") from None
        if shapes.setdefault(name, shape) != shape:
            raise InputError(f"--shape {item!r}: {name} already has another shape")
        shapes[name] = spec
    for item in args.assume:
        name, kind = split("--assume", item, "KIND")
        if kind not in ASSUMPTIONS:
            raise InputError(f"--assume {item!r}: unknown KIND {kind!r}; one of {', '.join(ASSUMPTIONS)}")
        assumptions.setdefault(name, []).append(kind)
    return shapes, assumptions


def _gradient_arguments(parser: argparse.ArgumentParser, wrt_required: bool = True):
    parser.add_argument("--function", required=True, metavar="LATEX", help=r"a scalar function, e.g. '\frac12\|Wx-y\|^2'")
    parser.add_argument("--wrt", required=wrt_required, metavar="NAME", help="the variable, as in the LaTeX: W, W^{(1)}")
    parser.add_argument("--shape", action="append", default=[], metavar="NAME=SPEC",
                        help="ROWSxCOLS, N (a column vector) or symbolic mxn; a symbol without a shape is a scalar")
    parser.add_argument("--assume", action="append", default=[], metavar="NAME=KIND",
                        help="symmetric, spd, positive, probability, onehot or positive-determinant")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    # issue 15: names defined by formulas (an unrolled recurrent network: h_1 = ..., h_2 = ..., T = 3)
    parser.add_argument("--define", action="append", default=[], metavar="NAME=LATEX",
                        help=r"a name the function and the claim may use, e.g. 'h_1 = \tanh(W h_0 + U x_1)' "
                             "(repeat, in order; each may use the ones before it)")


@subcommand("derive", "the closed-form gradient of a scalar function given in LaTeX, verified")
def _derive(parser: argparse.ArgumentParser):
    _gradient_arguments(parser)
    # Both checks run on every result now; the flag stays so that scripts written for it still work.
    parser.add_argument("--oracle", action="store_true",
                        help="(the default) the entry-by-entry SymPy derivation runs beside finite differences")
    _layout_argument(parser)
    parser.add_argument("--index", action="store_true", help="also print the gradient entry by entry (index notation)")

    def run(args) -> int:
        # Imported here, not at the top: start-up time is part of every call's budget.
        import json

        from nnsym.present.claims import derive
        from nnsym.present.index_form import derive_json, derive_lines

        shapes, assumptions = _declarations(args)
        gradient = derive(args.function, args.wrt, shapes, assumptions, definitions=args.define)
        if args.json:
            written = {item.partition("=")[0].strip(): None for item in args.shape + args.assume}
            print(json.dumps(derive_json(gradient, args.layout, args.index, written)))
            return 0
        for line in derive_lines(gradient, args.layout, args.index):
            print(line)
        for report in gradient.reports:
            print(f"% {report}")
        return 0

    return run


@subcommand("check", "is a hand-derived gradient right? exit 0 right, 1 wrong (with a diagnosis), 2 bad input, "
                     "4 undecided (the values are rounding noise)")
def _check(parser: argparse.ArgumentParser):
    _gradient_arguments(parser, wrt_required=False)
    parser.add_argument("--claimed", required=True, metavar="LATEX",
                        help=r"the claimed gradient, optionally with its left side: '\frac{\partial L}{\partial W} = ...'")
    _layout_argument(parser)

    def run(args) -> int:
        import json

        from nnsym.present.claims import check

        shapes, assumptions = _declarations(args)
        verdict = check(args.function, args.claimed, args.wrt, shapes, assumptions, layout=args.layout,
                        definitions=args.define)
        print(json.dumps(verdict.to_json()) if args.json else verdict)
        return 0 if verdict.ok else 4 if verdict.undecided else 1

    return run


@subcommand("export", "a standalone NumPy, JAX or PyTorch module: forward pass, all gradients in one pass, self_test()")
def _export(parser: argparse.ArgumentParser):
    parser.add_argument("--target", default="numpy", choices=("numpy", "jax", "torch"), help="the array library")
    parser.add_argument("-o", "--output", default=None, metavar="FILE", help="write the module here (default: stdout)")
    parser.add_argument("--function", default=None, metavar="LATEX",
                        help=r"a scalar function, e.g. '\frac12\|Wx-y\|^2' (without it: a network, from --sizes)")
    parser.add_argument("--wrt", action="append", default=[], metavar="NAME", help="a variable of --function (repeat for more)")
    parser.add_argument("--shape", action="append", default=[], metavar="NAME=SPEC", help="ROWSxCOLS, N or mxn")
    parser.add_argument("--assume", action="append", default=[], metavar="NAME=KIND", help="spd, positive, probability, ...")
    parser.add_argument("--hessian", action="store_true", help="also export the Hessian of each (vector) variable")
    parser.add_argument("--sizes", default="2,2,1", help="network layer sizes from input to output, e.g. 784,256,10")
    parser.add_argument("--activation", default="sigmoid", help="sigmoid, tanh, relu, leaky_relu, softplus, elu, gelu")
    parser.add_argument("--loss", default="squared_error", help="squared_error, binary_cross_entropy or softmax_cross_entropy")
    parser.add_argument("--batch", default=None, help="batch size (an int or a name such as B): examples as columns")
    parser.add_argument("--mean", action="store_true", help="divide the loss by the batch size")
    parser.add_argument("--weight-decay", action="store_true", help="add lambda/2 sum ||W||_F^2")
    parser.add_argument("--define", action="append", default=[], metavar="NAME=LATEX",
                        help=r"with --function: a name it may use, e.g. 'h_1 = \tanh(W h_0 + U x_1)' (repeat, in order)")

    def run(args) -> int:
        from nnsym.declare.definitions import definitions_of
        from nnsym.declare.layers import network
        from nnsym.present.export import export

        if args.output is not None and not args.output.strip():  # before the derivation, not after it
            raise InputError("export: -o names no file (leave it out to print the module)")
        if args.function is not None:
            shapes, assumptions = _declarations(args)
            function = args.function
            if args.define:  # the steps (h_1, h_2, ...) become named intermediates, as in derive and check
                function = definitions_of(args.define, shapes, assumptions).formula(args.function)
            source = export(function, args.wrt, shapes=shapes, assumptions=assumptions,
                            target=args.target, hessians=args.hessian)
        else:
            if args.wrt or args.shape or args.assume or args.define:
                raise InputError("export: --wrt, --shape, --assume and --define go with --function")
            batch = None
            if args.batch is not None:
                batch = _size(args.batch)
            net = network(_sizes(args.sizes), activation=args.activation, loss=args.loss, batch=batch,
                          mean=args.mean, weight_decay=args.weight_decay)
            source = export(net, target=args.target, hessians=args.hessian)
        if args.output is None:
            sys.stdout.write(source)
            return 0
        try:
            with open(args.output, "w", encoding="utf-8") as handle:
                handle.write(source)
        except OSError as error:
            raise InputError(f"export: cannot write {args.output}: {error.strerror}") from None
        return 0

    return run


def _layout_argument(parser: argparse.ArgumentParser):
    """--layout for derive, check and lint (issue 12)."""
    parser.add_argument("--layout", default=None if parser.prog.endswith("lint") else "denominator",
                        choices=("denominator", "numerator"),
                        help="numerator: gradients written as rows / transposed, as in texts that use Jacobian layout")


# ----- nnsym lint (issue 12): the first wrong step of a derivation in lecture notes -----------------

@subcommand("lint", "check every step of the derivations in .tex/.md notes: exit 0 all right, 1 a step wrong, 2 bad input")
def _lint(parser: argparse.ArgumentParser):
    parser.add_argument("files", nargs="+", metavar="FILE", help="a .tex or .md file, or - for stdin (with --format)")
    parser.add_argument("--format", default=None, choices=("tex", "md"), help="the format of stdin (or of every FILE)")
    parser.add_argument("--function", default=None, metavar="LATEX", help=r"the function, e.g. 'L = \frac12\|Wx-y\|^2'")
    parser.add_argument("--shape", action="append", default=[], metavar="NAME=SPEC",
                        help="ROWSxCOLS, N or mxn, added to the document's own declarations")
    parser.add_argument("--assume", action="append", default=[], metavar="NAME=KIND", help="spd, positive, onehot, ...")
    _layout_argument(parser)
    parser.add_argument("--strict", action="store_true", help="math that is not read is an error (exit 2)")
    parser.add_argument("--verbose", action="store_true", help="also list the steps that are right")
    parser.add_argument("--json", action="store_true", help="print one JSON object")

    def run(args) -> int:
        import json

        from nnsym.present.lint import lint_files

        shapes, assumptions = _declarations(args)
        report = lint_files(args.files, args.format, shapes, assumptions, args.function, args.layout, sys.stdin)
        if args.json:
            print(json.dumps(report.to_json()))
        else:
            print("\n".join(report.lines(args.verbose)))
        if args.strict and report.not_read:
            first = next(s for s in report.steps if s.ok is None)
            raise InputError(f"{first.file}:{first.line}: not read (--strict): {first.not_read}")
        return 0 if report.ok else 1

    return run


# ---- nnsym solve: linear equations in LaTeX (issue 13) ----


@subcommand("solve", "linear equations in LaTeX, solved exactly: one solution, none, or infinitely many")
def _solve(parser: argparse.ArgumentParser):
    parser.add_argument("--equation", action="append", default=[], required=True,
                        help="an equation, e.g. '2x + y = 3' or 'Ax = b' (repeat for a system)")
    parser.add_argument("--shape", action="append", default=[], help="NAME=SPEC, e.g. A=3x3 or x=3")
    parser.add_argument("--unknown", action="append", default=[],
                        help="an unknown (default: every scalar symbol, or the vector x)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")

    def run(args) -> int:
        # Imported here, not at the top: start-up time is part of every call's budget.
        import json

        from nnsym.present.solve import solve

        args.assume = []
        shapes, _ = _declarations(args)
        solved = solve(args.equation, shapes, args.unknown)
        print(json.dumps(solved.as_json()) if args.json else solved.latex())
        return 0

    return run


# ---- end of nnsym solve ----


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="nnsym", description="Neural-network maths, derived symbolically and verified numerically.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name, (configure, help_text) in SUBCOMMANDS.items():
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(run=configure(sub))
    return parser


def _complain(message: str, code: int = 2) -> int:
    """One line on stderr, whatever characters the input had (a lone surrogate cannot be encoded)."""
    encoding = getattr(sys.stderr, "encoding", None) or "utf-8"
    line = f"nnsym: {message}".encode(encoding, "backslashreplace").decode(encoding)
    print(line, file=sys.stderr)
    return code


# Options whose value is a formula: a formula may start with "-" (-y^\top \log ...), which argparse
# would take for an option. Joined to its flag (--function=-y...), it is read as the value (issue 10).
FORMULA_OPTIONS = ("--function", "--claimed", "--define")


def _join_formula_values(argv: List[str]) -> List[str]:
    out, i = [], 0
    while i < len(argv):
        if argv[i] in FORMULA_OPTIONS and i + 1 < len(argv) and argv[i + 1].startswith("-") \
                and argv[i + 1] not in ("-h", "--help") and not argv[i + 1].startswith("--"):
            out.append(f"{argv[i]}={argv[i + 1]}")
            i += 2
            continue
        out.append(argv[i])
        i += 1
    return out


def main(argv: Optional[List[str]] = None) -> int:
    try:
        argv = _join_formula_values(list(sys.argv[1:] if argv is None else argv))
        args = build_parser().parse_args(argv)
        with command_line():  # messages name options (--wrt W), not Python arguments
            return args.run(args)
    except NnsymError as error:
        # One line: what and where. (A reader's caret picture, if any, is for the Python API.)
        return _complain(str(error).splitlines()[0] if str(error).strip() else type(error).__name__)
    except RecursionError:
        return _complain("input nested too deeply")
    except BrokenPipeError:
        # The reader of our output left (`nnsym derive ... | head -1`): not an error of ours. Point stdout at
        # /dev/null so the interpreter's final flush does not raise again, and stop quietly, as `cat` does.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as error:  # noqa: BLE001 - a bug in nnsym: still one line, never a traceback
        detail = str(error).splitlines()[0] if str(error) else ""
        return _complain(f"internal error (a bug in nnsym, please report it): {type(error).__name__}: {detail}", 3)


if __name__ == "__main__":
    sys.exit(main())
