"""Which shots, in what order, for how long, with which script label (survey §4.3.3, montage §3).

Owns music analysis and generation (beats, bars, sections, emotion), the bar grid a storyline
is cut on, the script-label vocabulary and the label-sequence models learned from
E-SyncVidStory, the storyline planner and solvers (group knapsack, film-principle ordering) and
the emotion-aware montage knapsack. It may import ``tools.core``, ``tools.understand`` and the
``prompts`` data package.
"""
