"""Answer composition: prompts for a model, citations, and extractive answers (no model)."""
