//! Selection policy and write-back of chosen terms through the lossless editor.
