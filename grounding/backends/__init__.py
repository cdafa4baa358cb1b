"""Model backends: a local transformers model, or any OpenAI-compatible server."""
