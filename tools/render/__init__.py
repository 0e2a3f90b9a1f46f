"""From the storyline and its narration to the MP4 (survey §5).

Owns timeline assembly (the edit decision list, the voice budget of a shot), the ffmpeg filter
graphs (cuts, still-image motion, transitions, reframing), the audio mix (voice over ducked
music, loudness), subtitle layout, the segment cache and exports (OTIO). It may import every
lower stage: ``tools.core``, ``tools.understand``, ``tools.story`` and ``tools.narrate``.
"""
