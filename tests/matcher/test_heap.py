"""`collector_paused`: the cyclic collector off during a bulk build, and back as found."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from matcher import heap
from matcher.heap import collector_paused


@pytest.fixture(autouse=True)
def collector_on() -> Iterator[None]:
    gc.enable()
    yield
    assert heap._pauses == 0  # every pause ended
    gc.enable()


def test_the_collector_is_off_inside_and_on_after() -> None:
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_nested_pauses_end_with_the_outer_one() -> None:
    with collector_paused():
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_failing_build_turns_the_collector_back_on() -> None:
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("the build failed")
    assert gc.isenabled()


def test_a_collector_found_off_stays_off() -> None:
    gc.disable()
    with collector_paused():
        pass
    assert not gc.isenabled()


def test_overlapping_pauses_in_two_threads_end_with_the_last() -> None:
    """The switch is the process's: the thread that began first and ends first must not turn
    the collector on under the other thread's build."""
    second_inside, first_done = threading.Event(), threading.Event()
    seen: list[bool] = []

    def second() -> None:
        with collector_paused():
            second_inside.set()
            first_done.wait(5)
            seen.append(gc.isenabled())

    with collector_paused():
        thread = threading.Thread(target=second)
        thread.start()
        assert second_inside.wait(5)
    first_done.set()
    thread.join(5)
    assert seen == [False]
    assert gc.isenabled()
