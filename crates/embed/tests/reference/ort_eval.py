#!/usr/bin/env python3
"""Evaluation only: is ONNX Runtime a faster backend for all-MiniLM-L6-v2?

Builds an ONNX graph of BERT + mean pooling + L2 norm straight from
model.safetensors with `onnx.helper` (no torch, nothing downloaded), checks it
against the NumPy fixture and times onnxruntime (CPU, 2 threads) on the same
inputs as `benches/embed.rs`.

    pip install numpy safetensors tokenizers onnx onnxruntime
    python3 crates/embed/tests/reference/ort_eval.py MODEL_DIR
"""
import json, math, os, sys, tempfile, time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from safetensors.numpy import load_file
from tokenizers import Tokenizer


def build(model_dir, out):
    cfg = json.load(open(f"{model_dir}/config.json"))
    W = load_file(f"{model_dir}/model.safetensors")
    H = cfg["hidden_size"]; NH = cfg["num_attention_heads"]; HD = H // NH; eps = cfg["layer_norm_eps"]
    inits = []; nodes = []
    def init(name, arr):
        inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name)); return name
    counter = [0]
    def n(op, ins, **kw):
        counter[0] += 1; o = f"t{counter[0]}"; nodes.append(helper.make_node(op, ins, [o], **kw)); return o
    def const(name, arr): return init(name, np.array(arr))
    def ln(x, p): return n("LayerNormalization", [x, init(p+".w", W[p+".weight"]), init(p+".b", W[p+".bias"])], axis=-1, epsilon=eps)
    def lin(x, p): return n("Add", [n("MatMul", [x, init(p+".wt", W[p+".weight"].T.copy())]), init(p+".bias", W[p+".bias"])])
    ids = "input_ids"; mask = "attention_mask"
    we = n("Gather", [init("we", W["embeddings.word_embeddings.weight"]), ids])
    shape = n("Shape", [ids])
    L1 = n("Slice", [shape, const("s1", np.array([1], dtype=np.int64)), const("e2", np.array([2], dtype=np.int64))])
    pe = n("Slice", [init("pe", W["embeddings.position_embeddings.weight"]), const("z1", np.array([0], dtype=np.int64)), L1, const("a0", np.array([0], dtype=np.int64))])
    te = init("te", W["embeddings.token_type_embeddings.weight"][0])
    x = ln(n("Add", [n("Add", [we, pe]), te]), "embeddings.LayerNorm")
    maskf = n("Cast", [mask], to=TensorProto.FLOAT)
    # (B,1,1,L) additive mask
    bias = n("Mul", [n("Sub", [const("onef", np.array(1.0, dtype=np.float32)), n("Unsqueeze", [maskf, const("ax12", np.array([1, 2], dtype=np.int64))])]), const("neg", np.array(-10000.0, dtype=np.float32))])
    shp_heads = const("shp_heads", np.array([0, 0, NH, HD], dtype=np.int64))
    shp_back = const("shp_back", np.array([0, 0, H], dtype=np.int64))
    scale = const("scale", np.array(1.0 / math.sqrt(HD), dtype=np.float32))
    for i in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        def heads(t, perm): return n("Transpose", [n("Reshape", [t, shp_heads])], perm=perm)
        q = heads(lin(x, p+"attention.self.query"), [0, 2, 1, 3])
        k = heads(lin(x, p+"attention.self.key"), [0, 2, 3, 1])
        v = heads(lin(x, p+"attention.self.value"), [0, 2, 1, 3])
        s = n("Add", [n("Mul", [n("MatMul", [q, k]), scale]), bias])
        a = n("Softmax", [s], axis=-1)
        ctx = n("Reshape", [n("Transpose", [n("MatMul", [a, v])], perm=[0, 2, 1, 3]), shp_back])
        x = ln(n("Add", [lin(ctx, p+"attention.output.dense"), x]), p+"attention.output.LayerNorm")
        h = lin(x, p+"intermediate.dense")
        g = n("Mul", [n("Mul", [h, const(f"half{i}", np.array(0.5, dtype=np.float32))]), n("Add", [n("Erf", [n("Div", [h, const(f"sq2{i}", np.array(math.sqrt(2), dtype=np.float32))])]), const(f"one{i}", np.array(1.0, dtype=np.float32))])])
        x = ln(n("Add", [lin(g, p+"output.dense"), x]), p+"output.LayerNorm")
    # mean pooling + l2
    m3 = n("Unsqueeze", [maskf, const("ax2", np.array([2], dtype=np.int64))])
    summed = n("ReduceSum", [n("Mul", [x, m3]), const("ax1", np.array([1], dtype=np.int64))], keepdims=0)
    cnt = n("ReduceSum", [maskf, const("ax1b", np.array([1], dtype=np.int64))], keepdims=1)
    mean = n("Div", [summed, n("Max", [cnt, const("tiny", np.array(1e-9, dtype=np.float32))])])
    norm = n("ReduceL2", [mean, const("axm1", np.array([-1], dtype=np.int64))], keepdims=1)
    nodes.append(helper.make_node("Div", [mean, n("Max", [norm, const("eps12", np.array(1e-12, dtype=np.float32))])], ["embedding"]))
    g = helper.make_graph(nodes, "minilm", [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["B", "L"]), helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["B", "L"])],
                          [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["B", H])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)]); m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, out)
    print(f"ONNX graph written to {out} ({os.path.getsize(out) / 1e6:.0f} MB)")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    md = sys.argv[1]
    path = os.path.join(tempfile.mkdtemp(), "minilm.onnx")
    build(md, path)
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    tok = Tokenizer.from_file(md + "/tokenizer.json")
    tok.no_padding()
    tok.enable_truncation(256)
    fx = json.load(open(Path(__file__).parent.parent / "fixtures" / "expected.json"))
    worst = 0.0
    for c in fx["cases"]:
        ids = np.array([tok.encode(c["text"]).ids], dtype=np.int64)
        e = s.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids)})[0][0]
        worst = max(worst, float(np.abs(e - np.array(c["vector"])).max()))
    print(f"onnxruntime {ort.__version__}: max abs diff vs NumPy fixture {worst:.2e}")
    words = ["the", "site", "page", "tag", "term", "model", "data", "search", "rust", "code", "build",
             "test", "cloud", "server", "user", "file", "list", "time", "world", "music", "food", "travel",
             "history", "science", "art", "city", "river", "market", "price", "health", "school", "game"]
    for seq in [16, 64, 128, 256]:
        count = 16384 // seq
        ids = np.array([[101] + [tok.token_to_id(words[(i * 7 + j * 13 + i // 3) % len(words)])
                                 for i in range(seq - 2)] + [102] for j in range(count)], dtype=np.int64)
        best = 1e9
        for _ in range(2):
            t = time.time()
            for b in range(0, count, 32):
                x = ids[b:b + 32]
                s.run(None, {"input_ids": x, "attention_mask": np.ones_like(x)})
            best = min(best, time.time() - t)
        print(f"ORT seq {seq:3d}: {count * seq / best:7.0f} tok/s")


if __name__ == "__main__":
    main()
