"""Work on several items at once, in daemon threads (the downloads and unpacks of create)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def in_parallel(items: Sequence[T], work: Callable[[T], R], limit: int) -> list[R]:
    """``work(item)`` for every item, at most ``limit`` at once; the results in order.

    An exception is raised once every item has ended. Ctrl-C returns at once: nothing
    queued starts, and the workers, daemon threads, end with their item or the process.
    Not concurrent.futures: its workers are joined when the interpreter exits, so Ctrl-C
    would wait for a stalled download's read timeout (a minute) before the exit.
    """
    results: list[R | None] = [None] * len(items)
    errors: list[BaseException | None] = [None] * len(items)
    todo: queue.SimpleQueue[int] = queue.SimpleQueue()
    for index in range(len(items)):
        todo.put(index)
    ended: queue.SimpleQueue[int] = queue.SimpleQueue()
    stop = threading.Event()

    def worker() -> None:
        while not stop.is_set():
            try:
                index = todo.get_nowait()
            except queue.Empty:
                return
            try:
                results[index] = work(items[index])
            except BaseException as exc:  # handed to the waiting thread
                errors[index] = exc
            ended.put(index)

    for _ in range(min(limit, len(items))):
        threading.Thread(target=worker, name="torchlock-download", daemon=True).start()
    try:
        for _ in items:
            ended.get()
    except BaseException:
        stop.set()
        raise
    for error in errors:
        if error is not None:
            raise error
    return results  # type: ignore[return-value]
