"""Reading an import ahead: a helper process parses and checks the rows of a big file while
this process matches and writes the batches before them.

Reading and checking a row (the CSV, phonenumbers, email-validator) costs about half as much
as matching and writing it, so the two overlap on two cores (a 100k-row run: 35-39 s -> 25-31 s
on the development machine, whose two cores slow each other down). The helper
hands over at most AHEAD batches at a time, so memory stays bounded whatever the file size.
Small files, purchases, and importers a fresh process cannot load (a single-file plugin from
a folder) are read in this process; the outcome is the same either way.
"""

import ctypes
import gc
import importlib.util
import multiprocessing
import pickle
import queue
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from . import i18n

PARALLEL_BYTES = 2 * 2**20  # below this, starting a helper (~0.5 s) costs more than it saves
AHEAD = 2
M_MMAP_THRESHOLD = -3  # mallopt parameter (malloc.h)

Batch = list[tuple[int, dict[str, Any], Any]]  # (row number, draft, check(draft))


def batches(
    importer: Any,
    path: str,
    options: dict[str, Any],
    check: Callable[[dict[str, Any]], Any],
    size: int,
    after: int = 0,
    parallel: bool = False,
) -> Iterator[Batch]:
    """The rows after row `after`, checked, in batches of `size`; read by a helper process
    when parallel is asked and possible."""
    if not (parallel and _can_hand_over(importer)):
        yield from _read(importer, path, options, check, size, after)
        return
    context = multiprocessing.get_context("spawn")  # no fork: the caller may run threads
    handover = context.Queue(maxsize=AHEAD)
    helper = context.Process(
        target=_helper,
        args=(importer, path, options, check, size, after, handover, i18n.snapshot()),
        daemon=True,
    )
    with _main_script_hidden():
        helper.start()
    try:
        while True:
            # A batch is some 100,000 new objects: unpickling it with the collector on
            # costs several times more (it rescans everything this process holds).
            gc.disable()
            try:
                kind, payload = handover.get(timeout=1)
            except queue.Empty:
                if not helper.is_alive():
                    raise RuntimeError(
                        f"the process reading the file stopped (exit code {helper.exitcode})"
                    ) from None
                continue
            finally:
                gc.enable()
            if kind == "batch":
                yield payload
            elif kind == "error":
                raise payload
            else:
                return
    finally:
        if helper.is_alive():
            helper.terminate()
        helper.join()
        handover.close()


def pin_malloc_threshold() -> None:
    """Keep big memory blocks in their own mappings, given back when freed. glibc raises its
    threshold for that each time such a block is freed; above it, blocks come from the heap,
    whose freed holes are rarely returned, so a long import kept growing (the duplicate check
    of 200k imported contacts: 256 MB; pinned: 178 MB, no slower). Linux with glibc only:
    elsewhere nothing happens."""
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return
    mallopt(M_MMAP_THRESHOLD, 128 * 1024)  # glibc's own starting value, no longer raised


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Collect garbage less often while an import runs. It makes millions of small objects
    that live for a batch, and at the default thresholds the collector rescans everything
    the process holds every few thousand of them (a 100k-row dry run: 16 s -> 12 s)."""
    pin_malloc_threshold()
    threshold = gc.get_threshold()
    gc.freeze()  # what exists now is not rescanned
    gc.set_threshold(50_000, 20, 1000)
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


def _can_hand_over(importer: Any) -> bool:
    if multiprocessing.current_process().daemon:  # daemonic processes may have no children
        return False
    module = type(importer).__module__
    try:  # a fresh process finds the importer's class by importing its module
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _read(importer, path, options, check, size, after) -> Iterator[Batch]:
    batch: Batch = []
    with open(path, "rb") as stream:
        for number, draft in enumerate(importer.parse(stream, options), 1):
            if number <= after:
                continue
            batch.append((number, draft, check(draft)))
            if len(batch) >= size:
                yield batch
                batch = []
    if batch:
        yield batch


@contextmanager
def _main_script_hidden() -> Iterator[None]:
    """Start the helper without re-running this process's main script in it. spawn runs it
    so that objects defined there can be unpickled; the helper needs none, and the `crmlite`
    console script imports the whole application (60 MB more in the helper)."""
    main = sys.modules["__main__"]
    path = main.__dict__.pop("__file__", None)
    try:
        yield
    finally:
        if path is not None:
            main.__file__ = path


def _helper(importer, path, options, check, size, after, handover, language) -> None:
    i18n.use_catalog(*language)  # messages in the language of the import's user
    pin_malloc_threshold()
    gc.freeze()  # what the imports made lives on; the collector need not scan it again
    gc.set_threshold(50_000, 20, 1000)  # see fewer_collections
    try:
        for batch in _read(importer, path, options, check, size, after):
            for _number, draft, checked in batch:
                if not checked.error:  # the cells are kept for the rejected-rows file only
                    draft.pop("_data", None)
            handover.put(("batch", batch))
    except Exception as exc:  # the reader's own problems (bad bytes, bad CSV) go back as is
        try:
            pickle.dumps(exc)
        except Exception:
            exc = RuntimeError(f"{type(exc).__name__}: {exc}")
        handover.put(("error", exc))
        return
    handover.put(("done", None))
