"""`nnsym backprop` input: a size left out between commas is an error, not a smaller network."""

from nnsym.present.cli import main


def test_an_empty_size_is_refused_with_its_position(capsys):
    assert main(["backprop", "--sizes", "2,,3"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.strip().splitlines() == ["nnsym: --sizes '2,,3': size 2 of 3 is empty"]
