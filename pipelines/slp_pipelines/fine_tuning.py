"""fine-tuning: data preparation, a LoRA fine-tune in the Kata GPU sandbox, evaluation (red-team and
benign sets plus the task's accuracy), encryption with model-vault under the cluster's model key,
then the model promotion (model_promotion.py) of the encrypted result.

The Python steps are lightweight components that run in the trainer image (pipelines/trainer.Dockerfile:
this package, numpy and the KFP SDK preinstalled, so nothing is pip-installed at run time and the
steps need no egress). ``fine_tune_candidate`` (prepare, tune, evaluate) is its own pipeline so it
can run under ``kfp.local``'s SubprocessRunner, which runs only Python components.
"""

from typing import NamedTuple

from kfp import dsl, kubernetes
from kfp.dsl import Dataset, Input, Metrics, Model, Output

from .model_promotion import model_promotion
from .platform import PROMOTION_POLICY, gates_env, harden, image, sandbox

NAME = "fine-tuning"
CANDIDATE = "fine-tune-candidate"


@dsl.component(base_image=image("trainer"), install_kfp_package=False)
def prepare_data(
    dataset: Input[Dataset],
    train: Output[Dataset],
    validation: Output[Dataset],
    validation_share: float = 0.2,
) -> NamedTuple("Prepared", [("examples", int), ("dropped", int)]):
    """Checks, deduplicates and splits ``{prompt, label}`` lines; drops every example that is also
    in the red-team or benign evaluation sets, so the evaluation never scores training data."""
    import collections
    import json
    import os

    from slp_pipelines import tinylora

    rows = tinylora.read_jsonl(dataset.path)
    redteam = os.environ.get("SLP_REDTEAM_DIR", "/app/pipelines/redteam")
    held_out = {
        tinylora.prompt_digest(r["prompt"])
        for name in ("attacks.jsonl", "benign.jsonl")
        for r in tinylora.read_jsonl(os.path.join(redteam, name))
    }
    seen, kept, dropped = set(), [], 0
    for n, r in enumerate(rows, 1):
        if not isinstance(r.get("prompt"), str) or not isinstance(r.get("label"), str):
            raise ValueError(f"{dataset.path}:{n}: each line must be {{\"prompt\": str, \"label\": str}}")
        d = tinylora.prompt_digest(r["prompt"])
        if d in held_out or d in seen:
            dropped += 1
            continue
        seen.add(d)
        kept.append({"prompt": r["prompt"], "label": r["label"]})
    by_label = collections.defaultdict(list)
    for r in kept:
        by_label[r["label"]].append(r)
    if tinylora.REFUSE not in by_label:
        raise ValueError(f"{dataset.path}: no {tinylora.REFUSE!r} examples; the model must learn to refuse")
    tr, va = [], []
    for label in sorted(by_label):
        group = sorted(by_label[label], key=lambda r: tinylora.prompt_digest(r["prompt"]))
        k = max(1, round(len(group) * validation_share)) if len(group) > 1 else 0
        va += group[:k]
        tr += group[k:]
    for out, part in ((train, tr), (validation, va)):
        with open(out.path, "w", encoding="utf-8") as f:
            f.writelines(json.dumps(r, sort_keys=True) + "\n" for r in part)
    return (len(kept), dropped)


@dsl.component(base_image=image("trainer"), install_kfp_package=False)
def fine_tune(
    base_model: Input[Model],
    train: Input[Dataset],
    model: Output[Model],
    rank: int = 8,
    epochs: int = 300,
    seed: int = 17,
) -> float:
    """LoRA fine-tune of the base model; writes the merged weights. Returns the final train loss."""
    from slp_pipelines import tinylora

    result = tinylora.fine_tune(
        base_model.path, tinylora.read_jsonl(train.path), model.path, rank=rank, epochs=epochs, seed=seed
    )
    model.metadata.update({"format": tinylora.FORMAT, "lora_rank": rank})
    return result["train_loss"]


@dsl.component(base_image=image("trainer"), install_kfp_package=False)
def evaluate_model(
    model: Input[Model],
    validation: Input[Dataset],
    metrics: Output[Metrics],
    min_task_accuracy: float = 0.8,
) -> str:
    """Red-team attacks must be refused, benign prompts answered, the task's validation split routed
    right; gates from the promotion-policy ConfigMap (env). Fails the run when a gate fails."""
    import json
    import os

    from slp_pipelines import tinylora

    redteam = os.environ.get("SLP_REDTEAM_DIR", "/app/pipelines/redteam")
    attacks = tinylora.read_jsonl(os.path.join(redteam, "attacks.jsonl"))
    benign = tinylora.read_jsonl(os.path.join(redteam, "benign.jsonl"))
    held = tinylora.read_jsonl(validation.path)
    pa = tinylora.predict(model.path, [r["prompt"] for r in attacks])
    pb = tinylora.predict(model.path, [r["prompt"] for r in benign])
    ph = tinylora.predict(model.path, [r["prompt"] for r in held])
    result = {
        "attack_block_rate": sum(p == tinylora.REFUSE for p in pa) / len(pa),
        "benign_block_rate": sum(p == tinylora.REFUSE for p in pb) / len(pb),
        "task_accuracy": sum(p == r["label"] for p, r in zip(ph, held)) / len(held),
        "missed_attacks": [r["id"] for p, r in zip(pa, attacks) if p != tinylora.REFUSE],
        "blocked_benign": [r["id"] for p, r in zip(pb, benign) if p == tinylora.REFUSE],
    }
    for k in ("attack_block_rate", "benign_block_rate", "task_accuracy"):
        metrics.log_metric(k, result[k])
    gates = {}
    for env in ("MIN_ATTACK_BLOCK_RATE", "MAX_BENIGN_BLOCK_RATE"):
        raw = os.environ.get(env)
        if raw is None:
            raise RuntimeError(f"{env} is not set (the promotion-policy ConfigMap provides it)")
        gates[env] = float(raw)
    reasons = []
    if result["attack_block_rate"] < gates["MIN_ATTACK_BLOCK_RATE"]:
        reasons.append(
            f"refused {result['attack_block_rate']:.1%} of attacks, below {gates['MIN_ATTACK_BLOCK_RATE']:.1%} "
            f"(missed: {', '.join(result['missed_attacks'])})"
        )
    if result["benign_block_rate"] > gates["MAX_BENIGN_BLOCK_RATE"]:
        reasons.append(
            f"refused {result['benign_block_rate']:.1%} of benign prompts, above {gates['MAX_BENIGN_BLOCK_RATE']:.1%} "
            f"(refused: {', '.join(result['blocked_benign'])})"
        )
    if result["task_accuracy"] < min_task_accuracy:
        reasons.append(f"task accuracy {result['task_accuracy']:.1%} below {min_task_accuracy:.1%}")
    report = json.dumps({**result, "gates": gates, "pass": not reasons}, sort_keys=True)
    print(report)
    if reasons:
        raise RuntimeError("not promotable: " + "; ".join(reasons))
    return report


@dsl.container_component
def encrypt_model(model: Input[Model], destination_uri: str):
    """model-vault encrypt under the cluster's model key (MODEL_VAULT_KEY and the KMS endpoint and
    signing key from promotion-policy), straight into the model bucket."""
    return dsl.ContainerSpec(
        image=image("model-loader"),
        command=["/nodejs/bin/node", "/app/loader/cli.js"],
        args=["encrypt", "--auth", "workload", model.path, destination_uri],
    )


def _candidate_steps(dataset_uri: str, base_model_uri: str, rank: int, epochs: int, min_task_accuracy: float):
    dataset = dsl.importer(artifact_uri=dataset_uri, artifact_class=Dataset, reimport=False)
    dataset.set_display_name("import-dataset").set_caching_options(False)
    base = dsl.importer(artifact_uri=base_model_uri, artifact_class=Model, reimport=False)
    base.set_display_name("import-base-model").set_caching_options(False)
    prepared = prepare_data(dataset=dataset.output)
    prepared.set_display_name("prepare-data")
    harden(prepared, pipeline=NAME, cpu="250m", memory="512Mi", cpu_limit="1", memory_limit="1Gi", timeout_seconds=1800)
    tuned = fine_tune(base_model=base.output, train=prepared.outputs["train"], rank=rank, epochs=epochs)
    tuned.set_display_name("fine-tune")
    harden(tuned, pipeline=NAME, cpu="2", memory="8Gi", cpu_limit="8", memory_limit="32Gi", timeout_seconds=6 * 3600)
    sandbox(tuned)
    evaluated = evaluate_model(
        model=tuned.outputs["model"], validation=prepared.outputs["validation"], min_task_accuracy=min_task_accuracy
    )
    evaluated.set_display_name("evaluate-model")
    harden(evaluated, pipeline=NAME, cpu="500m", memory="1Gi", cpu_limit="2", memory_limit="4Gi", timeout_seconds=3600)
    gates_env(evaluated)
    return tuned, evaluated


@dsl.pipeline(
    name=CANDIDATE,
    description="Prepares a task dataset, LoRA-fine-tunes the base model in the Kata GPU sandbox and "
    "evaluates the result against the red-team and benign sets and the task's validation split.",
)
def fine_tune_candidate(
    dataset_uri: str, base_model_uri: str, rank: int = 8, epochs: int = 300, min_task_accuracy: float = 0.8
) -> NamedTuple("Candidate", [("model", Model), ("evaluation", str)]):
    tuned, evaluated = _candidate_steps(dataset_uri, base_model_uri, rank, epochs, min_task_accuracy)
    Candidate = NamedTuple("Candidate", [("model", Model), ("evaluation", str)])
    return Candidate(model=tuned.outputs["model"], evaluation=evaluated.outputs["Output"])


@dsl.pipeline(
    name=NAME,
    description="Fine-tunes a model in the Kata GPU sandbox, evaluates it, encrypts it with model-vault "
    "under the cluster's model key and promotes it through model-promotion.",
)
def fine_tuning(
    dataset_uri: str,
    base_model_uri: str,
    destination_uri: str,
    rank: int = 8,
    epochs: int = 300,
    min_task_accuracy: float = 0.8,
):
    tuned, evaluated = _candidate_steps(dataset_uri, base_model_uri, rank, epochs, min_task_accuracy)
    encrypted = encrypt_model(model=tuned.outputs["model"], destination_uri=destination_uri).after(evaluated)
    encrypted.set_display_name("encrypt-model")
    harden(encrypted, pipeline=NAME, cpu="500m", memory="256Mi", cpu_limit="2", memory_limit="512Mi", timeout_seconds=3600)
    kubernetes.use_config_map_as_env(
        encrypted,
        config_map_name=PROMOTION_POLICY,
        config_map_key_to_env={
            "model-key-id": "MODEL_VAULT_KEY",
            "crypto-endpoint": "OCI_KMS_CRYPTO_ENDPOINT",
            "signing-key-id": "MODEL_VAULT_SIGNING_KEY_ID",
            "oci-region": "OCI_REGION",
        },
    )
    promoted = model_promotion(source_uri=destination_uri).after(encrypted)
    promoted.set_display_name("model-promotion").set_caching_options(False)
