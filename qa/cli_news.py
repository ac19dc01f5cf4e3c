"""The `qa add` and `qa feeds` commands: pages and feeds into the corpus folder, then the index."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from qa.cli import _run, _settings, corpus_opt, index_opt, json_opt

private_opt = click.option("--allow-private", "allow_private_urls", is_flag=True, default=None,
                           help="Also fetch from private/loopback addresses "
                           "[QA_ALLOW_PRIVATE_URLS].")


def _rebuild(settings: Any) -> Any:
    from qa.cli_progress import Bars
    from qa.index import rebuild

    bars = Bars(enabled=sys.stderr.isatty())
    try:
        return rebuild(settings, progress=bars if bars.enabled else None)
    finally:
        bars.close()


def _finish(failed: list[tuple[str, str]], summary: Any, as_json: bool, out: dict) -> None:
    if as_json:
        out["rebuild"] = summary.to_dict() if summary else None
        click.echo(json.dumps(out, ensure_ascii=False, default=str))
    else:
        for _, message in failed:
            click.secho(f"Error: {message}", fg="red", err=True)
        if summary is not None:
            for s in summary.skipped:
                click.echo(f"skipped {s.path}: {s.reason}", err=True)
            click.echo(f"index: {summary.line()}")
    if failed:
        sys.exit(1)


@click.command(name="add")
@click.argument("urls", nargs=-1, required=True)
@corpus_opt
@index_opt
@private_opt
@click.option("--no-rebuild", is_flag=True, help="Store the articles; do not update the index.")
@json_opt
def add_cmd(urls: tuple[str, ...], corpus_dir: Path | None, index_dir: Path | None,
            allow_private_urls: bool | None, no_rebuild: bool, as_json: bool) -> None:
    """Fetch article pages, store them in corpus/web/<site>/ and update the index."""

    def go() -> None:
        from qa.news import add_urls

        settings = _settings(corpus_dir=corpus_dir, index_dir=index_dir,
                             allow_private_urls=allow_private_urls)
        report = add_urls(settings, urls, rebuild=False)
        for a in report.added if not as_json else []:
            state = "stored" if a.changed else "already stored"
            click.echo(f"{state} {a.file}: {a.title} ({a.date or 'no date'}; {a.canonical_url})")
        changed = any(a.changed for a in report.added)
        summary = _rebuild(settings) if changed and not no_rebuild else None
        out = {"added": [a.__dict__ for a in report.added],
               "failed": [{"url": u, "error": m} for u, m in report.failed]}
        _finish(report.failed, summary, as_json, out)

    _run(go, as_json)


@click.group(name="feeds")
def feeds_cmd() -> None:
    """The feed list (RSS, Atom, JSON Feed): add, list, remove, pull."""


@feeds_cmd.command(name="add")
@click.argument("url")
@index_opt
def feeds_add(url: str, index_dir: Path | None) -> None:
    """Put a feed on the list (pulled by `qa feeds pull`)."""

    def go() -> None:
        from qa.feeds import add_feed

        new = add_feed(_settings(index_dir=index_dir), url)
        click.echo(f"{'added' if new else 'already listed'}: {url}")

    _run(go)


@feeds_cmd.command(name="list")
@index_opt
@json_opt
def feeds_list(index_dir: Path | None, as_json: bool) -> None:
    """Show the feeds and how many of their entries are stored."""

    def go() -> None:
        from qa.feeds import list_feeds

        feeds = list_feeds(_settings(index_dir=index_dir))
        if as_json:
            click.echo(json.dumps(feeds, ensure_ascii=False))
            return
        if not feeds:
            click.echo("No feeds yet: add one with `qa feeds add URL`.")
        for f in feeds:
            click.echo(f"{f['url']}  {f['title'] or '(not pulled yet)'}  {f['entries']} entries")

    _run(go, as_json)


@feeds_cmd.command(name="remove")
@click.argument("url")
@index_opt
def feeds_remove(url: str, index_dir: Path | None) -> None:
    """Take a feed off the list (its stored articles stay in the corpus)."""

    def go() -> None:
        from qa.feeds import remove_feed

        remove_feed(_settings(index_dir=index_dir), url)
        click.echo(f"removed: {url} (its articles stay in the corpus folder)")

    _run(go)


@feeds_cmd.command(name="pull")
@corpus_opt
@index_opt
@private_opt
@click.option("--rebuild", "then_rebuild", is_flag=True, help="Update the index afterwards.")
@json_opt
def feeds_pull(corpus_dir: Path | None, index_dir: Path | None,
               allow_private_urls: bool | None, then_rebuild: bool, as_json: bool) -> None:
    """Fetch every feed and store new or edited entries in corpus/feeds/<site>/."""

    def go() -> None:
        from qa.feeds import pull

        settings = _settings(corpus_dir=corpus_dir, index_dir=index_dir,
                             allow_private_urls=allow_private_urls)
        bar = _FeedBar(enabled=sys.stderr.isatty() and not as_json)
        try:
            report = pull(settings, progress=bar)
        finally:
            bar.close()
        changed = report.added or report.updated
        if not as_json:
            click.echo(report.line())
            if changed and not then_rebuild:
                click.echo("Run `qa rebuild` (or pull with --rebuild) to make them searchable.")
        summary = _rebuild(settings) if then_rebuild and changed else None
        out = {k: getattr(report, k) for k in ("feeds", "not_modified", "added", "updated",
                                               "unchanged")}
        out["failed"] = [{"url": u, "error": m} for u, m in report.failed]
        _finish(report.failed, summary, as_json, out)

    _run(go, as_json)


class _FeedBar:
    """A tqdm bar of feeds pulled, on a terminal."""

    def __init__(self, enabled: bool) -> None:
        self.enabled, self.bar = enabled, None

    def __call__(self, done: int, total: int, url: str) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        if self.bar is None:
            self.bar = tqdm(desc="feeds", total=total, unit=" feed", file=sys.stderr)
        self.bar.n = done
        self.bar.set_postfix_str(url[-40:], refresh=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
