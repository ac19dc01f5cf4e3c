"""The `qa` command: a thin layer mapping flags to Settings and QAError to clean messages."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from qa.errors import QAError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _settings(**overrides: Any) -> Any:
    from qa.config import load_settings

    return load_settings(**overrides)


def _run(fn: Callable[[], Any]) -> Any:
    """Turn QAError into a one-line message and its exit code; no stack traces for users."""
    try:
        return fn()
    except QAError as exc:
        click.secho(f"Error: {exc}", fg="red", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("Interrupted; the previous index is intact.", err=True)
        sys.exit(130)


@click.group(context_settings=CONTEXT)
@click.option("-v", "--verbose", is_flag=True, help="Log details to stderr.")
def main(verbose: bool) -> None:
    """Answer questions about your news articles, with verified citations. Offline."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("chromadb", "httpx", "sentence_transformers", "bm25s"):
        logging.getLogger(noisy).setLevel(logging.WARNING if verbose else logging.ERROR)


corpus_opt = click.option("--corpus", "corpus_dir", type=click.Path(path_type=Path),
                          help="Articles folder [QA_CORPUS_DIR, default corpus/].")
index_opt = click.option("--index", "index_dir", type=click.Path(path_type=Path),
                         help="Index folder [QA_INDEX_DIR, default indexes/].")
json_opt = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


class _Bars:
    """tqdm progress bars for articles and chunks, only on a terminal."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.articles: Any = None
        self.chunks: Any = None

    def __call__(self, event: str, data: dict[str, Any]) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        if event == "start":
            self.articles = tqdm(desc="articles", unit=" art", position=0, file=sys.stderr)
            self.chunks = tqdm(desc="chunks  ", unit=" chunk", position=1, file=sys.stderr)
        elif event == "article" and self.articles is not None:
            self.articles.update(1)
        elif event == "embedded" and self.chunks is not None:
            self.chunks.update(data["chunks"])
        elif event in ("commit", "done"):
            self.close()

    def close(self) -> None:
        for bar in (self.articles, self.chunks):
            if bar is not None:
                bar.close()
        self.articles = self.chunks = None


@main.command()
@corpus_opt
@index_opt
@click.option("--full", is_flag=True, help="Re-embed every article, not only changed ones.")
@json_opt
def rebuild(corpus_dir: Path | None, index_dir: Path | None, full: bool, as_json: bool) -> None:
    """Build or update the index of the corpus folder (incremental, atomic)."""

    def go() -> None:
        from qa.index import rebuild as run_rebuild

        settings = _settings(corpus_dir=corpus_dir, index_dir=index_dir)
        bars = _Bars(enabled=sys.stderr.isatty() and not as_json)
        try:
            summary = run_rebuild(settings, full=full, progress=bars)
        finally:
            bars.close()
        if as_json:
            d = summary.to_dict()
            keys = ("added", "updated", "removed", "unchanged", "skipped", "warnings", "chunks",
                    "embedded", "generation")
            out = {k: d[k] for k in keys}
            out["seconds"] = round(summary.seconds, 3)
            click.echo(json.dumps(out, ensure_ascii=False))
            return
        for s in summary.skipped:
            click.echo(f"skipped {s.path}: {s.reason}", err=True)
        for w in summary.warnings:
            click.echo(f"warning {w.path}: {w.reason}", err=True)
        click.echo(summary.line())

    _run(go)


@main.command()
@index_opt
@json_opt
def stats(index_dir: Path | None, as_json: bool) -> None:
    """Show articles, chunks, model, location and size of the index."""

    def go() -> None:
        from qa.index import stats as index_stats

        info = index_stats(_settings(index_dir=index_dir))
        if as_json:
            click.echo(json.dumps(info))
            return
        width = max(len(k) for k in info)
        for k, v in info.items():
            click.echo(f"{k.replace('_', ' '):<{width}}  {v}")

    _run(go)


if __name__ == "__main__":  # pragma: no cover
    main(prog_name=os.path.basename(sys.argv[0]))
