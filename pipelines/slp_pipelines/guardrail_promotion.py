"""guardrail-promotion: evaluate a candidate rule set against the red-team set, promote it only if
it passes the gates. The steps are ``slp-pipeline`` commands (pipelines/cli.ts) in pipeline-tools."""

from kfp import dsl

from .platform import (
    CANDIDATE_URL,
    MTLS_DIR,
    candidate_evaluation,
    gates_env,
    harden,
    image,
    mtls_client,
)

NAME = "guardrail-promotion"


@dsl.container_component
def evaluate_candidate(candidate_rules: str, model: str, rules_sha256: dsl.OutputPath(str)):
    """Refuses code changes, writes the candidate into the candidate guardrails tier, restarts it,
    waits until it is ready and replays the red-team set against it."""
    return dsl.ContainerSpec(
        image=image("pipeline-tools"),
        command=["slp-pipeline", "evaluate-candidate"],
        args=[
            "--candidate-rules",
            candidate_rules,
            "--url",
            CANDIDATE_URL(),
            "--tls-dir",
            MTLS_DIR(),
            "--model",
            model,
            "--attacks",
            "/app/pipelines/redteam/attacks.jsonl",
            "--benign",
            "/app/pipelines/redteam/benign.jsonl",
            "--rules-sha256-out",
            rules_sha256,
        ],
    )


@dsl.container_component
def promote_rules(candidate_rules: str, expected_sha256: str):
    """Writes the evaluated rule set (and nothing else) into guardrails-rails, restarts the tier."""
    return dsl.ContainerSpec(
        image=image("pipeline-tools"),
        command=["slp-pipeline", "promote-rules"],
        args=["--candidate-rules", candidate_rules, "--expected-sha256", expected_sha256],
    )


@dsl.pipeline(
    name=NAME,
    description="Evaluates a candidate guardrail rule set against the red-team prompt set and "
    "promotes it to the guardrails tier only if it blocks enough attacks without blocking benign "
    "prompts.",
)
def guardrail_promotion(candidate_rules: str, model: str = "llama-3.1-8b-instruct"):
    evaluated = evaluate_candidate(candidate_rules=candidate_rules, model=model)
    evaluated.set_display_name("evaluate-candidate")
    harden(
        evaluated,
        pipeline=NAME,
        cpu="100m",
        memory="128Mi",
        cpu_limit="500m",
        memory_limit="256Mi",
        timeout_seconds=3600,
    )
    gates_env(evaluated)
    candidate_evaluation(evaluated)
    # The candidate tier's sidecar admits this step's certificate only.
    mtls_client(evaluated, "candidateEvaluationSecret")
    promoted = promote_rules(
        candidate_rules=candidate_rules, expected_sha256=evaluated.outputs["rules_sha256"]
    )
    promoted.set_display_name("promote-rules")
    harden(
        promoted,
        pipeline=NAME,
        cpu="100m",
        memory="128Mi",
        cpu_limit="500m",
        memory_limit="256Mi",
        timeout_seconds=600,
    )
