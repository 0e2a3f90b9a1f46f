"""Model serving: vLLM launch recipes and OpenAI-compatible clients with health checks."""
