"""The `qa` command as a user runs it: real processes, JSON output, exit codes, clean errors."""

from __future__ import annotations

import json
from pathlib import Path

from .helpers import qa


def test_help_lists_commands_with_whole_summaries() -> None:
    out = qa("--help", env={"COLUMNS": "80"})
    assert out.returncode == 0
    for cmd in ("rebuild", "stats"):
        assert cmd in out.stdout
    commands = out.stdout[out.stdout.index("Commands:"):]
    assert "..." not in commands
    flat = " ".join(out.stdout.split())
    assert "Build or update the index of the corpus folder (incremental, atomic)." in flat
    feeds = qa("feeds", "--help", env={"COLUMNS": "80"}).stdout
    assert "..." not in feeds[feeds.index("Commands:"):]


def test_rebuild_json_stats_and_skips(tmp_path: Path, corpus_dir: Path) -> None:
    (corpus_dir / "empty.txt").write_text("")
    ix = str(tmp_path / "ix")
    out = qa("rebuild", "--corpus", str(corpus_dir), "--index", ix, "--json")
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert set(summary) >= {"added", "updated", "removed", "unchanged", "skipped", "chunks",
                            "seconds"}
    assert summary["added"] == 1 and summary["chunks"] >= 2
    assert summary["skipped"] == [{"path": "empty.txt", "reason": "empty file"}]
    again = json.loads(qa("rebuild", "--corpus", str(corpus_dir), "--index", ix, "--json").stdout)
    assert (again["unchanged"], again["embedded"]) == (1, 0)
    st = qa("stats", "--index", ix, "--json")
    info = json.loads(st.stdout)
    assert info["articles"] == 1 and info["chunks"] == summary["chunks"]
    assert info["embedding_model"].startswith("sentence-transformers/all-MiniLM-L6-v2")
    assert info["llm_model"] == "qwen-0.5b (llama.cpp)"  # both models named
    human = qa("rebuild", "--corpus", str(corpus_dir), "--index", ix)
    assert "1 unchanged" in human.stdout
    assert human.stderr.count("empty.txt") == 1  # once: no log warning besides the summary
    full = qa("rebuild", "--corpus", str(corpus_dir), "--index", ix, "--full")
    assert "0 updated" in full.stdout and "re-embedded 1" in full.stdout


def test_settings_precedence_toml_env_flag(tmp_path: Path, corpus_dir: Path) -> None:
    (tmp_path / "qa.toml").write_text(f'corpus_dir = "{corpus_dir}"\nindex_dir = "from-toml"\n')
    out = qa("rebuild", "--json", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "from-toml" / "chroma").is_dir()
    out = qa("rebuild", "--json", env={"QA_INDEX_DIR": str(tmp_path / "from-env")}, cwd=tmp_path)
    assert (tmp_path / "from-env" / "chroma").is_dir()
    out = qa("rebuild", "--json", "--index", str(tmp_path / "from-flag"),
             env={"QA_INDEX_DIR": str(tmp_path / "from-env2")}, cwd=tmp_path)
    assert (tmp_path / "from-flag" / "chroma").is_dir()
    assert not (tmp_path / "from-env2").exists()


def test_errors_are_one_clean_line(tmp_path: Path) -> None:
    out = qa("rebuild", "--corpus", str(tmp_path / "missing"), "--index", str(tmp_path / "ix"))
    assert out.returncode == 1
    assert "does not exist" in out.stderr and "Traceback" not in out.stderr
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "a.bin").write_bytes(b"\x00")
    out = qa("rebuild", "--corpus", str(tmp_path / "c"), "--index", str(tmp_path / "ix"))
    assert out.returncode == 1 and "Nothing could be indexed" in out.stderr
    out = qa("rebuild", env={"QA_CHUNK_SIZE": "not-a-number"})
    assert out.returncode == 2 and "chunk_size" in out.stderr and "Traceback" not in out.stderr
    out = qa("stats", "--index", str(tmp_path / "nothing"))
    assert out.returncode == 1 and "qa rebuild" in out.stderr and "Traceback" not in out.stderr


def test_ask_filters_and_bad_dates(tmp_path: Path, corpus_dir: Path) -> None:
    ix = str(tmp_path / "ix")
    assert qa("rebuild", "--corpus", str(corpus_dir), "--index", ix).returncode == 0
    # No passage survives the filter: refused before any model is loaded.
    out = qa("ask", "Who did Russia invite to Moscow?", "--index", ix, "--source", "Nowhere",
             "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["refused"] and data["citations"] == []
    out = qa("ask", "Who did Russia invite?", "--index", ix, "--since", "last tuesday")
    assert out.returncode == 2 and "YYYY-MM-DD" in out.stderr and "Traceback" not in out.stderr
    out = qa("ask", "   ", "--index", ix)
    assert out.returncode == 1 and "empty" in out.stderr


def test_json_errors_are_json(tmp_path: Path) -> None:
    """Under --json a failure is a JSON object on stdout with the message and exit code."""
    for args, code, words in [
        (("ask", "Who did Russia invite?", "--index", str(tmp_path / "none")), 1, "qa rebuild"),
        (("ask", "Who?", "--index", str(tmp_path / "none"), "--since", "May 3"), 2,
         "YYYY-MM-DD"),
        (("stats", "--index", str(tmp_path / "none")), 1, "qa rebuild"),
    ]:
        out = qa(*args, "--json")
        assert out.returncode == code, out.stderr
        data = json.loads(out.stdout)
        assert data["exit_code"] == code and words in data["error"], data
        assert "Error" not in out.stderr and "Traceback" not in out.stderr


def test_serve_reports_a_busy_port_and_a_bad_auth_file(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = qa("serve", "--index", str(tmp_path / "i"), "--port", str(port), cwd=tmp_path)
    assert r.returncode == 2 and "port is in use" in r.stderr and "Traceback" not in r.stderr
    r = qa("serve", "--auth-file", str(tmp_path / "missing"), cwd=tmp_path)
    assert r.returncode == 2 and "Cannot read the auth file" in r.stderr
    (tmp_path / "users").write_text("no-colon-here\n")
    r = qa("serve", "--auth-file", str(tmp_path / "users"), cwd=tmp_path)
    assert r.returncode == 2 and "users:1: expected a `user:password` line" in r.stderr


def test_refusal_lists_each_closest_article_once_with_an_excerpt(capsys) -> None:
    from qa.answer.judge import refused_answer
    from qa.cli import _print_answer
    from qa.records import Passage

    def passage(n: int, article: str, score: float, text: str) -> Passage:
        return Passage(chunk_id=f"c{n}", article_id=article, title=f"Title of {article}",
                       text=text, start=0, end=len(text), date="2024-03-05" if n else "",
                       source_path=f"{article}.txt", score=score)

    long = "The port authority said on Tuesday that four new cranes will unload ships " \
           "from April, after a storm wrecked the old ones in January this year."
    answer = refused_answer("q?", [
        passage(0, "a", 0.30, "Second chunk of a."), passage(1, "b", 0.41, long),
        passage(2, "a", 0.35, "Best chunk of a."), passage(3, "c", 0.2, "c."),
        passage(4, "d", 0.1, "d."),
    ], 0.0)
    _print_answer(answer)
    out = capsys.readouterr().out.splitlines()
    titles = [line for line in out if line.startswith("  - ")]
    assert titles == ["  - Title of b (2024-03-05; b.txt)", "  - Title of a (2024-03-05; a.txt)",
                      "  - Title of c (2024-03-05; c.txt)"]
    excerpts = [line.strip() for line in out if line.startswith("      ")]
    assert excerpts[1] == "\u201cBest chunk of a.\u201d"
    assert excerpts[0].endswith("\u2026\u201d") and len(excerpts[0]) <= 94
    assert "score" not in "\n".join(out)
