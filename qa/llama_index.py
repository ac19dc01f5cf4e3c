"""llama-index adapters: the Engine as a `BaseQueryEngine` (same pipeline, llama-index Response)
and its hybrid retrieval as a `BaseRetriever` (passages as nodes)."""

from __future__ import annotations

from typing import Any

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.base.response.schema import Response
from llama_index.core.query_engine import CustomQueryEngine
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode


class QAQueryEngine(CustomQueryEngine):
    """`engine.as_query_engine().query("...")` -> Response whose source_nodes are the citations."""

    engine: Any

    def custom_query(self, query_str: str) -> Response:
        answer = self.engine.ask(query_str)
        nodes = [
            NodeWithScore(
                node=TextNode(
                    id_=f"{c.article_id}:{c.start}-{c.end}",
                    text=c.passage,
                    metadata={"number": c.number, "article_id": c.article_id, "title": c.title,
                              "url": c.url, "date": c.date, "quote": c.quote, "start": c.start,
                              "end": c.end},
                ),
                score=c.score,
            )
            for c in answer.citations
        ]
        return Response(response=answer.text, source_nodes=nodes,
                        metadata={"refused": answer.refused,
                                  "citations": [c.to_dict() for c in answer.citations]})


class QARetriever(BaseRetriever):
    """`engine.as_retriever().retrieve("...")` -> the passages `Engine.retrieve` gives (dense +
    BM25, at most `per_article` per article), as nodes with their text, article and span.

    The way for llama-index code to read the index: chunk records in Chroma hold no text (a
    chunk's text is its span of the article record's), so llama-index's `ChromaVectorStore`
    over the collection would give nodes without text."""

    def __init__(self, engine: Any, top_k: int | None = None) -> None:
        self._engine = engine
        self._top_k = top_k
        super().__init__()

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return [
            NodeWithScore(
                node=TextNode(
                    id_=p.chunk_id,
                    text=p.text,
                    metadata={"article_id": p.article_id, "title": p.title, "url": p.url,
                              "date": p.date, "source": p.source, "start": p.start,
                              "end": p.end},
                ),
                score=p.score,
            )
            for p in self._engine.retrieve(query_bundle.query_str, top_k=self._top_k)
        ]
