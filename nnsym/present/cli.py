"""The `nnsym` command.

Each subcommand is a function taking the parsed arguments and returning an exit code. Errors that
nnsym raises on purpose (`NnsymError`) print one line on stderr and exit 2; no traceback reaches the
user.
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable, Dict, List, Optional

from nnsym.errors import InputError, NnsymError

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
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if len(parts) < 2:
        raise InputError(f"--sizes needs at least two comma-separated sizes, got {text!r}")
    return [int(p) if p.isdigit() else p for p in parts]


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
            batch = int(args.batch) if args.batch.isdigit() else args.batch
        net = network(_sizes(args.sizes), activation=args.activation, loss=args.loss, batch=batch,
                      mean=args.mean, weight_decay=args.weight_decay)
        result = backprop(net)
        print(result.latex())
        for report in result.reports:
            print(f"% {report}")
        return 0

    return run


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="nnsym", description="Neural-network maths, derived symbolically and verified numerically.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name, (configure, help_text) in SUBCOMMANDS.items():
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(run=configure(sub))
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return args.run(args)
    except NnsymError as error:
        # One line: what and where. (A reader's caret picture, if any, is for the Python API.)
        print(f"nnsym: {str(error).splitlines()[0] if str(error) else type(error).__name__}", file=sys.stderr)
        return 2
    except RecursionError:
        print("nnsym: input nested too deeply", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
