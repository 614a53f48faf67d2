"""redteam-assessment: replays the red-team set through the gateway against the live rails and
reports block rates. The same ``slp-pipeline assess`` command runs on a schedule as the program's
CronJob (modules/k8s/kubeflow/redteam.ts); this pipeline is the on-demand run of it. The gateway admits only mTLS callers it knows
(modules/k8s/llm/mtls.ts): the step presents the assessment's client certificate, so
``gateway_url`` is the gateway's https Service URL."""

from kfp import dsl, kubernetes

from .platform import MTLS_DIR, gates_env, harden, image, mtls_client

NAME = "redteam-assessment"


@dsl.container_component
def assess(gateway_url: str, report: dsl.OutputPath(str)):
    """Sends every attack and benign prompt to the gateway with the assessment's API key."""
    return dsl.ContainerSpec(
        image=image("pipeline-tools"),
        command=["slp-pipeline", "assess"],
        args=[
            "--url",
            gateway_url,
            "--tls-dir",
            MTLS_DIR(),
            "--api-key-file",
            "/var/run/secrets/redteam/api-key",
            "--attacks",
            "/app/pipelines/redteam/attacks.jsonl",
            "--benign",
            "/app/pipelines/redteam/benign.jsonl",
            "--report",
            report,
        ],
    )


@dsl.pipeline(
    name=NAME,
    description="Replays the red-team prompt set through the gateway (https, mTLS) against the live "
    "guardrails and reports the attack and benign block rates against the promotion gates.",
)
def redteam_assessment(gateway_url: str):
    task = assess(gateway_url=gateway_url)
    task.set_display_name("assess")
    harden(
        task,
        pipeline=NAME,
        cpu="100m",
        memory="128Mi",
        cpu_limit="500m",
        memory_limit="256Mi",
        timeout_seconds=1800,
    )
    gates_env(task)
    kubernetes.use_secret_as_volume(
        task, secret_name="redteam-api-key", mount_path="/var/run/secrets/redteam"
    )
    # The gateway admits the ingress controller and this certificate only.
    mtls_client(task, "redteamSecret")
