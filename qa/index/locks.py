"""One writer per index: a file lock beside the index, and a lease record on a Chroma server."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import time
from collections.abc import Callable, Iterator

from qa.config import Settings
from qa.errors import IndexBusyError, IndexError_
from qa.index.store import NO_VECTOR, Store

log = logging.getLogger(__name__)


@contextlib.contextmanager
def writer_lock(settings: Settings) -> Iterator[None]:
    """One writer per index: a second rebuild refuses at once with a clear message."""
    lock_dir = settings.index_dir
    try:
        lock_dir.mkdir(parents=True, exist_ok=True)
        fh = open(lock_dir / f".{settings.collection}.rebuild.lock", "a+")  # noqa: SIM115
    except OSError as exc:
        raise IndexError_(
            f"Cannot write to the index folder {lock_dir}: {exc.strerror or exc}. "
            "Make it writable or choose another with --index / QA_INDEX_DIR."
        ) from exc
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise IndexBusyError(
                f"Another rebuild of {lock_dir} is running; wait for it to finish and try again."
            ) from exc
        if settings.chroma_url:
            with server_lease(settings):
                yield
        else:
            yield
    finally:
        fh.close()


LEASE_SECONDS = 120.0
LEASE_ID = "writer-lease"  # a record of the state collection, beside the state record


def _dead_here(holder: str) -> bool:
    """A lease held by a process of this machine that no longer exists (it was killed)."""
    import socket

    import psutil

    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    return host == socket.gethostname() and pid.isdigit() and not psutil.pid_exists(int(pid))


@contextlib.contextmanager
def server_lease(settings: Settings) -> Iterator[None]:
    """On a Chroma server, writers on other machines share no lock file: hold a lease record,
    refreshed in the background while the rebuild runs."""
    import socket
    import threading
    import uuid

    store = Store(settings)
    holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    acquire_lease(store, holder, LEASE_SECONDS, dead=_dead_here)
    stop = threading.Event()

    def refresh() -> None:
        while not stop.wait(LEASE_SECONDS / 4):
            try:
                refresh_lease(store, holder, LEASE_SECONDS)
            except Exception as exc:  # noqa: BLE001 - the rebuild itself will report the server
                log.warning("could not refresh the writer lease: %s", exc)

    t = threading.Thread(target=refresh, name="qa-lease", daemon=True)
    t.start()
    try:
        yield
    finally:
        stop.set()
        t.join(5)
        try:
            release_lease(store, holder)
        except Exception as exc:  # noqa: BLE001 - it expires on its own
            log.warning("could not release the writer lease: %s", exc)


def acquire_lease(store: Store, holder: str, ttl: float,
                  dead: Callable[[str], bool] = lambda other: False) -> None:
    """Claim the right to write this index, or raise IndexBusyError naming who holds it.

    Chroma has no compare-and-swap, so the claim is written, then read back after a pause:
    of two writers racing, the later write wins and the other one backs off. A lease that
    is not refreshed (its writer was killed) expires after `ttl` seconds.
    """
    col = store.collection("state", create=True)
    for attempt in range(2):
        got = col.get(ids=[LEASE_ID], include=["metadatas"])
        if got["ids"]:
            m = got["metadatas"][0]
            other = str(m.get("holder", ""))
            if other != holder and float(m.get("expires", 0)) > time.time() \
                    and not dead(other):
                wait = float(m.get("expires", 0)) - time.time()
                raise IndexBusyError(
                    f"Another rebuild ({m.get('holder')}) is writing the index at "
                    f"{store.location}; wait for it to finish and try again (its lease "
                    f"expires in {wait:.0f} s if it died)."
                )
        if attempt == 0:
            refresh_lease(store, holder, ttl)
            time.sleep(0.3)


def refresh_lease(store: Store, holder: str, ttl: float) -> None:
    store.collection("state", create=True).upsert(
        ids=[LEASE_ID], embeddings=[NO_VECTOR], documents=[""],
        metadatas=[{"holder": holder, "expires": time.time() + ttl}],
    )


def release_lease(store: Store, holder: str) -> None:
    col = store.collection("state", create=True)
    got = col.get(ids=[LEASE_ID], include=["metadatas"])
    if got["ids"] and got["metadatas"][0].get("holder") == holder:
        col.delete(ids=[LEASE_ID])
