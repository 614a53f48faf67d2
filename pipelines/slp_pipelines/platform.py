"""What every task of our pipelines shares: images by digest, pod hardening, promotion-policy env.

Image references (``modules/constants/images.ts``, the one place digests live) and the Kata GPU
sandbox's scheduling (``modules/k8s/baseline/kata.ts``) come from a JSON file named by
``SLP_PIPELINE_PLATFORM``, written by ``pipelines/compile.ts``: the Python side never holds a second
copy of a digest, label or taint.
"""

import json
import os
from functools import lru_cache
from typing import Any, Dict

from kfp import dsl, kubernetes

# Image roles the pipelines use; compile.ts must provide every one.
IMAGE_ROLES = ("pipeline-tools", "model-loader", "trainer")

# UID/GID of our images (images/*/Dockerfile: USER 10001:10001).
RUN_AS = 10001

# ConfigMap of the pipeline namespace with the gates and trusted keys (modules/k8s/kubeflow.ts).
PROMOTION_POLICY = "promotion-policy"

PART_OF = "secure-llm-platform"


@lru_cache(maxsize=1)
def facts() -> Dict[str, Any]:
    path = os.environ.get("SLP_PIPELINE_PLATFORM")
    if not path:
        raise SystemExit(
            "SLP_PIPELINE_PLATFORM is not set: compile through `npm run pipelines:compile`, which "
            "writes the image references of modules/constants/images.ts and the Kata scheduling"
        )
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def GUARDRAILS_URL() -> str:  # noqa: N802 - reads like the constant it is
    """The guardrails tier's in-cluster URL (modules/k8s/catalog.ts), for smoke tests."""
    return facts()["guardrailsUrl"]


def CANDIDATE_URL() -> str:  # noqa: N802
    """The candidate guardrails tier's in-cluster URL (modules/constants/rollout.ts), for evaluation."""
    return facts()["candidateUrl"]


def candidate_evaluation(task: dsl.PipelineTask) -> dsl.PipelineTask:
    """Labels the evaluation step's pod: the only pod the candidate tier admits (network intent)."""
    for key, value in facts()["candidateEvaluationLabels"].items():
        kubernetes.add_pod_label(task, key, value)
    return task


def MTLS_DIR() -> str:  # noqa: N802
    """Where a step mounts its client certificate (modules/k8s/llm/mtls.ts pipelineMtlsDir)."""
    return facts()["mtls"]["dir"]


def mtls_client(task: dsl.PipelineTask, secret_key: str) -> dsl.PipelineTask:
    """Mounts a step's client certificate Secret (cert-manager, the cluster CA; client auth only)
    read-only at MTLS_DIR: the tiers' mTLS sidecars admit no caller without one
    (modules/k8s/llm/mtls.ts mtlsCallers). ``secret_key``: ``candidateEvaluationSecret`` or
    ``smokeTestSecret`` or ``redteamSecret``."""
    kubernetes.use_secret_as_volume(
        task, secret_name=facts()["mtls"][secret_key], mount_path=MTLS_DIR()
    )
    return task


def images() -> Dict[str, str]:
    path = os.environ["SLP_PIPELINE_PLATFORM"]
    refs = facts().get("images", {})
    missing = [r for r in IMAGE_ROLES if r not in refs]
    bad = [r for r in IMAGE_ROLES if r in refs and "@sha256:" not in refs[r]]
    if missing or bad:
        raise SystemExit(
            f"{path}: images {missing + bad} missing or not pinned by digest "
            "(expected repository:tag@sha256:<64 hex>)"
        )
    return refs


def image(role: str) -> str:
    return images()[role]


def harden(
    task: dsl.PipelineTask,
    *,
    pipeline: str,
    cpu: str,
    memory: str,
    cpu_limit: str,
    memory_limit: str,
    timeout_seconds: int,
) -> dsl.PipelineTask:
    """Applies what KFP lets a pipeline set of the platform's pod baseline.

    kfp-kubernetes 2.16.0 sets runAsUser/runAsGroup/runAsNonRoot (its backend adds
    allowPrivilegeEscalation false, capabilities drop ALL and RuntimeDefault seccomp, per the SDK's
    docstring). It has no field for readOnlyRootFilesystem, automountServiceAccountToken or the pod's
    own seccomp profile: the namespace's Pod Security admission, quota, LimitRange and default-deny
    network policy (modules/k8s/kubeflow/namespace.ts) bound what it cannot set.
    """
    task.set_caching_options(False)
    task.set_cpu_request(cpu).set_cpu_limit(cpu_limit)
    task.set_memory_request(memory).set_memory_limit(memory_limit)
    kubernetes.set_security_context(
        task, run_as_user=RUN_AS, run_as_group=RUN_AS, run_as_non_root=True
    )
    # Images are pinned by digest: a cached copy is the same bytes.
    kubernetes.set_image_pull_policy(task, "IfNotPresent")
    kubernetes.set_timeout(task, timeout_seconds)
    kubernetes.add_pod_label(task, "app.kubernetes.io/part-of", PART_OF)
    kubernetes.add_pod_label(task, "secure-llm-platform.io/pipeline", pipeline)
    return task


def gates_env(task: dsl.PipelineTask) -> dsl.PipelineTask:
    """Gates from the ConfigMap the rollout identity cannot write, so run parameters cannot lower them."""
    return kubernetes.use_config_map_as_env(
        task,
        config_map_name=PROMOTION_POLICY,
        config_map_key_to_env={
            "min-attack-block-rate": "MIN_ATTACK_BLOCK_RATE",
            "max-benign-block-rate": "MAX_BENIGN_BLOCK_RATE",
        },
    )


def sandbox(task: dsl.PipelineTask) -> dsl.PipelineTask:
    """Schedules a task on the Kata GPU nodes and labels it for the sandbox guard.

    KFP 2.16.0 cannot set ``runtimeClassName``: the node selector and tolerations are the Kata GPU
    RuntimeClass's own scheduling, the platform's mutating webhook sets the class on pods with the
    label (images/sandbox-webhook), and a ValidatingAdmissionPolicy refuses a sandbox-labelled pod
    that does not run under that RuntimeClass (fails closed; modules/k8s/kubeflow/sandbox.ts).
    """
    sb = facts()["sandbox"]
    kubernetes.add_pod_label(task, sb["labelKey"], sb["label"])
    task.set_accelerator_type(sb["gpuResource"]).set_accelerator_limit(1)
    for key, value in sb["nodeSelector"].items():
        kubernetes.add_node_selector(task, label_key=key, label_value=value)
    for t in sb["tolerations"]:
        kubernetes.add_toleration(
            task, key=t["key"], operator="Equal", value=t["value"], effect=t["effect"]
        )
    return task
