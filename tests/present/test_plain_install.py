"""Notes from a plain install: a wheel, installed into a fresh virtual environment, runs
`nnsym notes all` from a folder that has no derivations/ next to it."""

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from nnsym.present import notes
from nnsym.present.cli import main

ROOT = Path(__file__).resolve().parents[2]


def _run(command, cwd, timeout=600):
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONPATH": ""})
    assert done.returncode == 0, f"{' '.join(map(str, command))}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    return done.stdout


def _setuptools_version():
    try:
        import setuptools
    except ImportError:
        return (0,)
    return tuple(int(p) for p in setuptools.__version__.split(".")[:2] if p.isdigit())


def test_notes_from_a_wheel_in_a_fresh_venv(tmp_path):
    if not (ROOT / "pyproject.toml").is_file():
        pytest.skip("not a source checkout")
    wheels = tmp_path / "wheels"
    # setuptools 70.1 and later build wheels by themselves: no isolated build environment to download.
    no_isolation = ["--no-build-isolation"] if _setuptools_version() >= (70, 1) else []
    try:
        _run([sys.executable, "-m", "pip", "wheel", "--no-deps", *no_isolation, "-q", "-w", str(wheels), str(ROOT)],
             tmp_path)
    except AssertionError as error:  # no index to fetch setuptools from: nothing to test here
        if "setuptools" in str(error) and ("network" in str(error).lower() or "index" in str(error).lower()):
            pytest.skip("cannot build a wheel offline")
        raise
    (wheel,) = wheels.glob("*.whl")
    shipped = {Path(name).name for name in zipfile.ZipFile(wheel).namelist() if "/derivations/" in name}
    # Every file of derivations/ ships, by pattern: topics other engineers add come along.
    assert {p.name for p in (ROOT / "derivations").glob("*.py")} <= shipped
    # Every subpackage of nnsym is listed in pyproject.toml's packages.
    listed = {str(Path(name).parent) for name in zipfile.ZipFile(wheel).namelist() if name.endswith("__init__.py")}
    on_disk = {str(p.parent.relative_to(ROOT)) for p in (ROOT / "nnsym").rglob("__init__.py")}
    assert on_disk <= listed, f"packages missing from pyproject.toml: {sorted(on_disk - listed)}"

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], tmp_path)
    python = venv / "bin" / "python"
    _run([python, "-m", "pip", "install", "--no-deps", "-q", str(wheel)], tmp_path)
    # The fresh venv sees the dependencies (SymPy, NumPy, Lark) of the environment running the tests: with
    # --system-site-packages it would see only the base interpreter's, which lack them when the tests run in
    # a venv themselves (as CI's do). A .pth line adds a folder to sys.path without running its .pth files, so
    # an editable install of this checkout there stays invisible and `import nnsym` finds the wheel's copy.
    here = {sysconfig.get_paths()[key] for key in ("purelib", "platlib")}
    (site,) = {Path(p) for p in _run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                      tmp_path).split()}
    (site / "test-dependencies.pth").write_text("\n".join(sorted(here)) + "\n")
    where = tmp_path / "elsewhere"
    where.mkdir()
    installed = _run([python, "-c", "import nnsym; print(nnsym.__file__)"], where)
    assert str(venv) in installed  # the wheel's copy, not a checkout's
    out = _run([venv / "bin" / "nnsym", "notes", "all", "-o", "out", "--format", "md"], where)
    topics = sorted(p.stem for p in (ROOT / "derivations").glob("[0-9][0-9]-*.py"))
    written = sorted(p.stem for p in (where / "out").glob("*.md"))
    assert written == topics
    assert out.count("formulas verified") == len(topics)


PLOT_TOPIC = '''
import nnsym as ns
from nnsym.present.notes import Note, Plot, Text

def note():
    return Note({number}, "plotted{number}", "Plotted", (Text("A figure."), Plot("curve", "a curve", lambda axes: None)))
'''


def test_without_matplotlib_one_line_says_how_to_get_the_plots(tmp_path, monkeypatch, capsys):
    scripts = tmp_path / "derivations"
    scripts.mkdir()
    for number in (1, 2):
        (scripts / f"0{number}-plotted{number}.py").write_text(PLOT_TOPIC.format(number=number))
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    assert main(["notes", "plotted1", "plotted2", "-o", str(tmp_path / "out"), "--derivations", str(scripts)]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if "matplotlib" in line]
    assert lines == [f"01-plotted1, 02-plotted2: {notes.PLOTS_LEFT_OUT}"]
    assert "pip install 'nnsym[plot]'" in lines[0]
