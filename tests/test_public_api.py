"""The names `oprun` promises: `__all__` must match the checked-in list exactly,
and every listed name must resolve."""

from pathlib import Path

import oprun

PROMISED = Path(__file__).with_name("public_api.txt")


def test_all_matches_the_promised_names():
    promised = [line.strip() for line in PROMISED.read_text().splitlines() if line.strip() and not line.startswith("#")]
    assert sorted(oprun.__all__) == sorted(promised)


def test_every_promised_name_resolves():
    missing = [name for name in oprun.__all__ if getattr(oprun, name, None) is None]
    assert missing == []


def test_unknown_name_suggests_a_close_one():
    import pytest

    with pytest.raises(AttributeError, match="Did you mean 'job'"):
        oprun.jobb  # noqa: B018
