"""Session-wide checks that every test gets for free.

The LaTeX round trip (shared/NOTATION.md, issue 3): every formula nnsym prints while the tests run is
recorded, and after each test the formulas that test printed for the first time are read back with
nnsym's reader and evaluated against the expression they were printed from. A formula that does not
read back fails the test that printed it (an error at its teardown, naming the LaTeX).
"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from latex_round_trip import Recorder  # noqa: E402

RECORDER = Recorder()


def pytest_configure(config):
    config._latex_round_trip = RECORDER.installed()
    config._latex_round_trip.__enter__()


def pytest_unconfigure(config):
    config._latex_round_trip.__exit__(None, None, None)


@pytest.fixture(autouse=True)
def _latex_round_trip():
    """Check, after the test, the formulas it printed."""
    start = len(RECORDER.formulas)
    yield
    failures = RECORDER.check(start)
    if failures:
        pytest.fail(f"{len(failures)} printed formula(s) do not read back to their value:\n"
                    + "\n".join(failures), pytrace=False)


@pytest.fixture
def latex_recorder():
    """The session's recorder (to pause it around formulas printed wrong on purpose)."""
    return RECORDER


def pytest_terminal_summary(terminalreporter):
    if not RECORDER.formulas:
        return
    line = (f"LaTeX round trip: {RECORDER.checked} printed formulas read back and evaluated equal "
            f"({RECORDER.seconds:.1f} s)"
            + (f"; {len(RECORDER.unverifiable)} without a point where they are defined" if RECORDER.unverifiable else "")
            + (f"; {RECORDER.dropped} beyond the cap of {RECORDER.cap} not checked" if RECORDER.dropped else ""))
    terminalreporter.write_line(line)
    for example in RECORDER.unverifiable[:3]:
        terminalreporter.write_line(f"  not checked: {example.splitlines()[0][:160]}")
