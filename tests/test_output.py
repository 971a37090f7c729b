"""Writing a run: the figures drawn in several processes are the bytes drawn in one."""

from __future__ import annotations

import multiprocessing
import os
import time

import pytest

from greatleap.output import draw_figures
from greatleap.report import age_pattern_figure_png, grain_figure_png, national_figure_png


def test_figures_drawn_in_two_processes_equal_those_drawn_in_one(small_results):
    drawers = {
        "national.png": lambda: national_figure_png(small_results, "a title"),
        "grain.png": lambda: grain_figure_png(small_results, "a title"),
        "starvation_by_age.png": lambda: age_pattern_figure_png(small_results, "historical"),
    }
    alone = draw_figures(drawers, processes=1)
    shared = draw_figures(drawers, processes=2)
    assert list(shared) == list(drawers)  # in the order asked
    assert shared == alone
    assert all(png[:8] == b"\x89PNG\r\n\x1a\n" for png in shared.values())


def test_figures_are_dealt_to_forked_children_in_turn():
    here = os.getpid()
    drawers = {name: (lambda: str(os.getpid()).encode()) for name in "abcde"}
    drawn = {name: int(pid) for name, pid in draw_figures(drawers, processes=3).items()}
    assert drawn["a"] == drawn["d"] == here
    assert drawn["b"] == drawn["e"] != here
    assert drawn["c"] not in (here, drawn["b"])
    assert set(draw_figures(drawers, processes=1).values()) == {str(here).encode()}


def test_a_figure_whose_child_failed_is_drawn_here():
    here = os.getpid()

    def fails_in_a_child() -> bytes:
        if os.getpid() != here:
            raise RuntimeError("no display in the child")
        return b"drawn here"

    drawn = draw_figures({"first": lambda: b"first", "second": fails_in_a_child}, processes=2)
    assert drawn == {"first": b"first", "second": b"drawn here"}


def test_a_figure_that_cannot_be_drawn_raises_here():
    def broken() -> bytes:
        raise ValueError("no such column")

    with pytest.raises(ValueError, match="no such column"):
        draw_figures({"first": lambda: b"first", "second": broken}, processes=2)


def test_figures_are_drawn_here_when_no_child_can_be_forked(monkeypatch):
    def no_memory(self) -> None:
        raise OSError(12, "Cannot allocate memory")

    monkeypatch.setattr(type(multiprocessing.get_context("fork").Process()), "start", no_memory)
    here = str(os.getpid()).encode()
    drawn = draw_figures({name: (lambda: str(os.getpid()).encode()) for name in "abc"}, processes=2)
    assert drawn == {"a": here, "b": here, "c": here}


def test_a_figure_failing_here_leaves_no_child_behind():
    def broken() -> bytes:
        raise ValueError("no such column")

    with pytest.raises(ValueError, match="no such column"):
        draw_figures({"first": broken, "second": lambda: time.sleep(0.5) or b"second"}, processes=2)
    assert multiprocessing.active_children() == []  # the child, still drawing when this process raised, was joined
