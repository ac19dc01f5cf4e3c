"""The generation protocol: roll back an interrupted rebuild, retire records, collect garbage.

Records live in generation G when gen_added <= G < gen_removed (schema.live). A rebuild writes
generation G+1 beside G, marks what it replaces as removed at G+1, commits by writing the state
record, then deletes what no generation after the commit can see.
"""

from __future__ import annotations

from qa.index.schema import ALIVE, ARTICLE_ID, GEN_ADDED, GEN_REMOVED, live
from qa.index.store import Store

KINDS = ("chunks", "articles")


def roll_back(store: Store, gen: int) -> None:
    """Undo what an interrupted rebuild left: uncommitted records and pending retirements."""
    for kind in KINDS:
        store.delete_where(kind, {GEN_ADDED: {"$gt": gen}})
        store.delete_where(kind, {GEN_REMOVED: {"$lte": gen}})
        store.set_gen_removed(
            kind, {"$and": [{GEN_REMOVED: {"$gt": gen}}, {GEN_REMOVED: {"$lt": ALIVE}}]}, ALIVE
        )


def retire(store: Store, article_ids: list[str], gen: int, new_gen: int) -> None:
    """Mark the live records of these articles as removed from `new_gen` on."""
    step = 200
    for i in range(0, len(article_ids), step):
        ids = article_ids[i : i + step]
        where = {"$and": [{ARTICLE_ID: {"$in": ids}}, *live(gen)["$and"]]}
        for kind in KINDS:
            store.set_gen_removed(kind, where, new_gen)


def collect_garbage(store: Store, gen: int) -> None:
    """Delete the records no generation from `gen` on can see (run after its commit)."""
    for kind in KINDS:
        store.delete_where(kind, {GEN_REMOVED: {"$lte": gen}})
