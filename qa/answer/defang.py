"""Article text is data: sentences in it that address the model are removed from the prompt."""

from __future__ import annotations

import re

from qa.text import sentence_spans

# Text inside an article that addresses the model instead of the reader: instructions,
# role headers, imitations of this prompt's own "Source [n]:" markers.
_INJECTION = re.compile(
    r"(?ix)"
    r"\b(ignore|disregard|forget)\s+(all\s+)?(of\s+)?(the\s+|your\s+)?(previous|prior|earlier"
    r"|above|preceding|system|original)\s+(instructions?|prompts?|rules|directions)\b"
    r"|\b(ignore|disregard|forget)\s+(all|any)\s+(instructions|prompts)\b"
    r"|^\W*(system|assistant|administrator|admin|developer)(\s+(message|note|prompt))?\s*[:#]"
    r"|\#{2,}\s*(system|admin|administrator)\b"
    r"|\b(the\s+)?(assistant|chatbot|ai\s+assistant|language\s+model)\s+(must|should|shall)"
    r"\s+(now\s+)?(answer|respond|reply|say|output|ignore|only)\b"
    r"|\b(assistant|chatbot|ai\s+assistant|language\s+model)\s+has\s+been\s+(reconfigured"
    r"|reprogrammed|instructed|updated\s+to)\b"
    r"|\b(answer|respond|reply)\s+(to\s+)?(every|all)\s+(the\s+)?questions?\s+with\b"
    r"|\b(respond|reply|answer)\s+(to\s+the\s+user\s+)?(only\s+)?with\s+(the\s+single\s+"
    r"word\s+)?['\"]"
    r"|\breply\s+only\b"
    r"|\bregardless\s+of\s+the\s+(user'?s?\s+)?question\b"
    r"|\bdo\s+not\s+(mention|reveal|repeat)\s+(this|these)\s+(message|instructions?)\b"
    r"|\bsource\s*[\[(]\s*\d+\s*[\])]\s*:"
    r"|\b(new|these)\s+(rules|instructions)\s+(for\s+the\s+(assistant|model)|override\s+(all|any"
    r"|earlier|previous))"
)
REMOVED = "[text addressed to the assistant removed]"


def defang(text: str) -> str:
    """Article text is data: sentences that try to instruct the model are replaced by a note,
    and no source can fake the start of another numbered source."""
    spans = sentence_spans(text) or [(0, len(text))]
    out, last = [], 0
    for start, end in spans:
        piece = text[start:end]
        if any(_INJECTION.search(line) for line in piece.splitlines() or [piece]):
            out.append(text[last:start] + REMOVED)
            last = end
    out.append(text[last:])
    cleaned = "".join(out)
    return re.sub(r"(?i)\bsource\s*\[", "source (", cleaned)

