"""Article extraction: trafilatura (qa.corpus.extract) against the old BeautifulSoup reader.

    python benchmarks/extraction.py

Both read the test pages of tests/newspages.py (real news texts in realistic layouts) and the
seed article's page. Per reader: mean token F1 of the text against the known main text, the
share of pages with the right date, title and canonical URL, and how many boilerplate sentences
of the layouts reached the text. Writes benchmarks/results/extraction.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from html_baseline import read_html  # noqa: E402

from qa.corpus.extract import extract_article  # noqa: E402
from qa.corpus.urls import canonical_url  # noqa: E402
from tests.newspages import BOILERPLATE, article_pages, seed_page  # noqa: E402
from tests.test_fetch import token_f1  # noqa: E402

BASE = "http://127.0.0.1:8000"


def trafilatura_reader(html: str, url: str) -> dict | None:
    found = extract_article(html, url)
    return found and {"title": found.title, "text": found.text, "url": found.url,
                      "date": found.date}


def score(reader, pages) -> dict:
    f1, dates, titles, urls, leaks = [], 0, 0, 0, 0
    for p in pages:
        url = BASE + p.path
        got = reader(p.html, url) or {"title": "", "text": "", "url": "", "date": ""}
        f1.append(token_f1(got["text"], p.text))
        dates += got["date"] == p.date
        titles += " ".join(got["title"].split()) == p.title
        urls += canonical_url(got["url"] or url) == canonical_url(p.url or url)
        leaks += sum(s in got["text"] for s in BOILERPLATE)
    n = len(pages)
    return {"pages": n, "mean_f1": round(sum(f1) / n, 3), "min_f1": round(min(f1), 3),
            "dates": round(dates / n, 3), "titles": round(titles / n, 3),
            "canonical_urls": round(urls / n, 3), "boilerplate_sentences": leaks}


def main() -> None:
    pages = article_pages(36)
    seed_html, seed_text = seed_page()
    results = {}
    for name, reader in (("beautifulsoup (before)", lambda h, u: read_html(h)),
                         ("trafilatura (qa.corpus.extract)", trafilatura_reader)):
        row = score(reader, pages)
        seed = reader(seed_html, BASE + "/seed") or {"text": ""}
        row["seed_f1"] = round(token_f1(seed["text"], seed_text), 3)
        row["seed_leave_a_reply"] = "Leave a Reply" in seed["text"]
        results[name] = row
    keys = list(next(iter(results.values())))
    print(f"{'reader':34}" + "".join(f"{k:>22}" for k in keys))
    for name, row in results.items():
        print(f"{name:34}" + "".join(f"{str(row[k]):>22}" for k in keys))
    out = HERE / "results" / "extraction.json"
    out.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
