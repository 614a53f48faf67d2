"""A tiny model format and its LoRA fine-tune, in numpy, so the fine-tuning pipeline runs end to end
on a CPU where no model hub is reachable.

Format ``slp-tiny-lora-classifier``: hashed word and character n-gram features -> a frozen hidden
layer (the "pretrained" base, deterministically initialized) -> a label head. Fine-tuning trains a
rank-r LoRA update of the hidden layer plus the head (PEFT's ``modules_to_save``), then merges the
update into the saved weights. The labels are a task's labels plus ``refuse``: the model is tuned to
route ordinary requests and to refuse prompt-injection attempts, so its evaluation uses the red-team
and benign sets like the guardrail gate does.

Every array is written with ``numpy.save`` (no timestamps), so the same inputs and seed give the same
bytes: a fine-tune is reproducible and its digest means something.
"""

import hashlib
import json
import os
import re
import zlib
from typing import Dict, Iterable, List, Sequence, Tuple

import numpy as np

FORMAT = "slp-tiny-lora-classifier"
REFUSE = "refuse"
_WEIGHTS = ("w1", "b1", "w2", "b2")


def features(text: str, dim: int) -> np.ndarray:
    """L2-normalized hashed bag of word uni/bigrams and character 3-5-grams."""
    t = text.lower()
    words = re.findall(r"[a-z0-9']+", t)
    grams: List[str] = [f"w:{w}" for w in words]
    grams += [f"b:{a} {b}" for a, b in zip(words, words[1:])]
    squashed = " ".join(words)
    for n in (3, 4, 5):
        grams += [f"c:{squashed[i:i + n]}" for i in range(max(0, len(squashed) - n + 1))]
    v = np.zeros(dim, dtype=np.float32)
    for g in grams:
        v[zlib.crc32(g.encode("utf-8")) % dim] += 1.0
    norm = float(np.linalg.norm(v))
    return v / norm if norm > 0 else v


def init_base(out_dir: str, seed: int = 17, dim: int = 2048, hidden: int = 64) -> None:
    """Writes a base model: a deterministic random hidden layer, no head yet."""
    rng = np.random.default_rng(seed)
    os.makedirs(out_dir, exist_ok=True)
    np.save(os.path.join(out_dir, "w1.npy"), (rng.standard_normal((dim, hidden)) * 0.5).astype(np.float32))
    np.save(os.path.join(out_dir, "b1.npy"), np.zeros(hidden, dtype=np.float32))
    with open(os.path.join(out_dir, "config.json"), "w", encoding="utf-8") as f:
        json.dump({"format": FORMAT, "dim": dim, "hidden": hidden, "labels": []}, f, indent=2, sort_keys=True)


def load(model_dir: str) -> Tuple[Dict, Dict[str, np.ndarray]]:
    with open(os.path.join(model_dir, "config.json"), encoding="utf-8") as f:
        cfg = json.load(f)
    if cfg.get("format") != FORMAT:
        raise ValueError(
            f"{model_dir}: model format {cfg.get('format')!r} is not {FORMAT}; this trainer only "
            "tunes the tiny CPU format (a GPU trainer for real checkpoints is not part of this image)"
        )
    arrays = {
        k: np.load(os.path.join(model_dir, f"{k}.npy"))
        for k in _WEIGHTS
        if os.path.exists(os.path.join(model_dir, f"{k}.npy"))
    }
    return cfg, arrays


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fine_tune(
    base_dir: str,
    examples: Sequence[Dict[str, str]],
    out_dir: str,
    *,
    rank: int = 8,
    epochs: int = 300,
    learning_rate: float = 0.05,
    seed: int = 17,
) -> Dict[str, float]:
    """LoRA fine-tune of the base on ``{prompt, label}`` examples; writes the merged model."""
    cfg, base = load(base_dir)
    labels = sorted({e["label"] for e in examples} | {REFUSE})
    index = {l: i for i, l in enumerate(labels)}
    x = np.stack([features(e["prompt"], cfg["dim"]) for e in examples])
    y = np.zeros((len(examples), len(labels)), dtype=np.float32)
    for i, e in enumerate(examples):
        y[i, index[e["label"]]] = 1.0
    rng = np.random.default_rng(seed)
    w1, b1 = base["w1"], base["b1"]
    a = (rng.standard_normal((cfg["dim"], rank)) * 0.01).astype(np.float32)
    b = np.zeros((rank, cfg["hidden"]), dtype=np.float32)
    w2 = (rng.standard_normal((cfg["hidden"], len(labels))) * 0.1).astype(np.float32)
    b2 = np.zeros(len(labels), dtype=np.float32)
    params = [a, b, w2, b2]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    loss = 0.0
    for step in range(1, epochs + 1):
        h_pre = x @ w1 + (x @ a) @ b + b1
        h = np.tanh(h_pre)
        p = _softmax(h @ w2 + b2)
        loss = float(-np.mean(np.sum(y * np.log(p + 1e-9), axis=1)))
        g_logits = (p - y) / len(examples)
        g_w2 = h.T @ g_logits
        g_b2 = g_logits.sum(axis=0)
        g_h = (g_logits @ w2.T) * (1.0 - h * h)
        xa = x @ a
        g_b = xa.T @ g_h
        g_a = x.T @ (g_h @ b.T)
        # Adam; the base (w1, b1) stays frozen, as LoRA prescribes.
        for i, g in enumerate([g_a, g_b, g_w2, g_b2]):
            m[i] = 0.9 * m[i] + 0.1 * g
            v[i] = 0.999 * v[i] + 0.001 * g * g
            mh = m[i] / (1 - 0.9**step)
            vh = v[i] / (1 - 0.999**step)
            params[i] -= learning_rate * mh / (np.sqrt(vh) + 1e-8)
    os.makedirs(out_dir, exist_ok=True)
    merged = {"w1": (w1 + a @ b).astype(np.float32), "b1": b1, "w2": w2, "b2": b2}
    for k, arr in merged.items():
        np.save(os.path.join(out_dir, f"{k}.npy"), arr)
    np.save(os.path.join(out_dir, "lora_a.npy"), a)
    np.save(os.path.join(out_dir, "lora_b.npy"), b)
    out_cfg = {**cfg, "labels": labels, "lora": {"rank": rank, "target": "w1"}}
    with open(os.path.join(out_dir, "config.json"), "w", encoding="utf-8") as f:
        json.dump(out_cfg, f, indent=2, sort_keys=True)
    return {"train_loss": loss, "examples": float(len(examples))}


def predict(model_dir: str, prompts: Iterable[str]) -> List[str]:
    cfg, w = load(model_dir)
    if "w2" not in w:
        raise ValueError(f"{model_dir}: a base model without a head; fine-tune it first")
    x = np.stack([features(p, cfg["dim"]) for p in prompts])
    logits = np.tanh(x @ w["w1"] + w["b1"]) @ w["w2"] + w["b2"]
    return [cfg["labels"][i] for i in np.argmax(logits, axis=1)]


def read_jsonl(path: str) -> List[Dict[str, str]]:
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise ValueError(f"{path}:{n}: not JSON ({e})") from e
    return out


def prompt_digest(prompt: str) -> str:
    """Normalized prompt hash: the contamination check compares these."""
    return hashlib.sha256(" ".join(prompt.lower().split()).encode("utf-8")).hexdigest()
