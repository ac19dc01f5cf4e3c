"""The `qa` command: a thin layer mapping flags to Settings and QAError to clean messages."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from qa.errors import QAError

if TYPE_CHECKING:
    from qa.config import Settings

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _settings(**overrides: Any) -> Any:
    from qa.config import load_settings

    return load_settings(**overrides)


def _show_model_assembly() -> None:
    """Say on stderr when the bundled model is assembled on first use (about a minute with
    no output otherwise), with a progress bar on a terminal."""
    from qa.models.bundled import ASSEMBLY_BYTES_PER_SECOND, observe_assembly

    bars: dict[str, Any] = {}

    def observe(name: str, done: int, total: int) -> None:
        if name not in bars:
            seconds = max(10, int(round(total / ASSEMBLY_BYTES_PER_SECOND, -1)))
            click.echo(f"Preparing the language model {name} (one time, ~{seconds} s)…",
                       err=True)
            bars[name] = None
            if sys.stderr.isatty():
                from tqdm import tqdm

                bars[name] = tqdm(total=total, unit="B", unit_scale=True, file=sys.stderr,
                                  desc=name)
        bar = bars[name]
        if bar is not None:
            bar.update(done - bar.n)
            if done >= total:
                bar.close()

    observe_assembly(observe)


def _run(fn: Callable[[], Any], as_json: bool = False) -> Any:
    """Turn QAError into a one-line message and its exit code; no stack traces for users.
    Under --json the message is a JSON object on stdout ({"error", "exit_code"}), so a program
    reading the output parses failures the way it parses results."""
    try:
        return fn()
    except QAError as exc:
        _fail(str(exc), exc.exit_code, as_json)
    except KeyboardInterrupt:
        _fail("Interrupted; the previous index is intact.", 130, as_json)


def _fail(message: str, exit_code: int, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps({"error": message, "exit_code": exit_code}, ensure_ascii=False))
    elif exit_code == 130:
        click.echo(message, err=True)
    else:
        click.secho(f"Error: {message}", fg="red", err=True)
    sys.exit(exit_code)


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
chroma_opt = click.option("--chroma-url", help="Use the Chroma server at this URL instead of the "
                          "embedded index [QA_CHROMA_URL].")


@main.command()
@corpus_opt
@index_opt
@chroma_opt
@click.option("--full", is_flag=True, help="Re-embed every article, not only changed ones.")
@json_opt
def rebuild(corpus_dir: Path | None, index_dir: Path | None, chroma_url: str | None, full: bool,
            as_json: bool) -> None:
    """Build or update the index of the corpus folder (incremental, atomic)."""

    def go() -> None:
        from qa.index import rebuild as run_rebuild

        settings = _settings(corpus_dir=corpus_dir, index_dir=index_dir, chroma_url=chroma_url)
        from qa.cli_progress import Bars

        bars = Bars(enabled=sys.stderr.isatty() and not as_json)
        try:
            summary = run_rebuild(settings, full=full, progress=bars if bars.enabled else None)
        finally:
            bars.close()
        if as_json:
            d = summary.to_dict()
            keys = ("added", "updated", "removed", "unchanged", "reembedded", "skipped",
                    "warnings", "chunks", "embedded", "generation")
            out = {k: d[k] for k in keys}
            out["seconds"] = round(summary.seconds, 3)
            click.echo(json.dumps(out, ensure_ascii=False))
            return
        for s in summary.skipped:
            click.echo(f"skipped {s.path}: {s.reason}", err=True)
        for w in summary.warnings:
            click.echo(f"warning {w.path}: {w.reason}", err=True)
        click.echo(summary.line())

    _run(go, as_json)


@main.command()
@index_opt
@chroma_opt
@json_opt
def stats(index_dir: Path | None, chroma_url: str | None, as_json: bool) -> None:
    """Show articles, chunks, both models (embedding and language), location and size."""

    def go() -> None:
        from qa.index import stats as index_stats

        info = index_stats(_settings(index_dir=index_dir, chroma_url=chroma_url))
        if as_json:
            click.echo(json.dumps(info))
            return
        width = max(len(k) for k in info)
        for k, v in info.items():
            click.echo(f"{k.replace('_', ' '):<{width}}  {v}")

    _run(go, as_json)


def _print_answer(answer: Any) -> None:
    click.echo(answer.text)
    if answer.refused:
        closest = closest_passages(answer.passages)
        if closest:
            click.echo("\nClosest passages:")
            for p in closest:
                where = p.url or p.source_path
                click.echo(f"  - {p.title} ({p.date or 'no date'}; {where})")
                click.echo(f"      \u201c{excerpt(p.text)}\u201d")
        return
    click.echo("\nSources:")
    for c in answer.citations:
        where = c.url or c.source_path
        click.echo(f"  [{c.number}] {c.title} ({c.date or 'no date'}; {where})")
        click.echo(f"      \u201c{c.quote}\u201d  (chars {c.start}-{c.end})")


def closest_passages(passages: list[Any], n: int = 3) -> list[Any]:
    """The best passage of each of the n closest articles, best first: one article's three
    chunks would say the same title three times."""
    best: dict[str, Any] = {}
    for p in sorted(passages, key=lambda p: -p.score):
        best.setdefault(p.article_id, p)
    return list(best.values())[:n]


def excerpt(text: str, width: int = 90) -> str:
    """The passage as one line of at most `width` characters, cut at a word."""
    line = " ".join(text.split())
    if len(line) <= width:
        return line
    return line[:width].rsplit(" ", 1)[0].rstrip(",;:") + " \u2026"


@main.command()
@click.argument("question")
@corpus_opt
@index_opt
@chroma_opt
@click.option("--top-k", type=click.IntRange(1, 50), help="Passages given to the model [5].")
@click.option("--source", "sources", multiple=True, help="Only articles from this source.")
@click.option("--since", help="Only articles dated on or after YYYY-MM-DD.")
@click.option("--until", help="Only articles dated on or before YYYY-MM-DD.")
@json_opt
def ask(question: str, corpus_dir: Path | None, index_dir: Path | None, chroma_url: str | None,
        top_k: int | None,
        sources: tuple[str, ...], since: str | None, until: str | None, as_json: bool) -> None:
    """Answer a question from the indexed articles, with cited sources."""

    def go() -> None:
        from qa.engine import Engine
        from qa.retrieve import Filters

        settings = _settings(corpus_dir=corpus_dir, index_dir=index_dir, chroma_url=chroma_url)
        filters = Filters.make(sources=sources, since=since, until=until)
        _show_model_assembly()
        engine = Engine(settings)
        if as_json:
            answer = engine.ask(question, top_k=top_k, filters=filters)
            click.echo(json.dumps(answer.public(), ensure_ascii=False))
            return
        answer = None
        streaming = sys.stdout.isatty()
        for event in engine.stream(question, top_k=top_k, filters=filters):
            if isinstance(event, str):
                if streaming:  # the model's raw words, dimmed; the verified answer follows
                    click.secho(event, nl=False, dim=True)
            else:
                answer = event
        if streaming:
            click.echo("\n")  # the verified answer follows the raw stream
        _print_answer(answer)

    _run(go, as_json)


@main.command(name="eval")
@click.argument("directory", type=click.Path(exists=True, path_type=Path))
@click.option("--top-k", type=click.IntRange(1, 50), help="Passages per question [5].")
@json_opt
@click.option("--show", default=8, show_default=True, help="Worst failures to list.")
@click.option("--questions", "questions_file", type=click.Path(exists=True, dir_okay=False,
              path_type=Path), help="Ask these questions instead of DIR/questions.jsonl.")
@click.option("--retrieval-only", is_flag=True,
              help="Score retrieval only (recall@k, recall@1, MRR); no language model.")
@click.option("--claims", is_flag=True, help="DIRECTORY holds claims.jsonl (passage, question, "
              "answer, supported): score the verifier alone.")
@click.option("--sample", type=click.IntRange(1), help="Ask a sample of N questions, "
              "stratified by question type (the same N questions every run).")
@click.option("--seed", default=0, show_default=True, help="Seed of --sample.")
@click.option("--records", "records_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Write one JSON line per question (retrieved, answer, citations, refusal "
              "reason, seconds) to this file.")
@click.option("--meaning-threshold", type=click.FloatRange(0.0, 1.0),
              help="Check meaning with the verdict model at this threshold (the setting "
              "meaning_threshold; 0 turns it off). With --claims, the verifier is scored with "
              "the check.")
@click.option("--keep-index", "keep_index", type=click.Path(file_okay=False, path_type=Path),
              help="Keep the set's index in this folder and reuse it next time (updated "
              "incrementally) instead of indexing the set anew.")
def eval_cmd(directory: Path, top_k: int | None, as_json: bool, show: int,
             questions_file: Path | None, retrieval_only: bool, claims: bool,
             sample: int | None, seed: int, records_file: Path | None,
             meaning_threshold: float | None, keep_index: Path | None) -> None:
    """Score answers on a QA set (articles.jsonl + questions.jsonl) in a temporary index."""

    def go() -> None:
        from qa.eval_report import report_lines, write_records

        settings = _settings(meaning_threshold=meaning_threshold)
        if claims:
            report = _run_claims(directory, settings, sample, seed)
            rows = report["items"]
        else:
            report = _run_eval(directory, settings, top_k, questions_file, retrieval_only,
                               sample, seed, keep_index)
            rows = report["questions"]
        if records_file:
            write_records(records_file, rows)
        if as_json:
            click.echo(json.dumps(report, ensure_ascii=False))
            return
        click.echo("")
        for line in report_lines(report, show):
            click.echo(line)

    _run(go, as_json)


def _run_claims(directory: Path, settings: Settings, sample: int | None,
                seed: int) -> dict[str, Any]:
    """The verifier on a claims set: lexical verification, then the check of meaning at the
    threshold `qa ask` would use (none when it is 0)."""
    from qa.answer.meaning import stated
    from qa.claims import run_claims
    from qa.engine import Engine

    engine = Engine(settings)
    if not engine.meaning_threshold:
        return run_claims(directory, sample=sample, seed=seed)
    return run_claims(directory, sample=sample, seed=seed,
                      meaning=lambda q, a, c: stated(engine.verdict_llm, q, a, c),
                      threshold=engine.meaning_threshold)


def _run_eval(directory: Path, settings: Settings, top_k: int | None,
              questions_file: Path | None,
              retrieval_only: bool, sample: int | None, seed: int,
              keep_index: Path | None) -> dict[str, Any]:
    from qa.errors import ConfigError
    from qa.eval import run_eval

    if not directory.is_dir():
        raise ConfigError(f"{directory} is not a folder: give the folder that holds "
                          "articles.jsonl and questions.jsonl (or add --claims).")

    def progress(i: int, n: int) -> None:
        if sys.stderr.isatty():
            click.echo(f"\r{i}/{n} questions", nl=False, err=True)

    return run_eval(directory, settings, top_k=top_k, progress=progress,
                    questions_file=questions_file, retrieval_only=retrieval_only,
                    sample=sample, seed=seed, index_dir=keep_index)


@main.command()
@corpus_opt
@index_opt
@chroma_opt
@click.option("--host", help="Address to bind [QA_HOST, default 127.0.0.1: this machine only].")
@click.option("--port", type=click.IntRange(0, 65535), help="Port [QA_PORT, default 7860].")
@click.option("--auth-file", type=click.Path(path_type=Path),
              help="File of user:password lines; the UI then asks for a login [QA_AUTH_FILE].")
@click.option("--api-tokens", type=click.Path(path_type=Path),
              help="File of HTTP API tokens (TOKEN or TOKEN admin lines) [QA_API_TOKENS].")
@click.option("--pull-every", help="Pull the feeds (`qa feeds`) now and then every such "
              "interval (30m, 2h, 1d), updating the index.")
def serve(corpus_dir: Path | None, index_dir: Path | None, chroma_url: str | None,
          host: str | None, port: int | None, auth_file: Path | None,
          api_tokens: Path | None, pull_every: str | None) -> None:
    """Serve the web UI and the HTTP API (/v1, /mcp) on one port."""

    def go() -> None:
        settings = _settings(corpus_dir=corpus_dir, index_dir=index_dir, chroma_url=chroma_url,
                             host=host, port=port, auth_file=auth_file, api_tokens=api_tokens)
        from qa.api import api_app_kwargs
        from qa.engine import Engine
        from qa.ui import build_ui, launch, read_auth_file, warm_up

        if settings.auth_file:
            read_auth_file(settings.auth_file)  # a bad auth file fails before anything starts
        _show_model_assembly()
        every = _interval(pull_every) if pull_every else 0.0
        engine = Engine(settings)
        demo = build_ui(settings, engine)
        api = api_app_kwargs(engine, settings)  # a bad token file fails before anything starts
        try:
            url = launch(demo, settings, block=False, api=api)
        except OSError as exc:
            from qa.errors import ConfigError

            raise ConfigError(f"Cannot serve on {settings.host}:{settings.port}: the port is "
                              "in use or the address is not available here. Choose another "
                              "--port (or --host).") from exc
        warm_up(engine)
        if pull_every:
            from qa.ui.news import start_pulling

            start_pulling(engine, settings, every)
        click.echo(f"qa is serving {url}  (Ctrl+C to stop)", err=True)
        if settings.host not in ("127.0.0.1", "localhost", "::1") and not settings.auth_file:
            click.secho(f"Warning: listening on {settings.host} without --auth-file: anyone "
                        "who can reach it can ask, upload, delete and rebuild.", fg="yellow",
                        err=True)
        try:
            demo.block_thread()
        except KeyboardInterrupt:
            demo.close()

    _run(go)


def _interval(text: str) -> float:
    from qa.errors import ConfigError
    from qa.ui.news import parse_every

    try:
        return parse_every(text)
    except ValueError as exc:
        raise ConfigError(f"--pull-every {text!r}: give an interval of at least a minute, "
                          "such as 30m, 2h or 1d.") from exc


@main.command()
@index_opt
@chroma_opt
@click.option("--to-url", help="Target Chroma server URL (http://host:port).")
@click.option("--to-index", type=click.Path(path_type=Path), help="Target embedded index folder.")
@click.option("--to-collection", help="Collection name prefix on the target [the same].")
@click.option("--to-token", help="Auth token for the target Chroma server.")
@click.option("--replace", is_flag=True, help="Overwrite an index the target already holds.")
@json_opt
def migrate(index_dir: Path | None, chroma_url: str | None, to_url: str | None,
            to_index: Path | None, to_collection: str | None, to_token: str | None,
            replace: bool, as_json: bool) -> None:
    """Copy the index (vectors included, nothing re-embedded) to a Chroma server or folder."""

    def go() -> None:
        from qa.errors import ConfigError
        from qa.index.migrate import migrate as run_migrate

        if bool(to_url) == bool(to_index):
            raise ConfigError("Give exactly one target: --to-url http://host:port or "
                              "--to-index DIR.")
        source = _settings(index_dir=index_dir, chroma_url=chroma_url)
        target = _settings(index_dir=to_index or source.index_dir, chroma_url=to_url,
                           collection=to_collection or source.collection,
                           chroma_auth_token=to_token)
        if not to_url:
            target = target.model_copy(update={"chroma_url": None})
        info = run_migrate(source, target, replace=replace)
        if as_json:
            click.echo(json.dumps(info))
            return
        click.echo(f"Copied {info['articles']} articles and {info['chunks']} chunks from "
                   f"{info['from']} to {info['to']} in {info['seconds']:.1f} s.")
        if to_url:
            click.echo(f"Use it with QA_CHROMA_URL={to_url} (or --chroma-url).")

    _run(go, as_json)


@main.command()
@index_opt
@click.option("--verdict-model/--no-verdict-model", default=True, show_default=True,
              help="Also the model that decides yes/no verdicts.")
def prepare(index_dir: Path | None, verdict_model: bool) -> None:
    """Assemble the bundled language models now (done once; otherwise on first use)."""

    def go() -> None:
        from qa.models.bundled import model_path, to_prepare

        settings = _settings(index_dir=index_dir)
        names = [settings.llm_model]
        if verdict_model and settings.verdict_model and settings.verdict_model not in names:
            names.append(settings.verdict_model)
        pending = to_prepare(settings, names)
        if not pending:
            click.echo("The language models are ready.")
            return
        _show_model_assembly()
        for p in pending:
            model_path(settings.model_copy(update={"llm_model": p.name}))
        click.echo(f"Ready: {', '.join(p.name for p in pending)} in {settings.models_dir}.")

    _run(go)


def _register() -> None:
    from qa.cli_news import add_cmd, feeds_cmd

    main.add_command(add_cmd)
    main.add_command(feeds_cmd)
    _whole_summaries(main)


def _whole_summaries(group: click.Group) -> None:
    """`qa --help` lists each command with the first paragraph of its help, whole: Click cuts
    a derived summary at the column width with "..."."""
    for cmd in group.commands.values():
        if cmd.help and not cmd.short_help:
            cmd.short_help = " ".join(cmd.help.split("\n\n")[0].split())
        if isinstance(cmd, click.Group):
            _whole_summaries(cmd)


_register()

if __name__ == "__main__":  # pragma: no cover
    main(prog_name=os.path.basename(sys.argv[0]))
