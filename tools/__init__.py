"""Deterministic AdReel tools: pure functions with pydantic input/output models (see registry)."""
