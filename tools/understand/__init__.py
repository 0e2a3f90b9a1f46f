"""Understanding the seller's material (survey §3.1, §4.1, §4.3.2).

Owns ingest (probe, normalise, store by content id), product facts, shot detection in clips
(PySceneDetect), photo quality and near-duplicates, OCR of printed text, image/text encoders and
the FAISS index, cognitive property scores (CPA: aesthetics, emotion, memorability,
persuasiveness), per-frame video features, and the selection of a job's materials. It may import
``tools.core`` only.
"""
