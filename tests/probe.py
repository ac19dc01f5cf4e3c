"""Run in a fresh process: what does a reader of this index see right now? (JSON on stdout)"""

import json
import sys

from qa import Settings
from qa.index.store import Store
from qa.models.embed import Embedder
from qa.retrieve import Retriever

settings = Settings(corpus_dir=sys.argv[1], index_dir=sys.argv[2])
store = Store(settings)
state = store.require_state()
top = Retriever(settings, store, Embedder()).retrieve(sys.argv[3], top_k=1)[0]
print(json.dumps({"generation": state.generation, "article_id": top.article_id,
                  "start": top.start, "end": top.end, "text": top.text}))
