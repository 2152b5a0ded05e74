#!/usr/bin/env python3
"""A second runtime for all-MiniLM-L6-v2: BERT + mean pooling + L2 norm in NumPy.

Reads the same model.safetensors / tokenizer.json / config.json as the Rust
crate and computes sentence embeddings exactly as sentence-transformers does
for this model (Transformer with max_seq_length 256 -> mean pooling over the
attention mask -> Normalize), in float64, with nothing but NumPy, safetensors
and tokenizers (no torch).

Writes the fixture the Rust test `tests/reference.rs` compares against:

    pip install numpy safetensors tokenizers
    python3 crates/embed/tests/reference/minilm_ref.py MODEL_DIR \
        crates/embed/tests/fixtures/expected.json

MODEL_DIR holds the extracted files (e.g. ~/.cache/taxonomist/models/all-MiniLM-L6-v2).
"""

import hashlib
import json
import math
import sys
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

MAX_SEQ_LENGTH = 256

# Varied on purpose: empty, one word, long (> 256 tokens, so truncated),
# unicode (accents, CJK, emoji), code, shouting, punctuation only, German.
LONG = (
    "Static site generators turn a folder of Markdown files into a complete website. "
    "Each page carries front matter: a title, a date, a list of tags and categories. "
    "Keeping those taxonomies consistent across hundreds of pages is tedious work, "
    "and editors often forget to tag a new article or use a slightly different spelling "
    "of an existing term. A classifier that reads every page and every term definition "
    "can suggest the right terms, explain its choice in a sentence, and write the result "
    "back without disturbing the rest of the file. "
) * 5
TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "",
    "Rust",
    LONG,
    "Café naïve façade — 東京タワー and a crab emoji 🦀; résumé, Zürich, ΑΒΓ δέλτα.",
    "Der schnelle braune Fuchs springt über den faulen Hund.",
    'fn main() { println!("hello, world"); } // 42 + 3.14 = 45.14',
    "Kubernetes operators reconcile the desired state of custom resources with controllers.",
    "MACHINE LEARNING IN PRODUCTION: MONITORING, DRIFT AND RETRAINING",
    "   !!!  ???  ...   ",
    "How do I configure taxonomies in Hugo so that tags and categories get their own list "
    "pages, and how can I add a description to each term page?",
]


def gelu(x):
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def softmax(x):
    x = x - x.max(-1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(-1, keepdims=True)


class Bert:
    def __init__(self, model_dir: Path):
        self.cfg = json.loads((model_dir / "config.json").read_text())
        self.w = {k: v.astype(np.float64) for k, v in load_file(str(model_dir / "model.safetensors")).items()
                  if v.dtype.kind == "f"}

    def linear(self, x, name):
        return x @ self.w[name + ".weight"].T + self.w[name + ".bias"]

    def forward(self, ids):
        """Hidden states (seq, hidden) for one unpadded sequence."""
        cfg, w = self.cfg, self.w
        eps = cfg["layer_norm_eps"]
        n = len(ids)
        x = (w["embeddings.word_embeddings.weight"][ids]
             + w["embeddings.position_embeddings.weight"][:n]
             + w["embeddings.token_type_embeddings.weight"][0])
        x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
        heads = cfg["num_attention_heads"]
        hd = cfg["hidden_size"] // heads
        for i in range(cfg["num_hidden_layers"]):
            p = f"encoder.layer.{i}."
            q = self.linear(x, p + "attention.self.query").reshape(n, heads, hd).transpose(1, 0, 2)
            k = self.linear(x, p + "attention.self.key").reshape(n, heads, hd).transpose(1, 0, 2)
            v = self.linear(x, p + "attention.self.value").reshape(n, heads, hd).transpose(1, 0, 2)
            att = softmax(q @ k.transpose(0, 2, 1) / math.sqrt(hd))
            ctx = (att @ v).transpose(1, 0, 2).reshape(n, heads * hd)
            attn_out = self.linear(ctx, p + "attention.output.dense")
            x = layer_norm(x + attn_out, w[p + "attention.output.LayerNorm.weight"],
                           w[p + "attention.output.LayerNorm.bias"], eps)
            inter = gelu(self.linear(x, p + "intermediate.dense"))
            out = self.linear(inter, p + "output.dense")
            x = layer_norm(x + out, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], eps)
        return x


def embed(bert, tokenizer, text):
    ids = tokenizer.encode(text, add_special_tokens=True).ids
    hidden = bert.forward(np.array(ids))
    # Mean pooling over the attention mask (all ones: one unpadded sequence).
    pooled = hidden.mean(0)
    # sentence_transformers.models.Normalize == F.normalize(p=2, eps=1e-12)
    return pooled / max(np.linalg.norm(pooled), 1e-12), ids


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    model_dir, out = Path(sys.argv[1]), Path(sys.argv[2])
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=MAX_SEQ_LENGTH)
    bert = Bert(model_dir)
    sha = hashlib.sha256((model_dir / "model.safetensors").read_bytes()).hexdigest()
    cases = []
    for text in TEXTS:
        vec, ids = embed(bert, tokenizer, text)
        cases.append({
            "text": text,
            "input_ids": ids,
            "vector": [round(float(x), 8) for x in vec],
        })
        print(f"{len(ids):4d} tokens  {text[:50]!r}", file=sys.stderr)
    fixture = {
        "comment": "Written by crates/embed/tests/reference/minilm_ref.py (NumPy float64 BERT, "
                   "mean pooling, L2 norm, truncation 256). Do not edit by hand.",
        "model_sha256": sha,
        "max_seq_length": MAX_SEQ_LENGTH,
        "cases": cases,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(fixture, ensure_ascii=False, indent=1) + "\n")


if __name__ == "__main__":
    main()
