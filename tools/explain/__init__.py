"""After the video: what shows it, and why it reads as exciting (GIF paper, explainer paper).

Owns the 3-shot animated GIF thumbnail (GEVADEN and its PME/PS metrics) and the two-stage
explanation (SSIM key-frame sections, then LIME over superpixels). It reads finished videos and
may import every lower stage of ``tools``.
"""
