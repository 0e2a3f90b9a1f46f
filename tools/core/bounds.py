"""The documented ranges that keep every job's memory and time bounded, in one place.

Each limit says why it is where it is. Tool input models use them in their field constraints,
so that a value outside is a clear ToolInputError at the tool boundary (never an OOM, an
OverflowError or a NaN handed to ffmpeg)::

    what                                  limit                      where it is enforced
    video length                          1 … 600 s                  BriefSpec, solvers, timeline
    storyline solver                      ≤ 5 M cells, ≤ 300 M steps solve_storyline (clusters × budget/resolution)
    montage solver                        ≤ 2000 bars, ≤ 50 M states solve_montage (shots × bars × scenes)
    music analysed                        first 600 s of a file      analyze_music
    generated music                       ≤ 1800 s                   generate_music
    photo size                            ≤ ADREEL_MAX_IMAGE_PIXELS  ingest (before decoding)
    photo side                            ≥ 16 px                    ingest (smaller is not a picture to show)
    clip length                           ≥ 0.5 s, ≤ 2 h             ingest
    clip frame size                       ≤ 8192 × 8192              ingest
    files per job (one materials folder)  ≤ 500                      ingest
    files per UI upload                   ≤ 40, ≤ 500 MB each        ui.blocks
    one line of speech                    0 < max_duration_s ≤ 600   synthesize_speech
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

#: Longest video AdReel makes: a promo is seconds to minutes; 10 minutes bounds every per-second cost.
MAX_VIDEO_S = 600.0
#: Shortest video: one shot with room for a spoken word.
MIN_VIDEO_S = 1.0
#: Music is analysed over at most its first 10 minutes (longer tracks: the beat grid repeats;
#: a 2-hour file decoded whole took 5.4 GB).
MAX_MUSIC_ANALYSED_S = 600.0
#: Cells of the storyline solver's choice table (clusters × budget/resolution, 4 bytes each):
#: 5 million cells are 20 MB (a 600 s budget at 0.1 s over 800 clusters).
MAX_SOLVER_CELLS = 5_000_000
#: The solver's work (sub-sequences × budget/resolution, one vector step each): 300 million is a
#: few seconds on one core.
MAX_SOLVER_WORK = 300_000_000
#: Candidate shots one storyline solve takes.
MAX_SOLVER_SHOTS = 500
#: Montage solver: shots, bars (600 s of 0.3 s bars) and (shot, bar, scene) states (2 bytes each: 100 MB).
MAX_MONTAGE_SHOTS = 10_000
MAX_MONTAGE_BARS = 2000
MAX_MONTAGE_STATES = 50_000_000
#: A photo smaller than this on either side is an icon or a tracking pixel, not something to show.
MIN_IMAGE_SIDE_PX = 16
#: Clips shorter than this cannot fill the shortest shot.
MIN_CLIP_S = 0.5
#: Longest clip or music file ingested (decoding checks and shot detection scale with length).
MAX_MEDIA_S = 2 * 3600.0
#: Largest clip frame (8K): frame buffers of larger ones do not fit the 2-core machine's budget.
MAX_FRAME_SIDE_PX = 8192
#: Files read from one materials folder (each is probed and decoded).
MAX_FILES_PER_JOB = 500

#: A duration in seconds that is positive, finite and at most :data:`MAX_VIDEO_S`.
Seconds = Annotated[float, Field(gt=0, le=MAX_VIDEO_S, allow_inf_nan=False)]
