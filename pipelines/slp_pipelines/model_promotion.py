"""model-promotion: ``model-vault verify`` an encrypted model, only then point the inference tier at
it, then smoke-test the new model through the guardrails service (the only path to inference) and
roll back to the previous model when it misses the gates. Also the last stage of fine-tuning
(fine_tuning.py), as a nested pipeline."""

from kfp import dsl, kubernetes

from .platform import (
    GUARDRAILS_URL,
    MTLS_DIR,
    PROMOTION_POLICY,
    gates_env,
    harden,
    image,
    mtls_client,
)

NAME = "model-promotion"


@dsl.container_component
def verify_model(source_uri: str):
    """Every chunk authenticated, the manifest checked against the trusted KMS keys."""
    return dsl.ContainerSpec(
        image=image("model-loader"),
        command=["/nodejs/bin/node", "/app/loader/cli.js"],
        args=["verify", "--auth", "workload", source_uri],
    )


@dsl.container_component
def promote_model(source_uri: str, previous_source: dsl.OutputPath(str)):
    """Sets `source` of inference-model (other keys kept) and restarts the inference tier; outputs
    the source it replaced."""
    return dsl.ContainerSpec(
        image=image("pipeline-tools"),
        command=["slp-pipeline", "promote-model"],
        args=["--source-uri", source_uri, "--previous-source-out", previous_source],
    )


@dsl.container_component
def smoke_model(source_uri: str, rollback_source: str, model: str):
    """Waits for the inference rollout, replays the red-team set through the guardrails service
    (the new model answers the rails' self-checks too), promotes the previous model back when a
    gate fails."""
    return dsl.ContainerSpec(
        image=image("pipeline-tools"),
        command=["slp-pipeline", "smoke-model"],
        args=[
            "--source-uri",
            source_uri,
            "--rollback-source",
            rollback_source,
            "--url",
            GUARDRAILS_URL(),
            "--tls-dir",
            MTLS_DIR(),
            "--model",
            model,
            "--attacks",
            "/app/pipelines/redteam/attacks.jsonl",
            "--benign",
            "/app/pipelines/redteam/benign.jsonl",
        ],
    )


@dsl.pipeline(
    name=NAME,
    description="Verifies an encrypted model with model-vault verify (every chunk authenticated, "
    "the manifest signed by a trusted key) and only then points the inference tier at it.",
)
def model_promotion(source_uri: str, model: str = "llama-3.1-8b-instruct"):
    verified = verify_model(source_uri=source_uri)
    verified.set_display_name("verify-model")
    harden(
        verified,
        pipeline=NAME,
        cpu="500m",
        memory="256Mi",
        cpu_limit="2",
        memory_limit="512Mi",
        timeout_seconds=3600,
    )
    kubernetes.use_config_map_as_env(
        verified,
        config_map_name=PROMOTION_POLICY,
        config_map_key_to_env={
            "trusted-key-ids": "MODEL_VAULT_TRUSTED_KEY_IDS",
            "oci-region": "OCI_REGION",
        },
    )
    promoted = promote_model(source_uri=source_uri).after(verified)
    promoted.set_display_name("promote-model")
    harden(
        promoted,
        pipeline=NAME,
        cpu="100m",
        memory="128Mi",
        cpu_limit="500m",
        memory_limit="256Mi",
        timeout_seconds=600,
    )
    kubernetes.use_config_map_as_env(
        promoted,
        config_map_name=PROMOTION_POLICY,
        config_map_key_to_env={"trusted-key-ids": "MODEL_VAULT_TRUSTED_KEY_IDS"},
    )
    smoke = smoke_model(
        source_uri=source_uri, rollback_source=promoted.outputs["previous_source"], model=model
    )
    smoke.set_display_name("smoke-test")
    harden(
        smoke,
        pipeline=NAME,
        cpu="100m",
        memory="128Mi",
        cpu_limit="500m",
        memory_limit="256Mi",
        timeout_seconds=3600,
    )
    gates_env(smoke)
    # The live guardrails' sidecar admits the gateway and this certificate.
    mtls_client(smoke, "smokeTestSecret")
