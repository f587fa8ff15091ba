"""The words around an answer, in the question's language: what doors print above the
sources list and above notes. The engine picks them (it knows the question); doors only
render `Answer.labels`, so a Portuguese question gets "Fontes", not "Sources".

The extractive answer's own framing and "not found" message follow the same language
(extractive.py).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

from ragengine.text_analysis import detect_language, words

DEFAULT_LANGUAGE: Final = "en"
LABELS: Final = MappingProxyType(
    {
        "en": MappingProxyType({"sources": "Sources", "notes": "Notes"}),
        "pt": MappingProxyType({"sources": "Fontes", "notes": "Notas"}),
    }
)


def question_language(question: str) -> str:
    """ "en" or "pt" for `question`; English when the words do not tell."""
    language = detect_language(words(question), question)
    return language if language in LABELS else DEFAULT_LANGUAGE


def answer_labels(language: str) -> dict[str, str]:
    """The labels for `language` ("en"/"pt"); English ones for any other."""
    return dict(LABELS.get(language, LABELS[DEFAULT_LANGUAGE]))
