"""llama-index adapter: the Engine as a `BaseQueryEngine` (same pipeline, llama-index Response)."""

from __future__ import annotations

from typing import Any

from llama_index.core.base.response.schema import Response
from llama_index.core.query_engine import CustomQueryEngine
from llama_index.core.schema import NodeWithScore, TextNode


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
