"""The Gradio web UI: chat with streamed, verified answers; sources and articles; the index.

`build_ui(settings)` returns the Blocks; `launch(demo, settings)` serves it on loopback by default.

    app       the layout, each control wired to a handler
    handlers  what each control does, over one Engine (testable without a browser)
    render    Answer, summary and index records to escaped HTML / Markdown (pure)
    errors    the one mapping from an exception to what the user sees
    assets    theme, CSS and the page script
    uploads   the corpus folder: list, save uploads safely, delete
    serve     the auth file, launch, warm-up
"""

import os

# Before Gradio is imported: it reads this at import time.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from qa.ui.app import build_ui  # noqa: E402
from qa.ui.serve import launch, read_auth_file, warm_up  # noqa: E402

__all__ = ["build_ui", "launch", "read_auth_file", "warm_up"]
