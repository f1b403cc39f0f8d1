"""The gateway's rate limiter on its own."""

from __future__ import annotations

from chatspheres.realtime.tab import FloodGuard


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def guard(clock: FakeClock) -> FloodGuard:
    return FloodGuard(rate=50, burst=100, flood_limit=100, flood_window=2, clock=clock)


def test_a_burst_of_a_hundred_passes_then_frames_are_dropped_with_one_warning() -> None:
    clock = FakeClock()
    limiter = guard(clock)
    assert [limiter.admit() for _ in range(100)] == [FloodGuard.ADMIT] * 100
    assert limiter.admit() == FloodGuard.DROP_AND_WARN
    assert limiter.admit() == FloodGuard.DROP


def test_fifty_frames_a_second_are_admitted_forever() -> None:
    clock = FakeClock()
    limiter = guard(clock)
    for _ in range(10_000):
        clock.now += 0.02
        assert limiter.admit() == FloodGuard.ADMIT


def test_a_sustained_flood_is_closed() -> None:
    clock = FakeClock()
    limiter = guard(clock)
    verdicts = []
    for _ in range(1000):
        clock.now += 0.005  # 200 frames a second
        verdicts.append(limiter.admit())
        if verdicts[-1] == FloodGuard.CLOSE:
            break
    assert verdicts[-1] == FloodGuard.CLOSE
    assert FloodGuard.DROP_AND_WARN in verdicts


def test_a_short_burst_beyond_the_limit_is_forgiven_once_it_stops() -> None:
    clock = FakeClock()
    limiter = guard(clock)
    verdicts = [limiter.admit() for _ in range(150)]  # 50 dropped, not closed
    assert FloodGuard.CLOSE not in verdicts
    clock.now += 10
    assert limiter.admit() == FloodGuard.ADMIT
