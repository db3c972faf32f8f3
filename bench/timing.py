"""The one timing helper of the benches: median and max of repeated calls, in milliseconds."""

import statistics
import time
from collections.abc import Callable
from typing import Any


def timed(fn: Callable[[], Any], runs: int, warm: bool = True) -> tuple[float, float, Any]:
    """Call fn once to warm caches and prepared statements (unless warm is False), then `runs`
    times; return the median and the max in milliseconds, and the last result."""
    if warm:
        fn()
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), max(times), result
