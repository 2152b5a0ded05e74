//! The embedded offline engine: MiniLM sentence embeddings, lexical signal, calibration, learning from labels.
