"""Tests for the shared command-line argument types."""

from __future__ import annotations

import argparse

import pytest

from seismic_diffusers.utils.arguments import family_scale, family_scales


def test_family_scale_parses_and_spells_like_the_vocabulary():
    assert family_scale("FlatVel_A=3") == ("flatvel-a", 3.0)
    assert family_scale("curvefault-b=1") == ("curvefault-b", 1.0)


@pytest.mark.parametrize(
    "text, message",
    [
        ("flatvel-a", "FAMILY=SCALE"),
        ("flatvel-a=x", "FAMILY=SCALE"),
        ("flatvel-a=0.5", r"the scale must be a number from 1 \(unguided\) to 20"),
        ("flatvel-a=inf", r"the scale must be a number from 1 \(unguided\) to 20"),
        ("=2", "needs a family"),
    ],
)
def test_family_scale_bad_text(text, message):
    with pytest.raises(argparse.ArgumentTypeError, match=message):
        family_scale(text)


def test_family_scale_as_an_argparse_type(capsys):
    parser = argparse.ArgumentParser()
    parser.add_argument("--scales", type=family_scale, nargs="+")
    assert dict(parser.parse_args(["--scales", "flatvel-a=3", "curvevel-b=1.5"]).scales) == {
        "flatvel-a": 3.0,
        "curvevel-b": 1.5,
    }
    with pytest.raises(SystemExit):
        parser.parse_args(["--scales", "flatvel-a"])
    assert "argument --scales: takes FAMILY=SCALE pairs" in capsys.readouterr().err


def test_family_scales_collects_pairs_and_refuses_a_family_given_twice():
    assert family_scales([family_scale("FlatVel_A=3"), family_scale("curvevel-b=1.5")]) == {
        "flatvel-a": 3.0,
        "curvevel-b": 1.5,
    }
    assert family_scales([]) == {}
    with pytest.raises(ValueError, match=r"flatvel-a is given twice \(3 and 1.5\)"):
        family_scales([family_scale("flatvel-a=3"), family_scale("FlatVel_A=1.5")])
