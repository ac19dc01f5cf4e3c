"""Per-generation JSON files kept beside the index (`<index_dir>/<kind>/<collection>-g<G>.json`).

They are caches a rebuild derives from what it commits (file stats, article records): one per
collection, for the committed generation only. A write is atomic (write, then rename) so a
reader sees the old file or the new one, never half of one; losing a file costs the next
rebuild a read, so a failed write is logged, not raised.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def path(settings: Any, kind: str, generation: int) -> Path:
    """The file of `kind` for one generation of the settings' collection."""
    return Path(settings.index_dir) / kind / f"{settings.collection}-g{generation}.json"


def read(settings: Any, kind: str, generation: int) -> dict[str, Any] | None:
    """The file's JSON object, or None when it is missing, unreadable, not JSON or not an
    object."""
    try:
        data = json.loads(path(settings, kind, generation).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write(settings: Any, kind: str, generation: int, data: dict[str, Any], what: str,
          lost: str) -> None:
    """Replace the collection's file of `kind` with `data` for `generation`, removing other
    generations' files; on failure log that `what` was not saved and `lost`, what the next
    rebuild does instead."""
    target = path(settings, kind, generation)
    folder, tmp = target.parent, None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=folder)
        with os.fdopen(fd, "w") as fh:  # dumps: json.dump encodes in Python, 10x slower
            fh.write(json.dumps(data))
        os.replace(tmp, target)
        tmp = None
        for old in folder.glob(f"{settings.collection}-g*.json"):
            if old != target:
                old.unlink(missing_ok=True)
    except OSError as exc:
        log.warning("could not save %s (%s); %s", what, exc, lost)
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
