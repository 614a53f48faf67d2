/** Container images the program references directly, each pinned by digest. One place, so upgrades are one diff. */

export const images = {
    /**
     * Fluent Bit for the guardrail decision-log metrics. Tag 4.1.1; the digest is the one public
     * projects pin for that tag — confirm with `crane digest cr.fluentbit.io/fluent/fluent-bit:4.1.1`.
     */
    fluentBit:
        "cr.fluentbit.io/fluent/fluent-bit:4.1.1@sha256:2a5cb41f99b7c5f3386bb34d42ce3b19eb47fbef6d93b64c0bd4afe9e6ec389c",
} as const;

/** An image pinned by tag and digest, with how far its digest is trusted. */
export interface PinnedImage {
    /** Registry and repository, without tag or digest. */
    readonly repository: string;
    /** Human-readable tag; the digest decides what runs. */
    readonly tag: string;
    /** `sha256:<64 hex>`. */
    readonly digest: string;
    /**
     * `registry`: checked against the registry; `corroborated`: seen with this tag in several
     * public repositories but not checked against the registry (no registry access where this was
     * written); `placeholder`: our own image whose build is not pushed yet — set its digest in config.
     */
    readonly digestProvenance: "registry" | "corroborated" | "placeholder";
}

/** Digest of an image we build but whose first build is not pushed yet. Refused outside dev. */
export const placeholderDigest = `sha256:${"0".repeat(64)}`;

/** Repository prefix of our own images until configured: `<region>.ocir.io/<tenancy-namespace>/secure-llm-platform`. */
export const ownRegistryPlaceholder = "registry.invalid/secure-llm-platform";

/** Default images of the LLM tiers (overridable per tier in config). */
export const tierImages = {
    /** vLLM OpenAI-compatible server (multi-arch index digest). */
    vllm: {
        repository: "docker.io/vllm/vllm-openai",
        tag: "v0.11.0",
        digest: "sha256:014a95f21c9edf6abe0aea6b07353f96baa4ec291c427bb1176dc7c93a85845c",
        digestProvenance: "corroborated",
    },
    /** Presidio analyzer (spaCy en_core_web_lg baked in, so no egress). */
    presidioAnalyzer: {
        repository: "ghcr.io/data-privacy-stack/presidio-analyzer",
        tag: "2.2.364",
        digest: "sha256:ae8f6f111ac2f04e3fec552f7f80edd0dcbfa2dd69ee1b9e030475be31669885",
        digestProvenance: "corroborated",
    },
    /** Presidio anonymizer. */
    presidioAnonymizer: {
        repository: "ghcr.io/data-privacy-stack/presidio-anonymizer",
        tag: "2.2.364",
        digest: "sha256:e567013893ebc80994e3799f6f55c86aa1f0b0fadb779571ab346f0ec45365c1",
        digestProvenance: "corroborated",
    },
    /** The API gateway: nginx built to run unprivileged. */
    gateway: {
        repository: "docker.io/nginxinc/nginx-unprivileged",
        tag: "1.30.5-alpine",
        digest: "sha256:ed04ec1ff34502c339ee5c3ae3f855442398edc1d05591e2b98981dcbbd20b1e",
        digestProvenance: "corroborated",
    },
    /** NeMo Guardrails server, built by images/guardrails/Dockerfile. */
    guardrails: {
        repository: `${ownRegistryPlaceholder}/guardrails`,
        tag: "0.24.1",
        digest: placeholderDigest,
        digestProvenance: "placeholder",
    },
    /** NeMo Guardrails jailbreak heuristics server, built by images/jailbreak-detection/Dockerfile. */
    jailbreakDetection: {
        repository: `${ownRegistryPlaceholder}/jailbreak-detection`,
        tag: "0.24.1",
        digest: placeholderDigest,
        digestProvenance: "placeholder",
    },
} as const satisfies Record<string, PinnedImage>;

/**
 * Squid for the egress proxy (`proxy` engine), built by images/egress-proxy/Dockerfile: Debian 12
 * with its squid package at the version the real suite runs (the tag names it; the suite checks
 * the Dockerfile's pin against what it ran). Placeholder until its first build is pushed.
 */
export const egressProxyImage: PinnedImage = {
    repository: `${ownRegistryPlaceholder}/egress-proxy`,
    tag: "squid-5.7-2-deb12u6",
    digest: placeholderDigest,
    digestProvenance: "placeholder",
};

/**
 * Images the MLOps pipelines run (issue 8). `pipelineTools` is built by `pipelines/Dockerfile`
 * on top of the guardrails image: NeMo Guardrails (to serve a candidate rule set in the step's own
 * pod) plus Node and the evaluator/promoter in `pipelines/`.
 */
export const pipelineImages = {
    pipelineTools: {
        repository: `${ownRegistryPlaceholder}/pipeline-tools`,
        tag: "0.1.0",
        digest: placeholderDigest,
        digestProvenance: "placeholder",
    },
    /**
     * The fine-tuning pipeline's Python steps, built by `pipelines/trainer.Dockerfile`: Python, the
     * pinned KFP SDK and numpy (pipelines/requirements.lock) and `pipelines/slp_pipelines`.
     */
    trainer: {
        repository: `${ownRegistryPlaceholder}/pipeline-trainer`,
        tag: "0.1.0",
        digest: placeholderDigest,
        digestProvenance: "placeholder",
    },
} as const satisfies Record<string, PinnedImage>;

/**
 * The model loader (images/model-loader/Dockerfile) as the inference init container. Placeholder
 * until its build is pushed; reconcile with the model-loader image constant when that lands.
 */
export const modelLoaderImage: PinnedImage = {
    repository: `${ownRegistryPlaceholder}/model-loader`,
    tag: "0.1.0",
    digest: placeholderDigest,
    digestProvenance: "placeholder",
};

/**
 * The pipeline sandbox's mutating admission webhook (images/sandbox-webhook: Python standard
 * library on python:3.11-slim), which gives sandboxed pipeline steps the Kata GPU RuntimeClass.
 * Placeholder until its build is pushed.
 */
export const sandboxWebhookImage: PinnedImage = {
    repository: `${ownRegistryPlaceholder}/sandbox-webhook`,
    tag: "0.1.0",
    digest: placeholderDigest,
    digestProvenance: "placeholder",
};

// ---- Calico policy-only install on OKE (modules/k8s/network/calico-policy-only.ts) ----

/**
 * Images of the authored Calico policy-only install, at the release of the pinned tigera-operator
 * chart and of the CRDs it applies (Calico v3.31.5; image names as
 * `manifests/calico-policy-only.yaml` of projectcalico/calico v3.31.5 writes them). Their digests
 * could not be read here (no registry access, and no public repository pins them): the placeholder
 * stays here and the digest comes from images/chart-images.lock.json (`npm run images:mirror --
 * --write-lock` resolves these tags with the chart images'; `lockedImage`), until then the plan
 * warns and prod is blocked.
 */
export const calicoImages = {
    /** calico-node: Felix, the policy agent on every node. */
    node: {
        repository: "quay.io/calico/node",
        tag: "v3.31.5",
        digest: placeholderDigest,
        digestProvenance: "placeholder",
    },
    /** calico-kube-controllers: the node controller (garbage-collects Calico's per-node data). */
    kubeControllers: {
        repository: "quay.io/calico/kube-controllers",
        tag: "v3.31.5",
        digest: placeholderDigest,
        digestProvenance: "placeholder",
    },
} as const satisfies Record<string, PinnedImage>;
