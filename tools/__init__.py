"""AdReel's deterministic tools: pure functions with pydantic input and output models, one registry.

Packages by pipeline stage, lowest first; a module imports its own package and lower ones only
(checked by tests/unit/test_architecture.py), never ``agents``, ``ui``, ``serving``, langgraph
or gradio:

    core        models, errors, settings, registry, workspace, backends, media and image I/O
    understand  ingest, shots, quality, OCR, encoders, index, CPA scores, video features, selection
    story       music analysis, bar grid, label vocabulary and models, storyline and montage solvers
    narrate     the embedded narrator (text, grounding, corpus, naming, adaptation), narration lines, TTS
    render      timeline assembly, ffmpeg filter graphs, audio mix, subtitles, reframing, cache, exports
    explain     GIF thumbnails (GEVADEN), the two-stage LIME explanation, their metrics
"""
