"""What is said over each shot, and how it sounds (narrator §3–4).

Owns the embedded knowledge-grounded narrator (text and length fitting, grounding, corpus,
naming, adaptation, templates), the narrator protocol with the choice of which lines to keep,
narration metrics and the narrate-bench, and speech synthesis with rate fitting. It may import
``tools.core``, ``tools.understand``, ``tools.story`` and ``prompts``.
"""
