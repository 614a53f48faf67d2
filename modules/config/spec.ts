/**
 * The stack configuration schema: every key a stack file may set, its type, allowed values,
 * pattern, range, default and meaning, declared once with zod. From it come the structural
 * validation of a stack (unknown keys, types, enum values, patterns, ranges: {@link checkShape}
 * in ./shape.ts), the raw input type {@link RawStackConfig}, the README "Configuration reference"
 * (`npm run docs:config`) and the JSON Schema for editors (`schema/stack-config.schema.json`).
 *
 * Defaults that depend on other values (the cluster's target, environment or node pools) cannot be
 * a constant: they are written as `defaultText` here and computed by the section parsers, which
 * also hold the cross-field rules (test/config/schema.test.ts checks that every constant default
 * here is the one the parsers apply). Field patterns with their messages, and numeric ranges, are
 * entries of the `patterns` and `ranges` tables of ./validate.ts, which the parsers use too
 * (test/config/patterns.test.ts).
 */
import { z } from "zod";
import { privilegedNamespaces, serviceNamespaces, tierNamespaces } from "../constants/namespaces";
import { ocidOf } from "./ocids";
import {
    clusterTargets,
    cnis,
    environments,
    kataPoolModes,
    nodePoolRoles,
    ociAuthMethods,
    podNetworkings,
    protectionModes,
    vaultTypes,
} from "./schema";
import { patterns, ranges } from "./validate";
import { egressEngines, extendableEgressIdentities } from "./network";
import { receiverTypes } from "./observability";
import { kubeflowModes, podSecurityLevels } from "./kubeflow";
import { devicePluginOwners } from "./baseline";
import { gatewayAuthModes, inferenceRuntimeClasses, presidioEntities } from "./tiers";
import { globalEntryTtl, monitorIntervals, monitorTimeouts, steeringPolicies } from "./fleet";

/** What the README and the error messages say about a key besides its JSON Schema. */
export interface FieldDoc {
    /** The default in words, when it depends on other values (else the constant default is shown). */
    readonly defaultText?: string;
    /** What a valid value looks like, in the words error messages use. */
    readonly expected?: string;
    /** Set when the key is required (in words when only in some cases). */
    readonly required?: string;
}

/** Documentation of the schema's nodes, keyed by the node that sits in its parent's shape. */
export const fieldDocs = z.registry<FieldDoc>();

interface Common {
    /** Default in words, when not a constant. */
    readonly defaultText?: string;
    /** `true` or words for when it is required. */
    readonly required?: true | string;
}

function finish<T extends z.ZodType>(
    t: T,
    description: string,
    expected: string,
    o: Common & { default?: unknown },
): z.ZodType {
    const required =
        o.required === undefined
            ? undefined
            : o.required === true
              ? "required"
              : `required ${o.required}`;
    const node =
        o.default !== undefined
            ? (t as unknown as z.ZodString).default(o.default as never)
            : o.required === true
              ? t
              : t.optional();
    const described = node.describe(description);
    fieldDocs.add(described, { defaultText: o.defaultText, expected, required });
    return described;
}

/** A string, optionally matching a pattern. */
function text(
    description: string,
    o: Common & { pattern?: RegExp; expected?: string; default?: string } = {},
): z.ZodType {
    const expected = o.expected ?? "a non-empty string";
    let t = z.string({ error: expected }).min(1, { error: expected });
    if (o.pattern) {
        t = t.regex(o.pattern, { error: expected });
    }
    return finish(t, description, expected, o);
}

/** One of a fixed set of strings. */
function choice(
    values: readonly [string, ...string[]],
    description: string,
    o: Common & { default?: string } = {},
): z.ZodType {
    const expected = `one of ${values.join(" | ")}`;
    return finish(z.enum(values, { error: expected }), description, expected, o);
}

/** A number in a range (integer unless `integer: false`). */
function number(
    description: string,
    o: Common & { min?: number; max?: number; integer?: boolean; default?: number } = {},
): z.ZodType {
    const integer = o.integer ?? true;
    const range =
        o.min !== undefined && o.max !== undefined
            ? ` from ${o.min} to ${o.max}`
            : o.min !== undefined
              ? ` of at least ${o.min}`
              : o.max !== undefined
                ? ` of at most ${o.max}`
                : "";
    const expected = `${integer ? "an integer" : "a number"}${range}`;
    let t = z.number({ error: expected });
    if (integer) {
        t = t.int({ error: expected });
    }
    if (o.min !== undefined) {
        t = t.min(o.min, { error: expected });
    }
    if (o.max !== undefined) {
        t = t.max(o.max, { error: expected });
    }
    return finish(t, description, expected, o);
}

function flag(description: string, o: Common & { default?: boolean } = {}): z.ZodType {
    return finish(z.boolean({ error: "true or false" }), description, "true or false", o);
}

/** One of a fixed set of numbers. */
function numberChoice(
    values: readonly [number, ...number[]],
    description: string,
    o: Common & { default?: number } = {},
): z.ZodType {
    const expected = `one of ${values.join(" | ")}`;
    return finish(z.literal(values, { error: expected }), description, expected, o);
}

/** A list of items. */
function list(
    item: z.ZodType,
    description: string,
    o: Common & { default?: unknown[]; minItems?: number; expected?: string } = {},
): z.ZodType {
    const expected =
        o.expected ?? `a list${o.minItems ? ` of at least ${o.minItems} item(s)` : ""}`;
    let t = z.array(item, { error: expected });
    if (o.minItems) {
        t = t.min(o.minItems, { error: expected });
    }
    return finish(t, description, expected, o);
}

/** A map of string keys to string values. */
function stringMap(
    description: string,
    o: Common & { keyPattern?: RegExp; keyExpected?: string } = {},
): z.ZodType {
    const key = o.keyPattern
        ? z.string().regex(o.keyPattern, { error: o.keyExpected ?? "a valid key" })
        : z.string();
    const expected = "a map of string keys to string values";
    return finish(
        z.record(key, z.string({ error: "a string value" }), { error: expected }),
        description,
        expected,
        { ...o, defaultText: o.defaultText ?? "`{}`" },
    );
}

/** An object whose keys are exactly those of `shape` (anything else is a typo or a refusal). */
function section(
    shape: z.ZodRawShape,
    description: string,
    o: Common & { expected?: string } = {},
): z.ZodType {
    const expected = o.expected ?? "an object";
    return finish(z.strictObject(shape, { error: expected }), description, expected, o);
}

/** An item object of a list (required within its list). */
function item(shape: z.ZodRawShape, description: string, expected?: string): z.ZodType {
    return section(shape, description, { required: true, expected });
}

const cidr = { pattern: patterns.cidr.pattern, expected: patterns.cidr.expected };
const cidrList = (description: string, o: Common = {}) =>
    list(text("an IPv4 CIDR block", { ...cidr, required: true }), description, {
        defaultText: "`[]`",
        ...o,
    });
const k8sName = patterns.k8sName;
const vaultSecretName = patterns.vaultSecretName;
const domainItem = text("a domain name", {
    required: true,
    expected:
        "a domain name such as objectstorage.us-ashburn-1.oraclecloud.com (at most one leading '*.')",
});

// ---------------------------------------------------------------------------------------------
// In-cluster sections (stack level, and per cluster as a deep-merged override)

const subject = item(
    {
        kind: choice(["User", "Group"], "`User` or `Group`", { required: true }),
        name: text(
            "user or group name; on OKE an `ocid1.user.`/`ocid1.group.` OCID (OKE names IAM subjects by OCID)",
            { required: true },
        ),
    },
    "an RBAC subject",
);
const subjects = (description: string) => list(subject, description, { defaultText: "`[]`" });

const cpuQuantity = patterns.cpuQuantity;
const memoryQuantity = patterns.memoryQuantity;
const quotaShape = (defaults: { cpu?: string; memory?: string; gpus?: number; pods?: number }) => ({
    cpu: finish(
        z.union(
            [
                z.string({ error: cpuQuantity.expected }).regex(cpuQuantity.pattern, {
                    error: cpuQuantity.expected,
                }),
                z.number({ error: cpuQuantity.expected }).nonnegative({
                    error: cpuQuantity.expected,
                }),
            ],
            { error: cpuQuantity.expected },
        ),
        "CPU cores (requests and limits)",
        cpuQuantity.expected,
        { defaultText: defaults.cpu },
    ),
    memory: text("memory (requests and limits)", {
        ...memoryQuantity,
        defaultText: defaults.memory,
    }),
    gpus: number("GPUs (`nvidia.com/gpu` and `nvidia.com/pgpu` requests)", {
        ...ranges.quotaGpus,
        defaultText: defaults.gpus?.toString(),
    }),
    pods: number("pods", { ...ranges.quotaPods, defaultText: defaults.pods?.toString() }),
});

const platformNamespaces = [
    ...Object.values(tierNamespaces),
    ...Object.values(serviceNamespaces),
    ...Object.values(privilegedNamespaces),
];

export const baselineSchema = section(
    {
        rbac: section(
            {
                platformAdmins: subjects(
                    "platform admins: manage platform objects cluster-wide (not the admission policies)",
                ),
                mlEngineers: subjects(
                    "ML engineers: deploy in the tier namespaces only; no secrets, no exec",
                ),
                auditors: subjects("auditors: read-only cluster-wide, secrets excluded"),
                clusterAdmins: subjects(
                    "bound to `cluster-admin` only when listed; refused in prod unless `rbac.breakGlass: true`",
                ),
                breakGlass: flag("acknowledges cluster-admin bindings in a prod stack", {
                    default: false,
                }),
            },
            "who may do what in the cluster",
        ),
        tenants: list(
            item(
                {
                    name: text("DNS label; the namespace is `tenant-<name>`", {
                        ...patterns.dnsLabel,
                        required: true,
                    }),
                    quota: section(
                        quotaShape({ cpu: "`8`", memory: "`32Gi`", gpus: 0, pods: 50 }),
                        "caps of the tenant namespace; GPUs only on clusters with a Kata GPU runtime",
                    ),
                    mlEngineers: subjects("subjects that deploy in the tenant namespace"),
                },
                "a tenant",
            ),
            "teams with their own namespace `tenant-<name>`: quota, RBAC, isolation, and Kata required by admission policy; refused on clusters without Kata",
            { defaultText: "`[]`" },
        ),
        gpu: section(
            {
                devicePluginOwner: choice(
                    devicePluginOwners,
                    "the one owner of the GPU device plugin; the operator next to the `NvidiaGpuPlugin`/`NvidiaGpuOperator` add-on is refused",
                    {
                        defaultText:
                            "`gpu-operator` with Kata GPU pools, else `oke-addon` (existing: `preinstalled`)",
                    },
                ),
            },
            "GPU stack",
        ),
        ingress: section(
            {
                public: flag(
                    "ingress controller on a public OCI load balancer (internal unless true)",
                    {
                        default: false,
                    },
                ),
                acme: section(
                    {
                        email: text("ACME account e-mail", {
                            ...patterns.acmeEmail,
                            required: true,
                        }),
                        server: text("ACME directory URL", {
                            ...patterns.acmeServer,
                            default: "https://acme-v02.api.letsencrypt.org/directory",
                        }),
                    },
                    "issue certificates from an ACME CA instead of the private CA `platform-ca`; needs `ingress.public: true`",
                    { defaultText: "none (private CA)" },
                ),
            },
            "ingress controller and TLS",
        ),
        secrets: section(
            {
                enabled: flag(
                    "install External Secrets and the `oci-vault` ClusterSecretStore (OKE: workload identity)",
                    {
                        defaultText:
                            "`true` on OKE; on existing clusters, whether `existingClusterAuth` is set",
                    },
                ),
                existingClusterAuth: section(
                    {
                        vaultId: text("vault whose secrets the store reads", {
                            ...patterns.vaultOcid,
                            required: true,
                        }),
                        region: text("OCI region of the vault", {
                            ...patterns.region,
                            required: true,
                        }),
                        userOcid: text("OCI user of the API key", {
                            ...patterns.userOcid,
                            required: true,
                        }),
                        tenancyOcid: text("tenancy", {
                            ...patterns.tenancyOcid,
                            required: true,
                        }),
                        secretName: text(
                            "Kubernetes Secret in `external-secrets`, created out of band, with keys `privateKey` and `fingerprint`",
                            {
                                ...patterns.clusterAuthSecretName,
                                required: true,
                            },
                        ),
                    },
                    "existing clusters only: API-key authentication to OCI Vault",
                    { defaultText: "none" },
                ),
            },
            "External Secrets Operator",
        ),
        quotas: finish(
            z.partialRecord(
                z.enum(platformNamespaces as [string, ...string[]], {
                    error: `a platform namespace: ${platformNamespaces.join(", ")} (tenant quotas go in tenants[].quota)`,
                }),
                z.strictObject(quotaShape({}), { error: "an object" }),
                { error: "a map of platform namespace name to quota {cpu, memory, gpus, pods}" },
            ),
            "override a platform namespace's quota `{cpu, memory, gpus, pods}`; unset fields keep the built-in default",
            "a map of platform namespace name to quota {cpu, memory, gpus, pods}",
            { defaultText: "built in" },
        ),
    },
    "in-cluster baseline: RBAC, tenants, GPU stack, ingress, External Secrets, namespace quotas",
);

const quantity = patterns.quantity;
const resourceSide = (description: string) =>
    section(
        {
            cpu: text("CPU", { ...quantity, defaultText: "per tier" }),
            memory: text("memory", { ...quantity, defaultText: "per tier" }),
            ephemeralStorage: text("ephemeral storage", { ...quantity, defaultText: "per tier" }),
        },
        description,
    );
const resources = section(
    {
        requests: resourceSide("requests (each at most its limit)"),
        limits: resourceSide("limits (always set)"),
    },
    "requests and limits of the main container",
);
const image = (description: string) =>
    section(
        {
            repository: text("registry and repository, without tag or digest", {
                ...patterns.imageRepository,
                defaultText: "pinned default",
            }),
            tag: text("tag (informative; the digest decides what runs)", {
                ...patterns.imageTag,
                defaultText: "pinned default",
            }),
            digest: text(
                "`sha256:<64 hex>`; required when the repository or tag changes. Unverified or placeholder digests are listed as warnings by `pulumi up` and the plan",
                {
                    ...patterns.imageDigest,
                    defaultText: "pinned default",
                },
            ),
        },
        description,
    );
const tierCommon = (
    replicas: { range: { min: number; max: number }; defaultText: string },
    enabled: Common & { default?: boolean },
) => ({
    enabled: flag("whether the tier runs on this cluster", enabled),
    replicas: number("pod replicas", { ...replicas.range, defaultText: replicas.defaultText }),
    resources,
});

export const tiersSchema = section(
    {
        gateway: section(
            {
                ...tierCommon(
                    { range: ranges.gatewayReplicas, defaultText: "`2`" },
                    { default: true },
                ),
                image: image("gateway image"),
                hostname: text("TLS host of the only exposed entry", {
                    ...patterns.hostname,
                    defaultText: "`llm.<cluster>.internal`",
                }),
                maxBodySize: text("largest request body (nginx size)", {
                    ...patterns.nginxSize,
                    default: "1m",
                }),
                rateLimitRps: number(
                    "requests per second per client IP (ingress) and per API key (gateway)",
                    { ...ranges.rateLimitRps, default: 10 },
                ),
                auth: section(
                    {
                        mode: choice(
                            gatewayAuthModes,
                            "`apiKeys`: keys from the OCI Vault secret `apiKeysSecret` through External Secrets; `oidc` is refused (not implemented yet)",
                            { default: "apiKeys" },
                        ),
                        apiKeysSecret: text(
                            "OCI Vault secret holding the accepted API keys, one per line",
                            {
                                ...vaultSecretName,
                                default: "llm-gateway-api-keys",
                            },
                        ),
                        oidc: section(
                            {
                                issuerUrl: text("issuer URL", {
                                    ...patterns.oidcIssuerUrl,
                                    required: true,
                                }),
                                clientId: text("client id", { required: true }),
                                clientSecretName: text("OCI Vault secret of the client secret", {
                                    required: true,
                                }),
                            },
                            "reserved for OIDC (refused until implemented)",
                        ),
                    },
                    "client authentication",
                ),
            },
            "the gateway (nginx): the only entry, TLS, API keys, rate limits",
        ),
        guardrails: section(
            {
                ...tierCommon(
                    { range: ranges.tierReplicas, defaultText: "`2`" },
                    { default: true },
                ),
                image: image("NeMo Guardrails image"),
                configId: text(
                    "rails configuration directory `guardrails/<configId>/` (it must exist and hold only rail files)",
                    {
                        ...patterns.guardrailsConfigId,
                        default: "default",
                    },
                ),
                streaming: flag(
                    "accept `stream: true`: the answer streams after every output rail ran on all of it; `false` refuses streaming with 400",
                    { default: true },
                ),
                inferenceFrom: text(
                    "with `inference.enabled: false`: the OKE cluster of the stack whose inference these guardrails call through its private mTLS entry (needs `privateLink` and `baseline.secrets.existingClusterAuth`)",
                    {
                        ...patterns.inferenceFrom,
                        defaultText: "none (in-cluster inference)",
                    },
                ),
                jailbreakDetection: section(
                    {
                        ...tierCommon(
                            { range: ranges.tierReplicas, defaultText: "`2`" },
                            { default: true },
                        ),
                        image: image("jailbreak detection image"),
                    },
                    "the jailbreak heuristics server the input rails call",
                ),
            },
            "NeMo Guardrails: input and output rails in front of inference",
        ),
        inference: section(
            {
                ...tierCommon(
                    {
                        range: ranges.inferenceReplicas,
                        defaultText: "`1` (`2` in prod, the least prod accepts)",
                    },
                    { defaultText: "`true` only where the cluster has a Kata GPU runtime" },
                ),
                image: image("vLLM image"),
                loaderImage: image("model loader (storage-initializer init container) image"),
                model: section(
                    {
                        name: text("served model name and directory under `/models`", {
                            ...patterns.modelName,
                            default: "llama-3.1-8b-instruct",
                        }),
                        source: text("encrypted model (model-vault format)", {
                            ...patterns.modelSource,
                            defaultText:
                                "OKE: `oci-os://<ns>/<model bucket>/<name>`; required on existing clusters",
                        }),
                        sizeGi: number(
                            "memory-backed model volume limit, GiB (the loader's and the pod's memory limits must hold it)",
                            { ...ranges.modelSizeGi, default: 40 },
                        ),
                        maxModelLen: number("`--max-model-len`, tokens", {
                            ...ranges.maxModelLen,
                            default: 8192,
                        }),
                    },
                    "the served model",
                ),
                runtimeClass: choice(
                    inferenceRuntimeClasses,
                    "RuntimeClass of the inference pods; `none` (runc) needs `allowUnsandboxed: true` and is refused in prod; a Kata class on a cluster without it is refused",
                    { default: "kata-qemu-nvidia-gpu" },
                ),
                allowUnsandboxed: flag("must be true to run inference with `runtimeClass: none`", {
                    default: false,
                }),
                gpus: number("GPUs per pod (1 under Kata GPU: passthrough is one GPU per pod)", {
                    ...ranges.inferenceGpus,
                    default: 1,
                }),
                hpa: section(
                    {
                        minReplicas: number("least replicas (at least 2 in prod)", {
                            ...ranges.inferenceReplicas,
                            defaultText: "`replicas`",
                        }),
                        maxReplicas: number(
                            "most replicas; checked against the namespace GPU quota",
                            { ...ranges.inferenceReplicas, defaultText: "max(`minReplicas`, 2)" },
                        ),
                    },
                    "autoscaling bounds",
                ),
                startupSeconds: number("startup-probe budget for the model load, seconds", {
                    ...ranges.startupSeconds,
                    default: 1800,
                }),
            },
            "vLLM inference, sandboxed in Kata on GPUs",
        ),
        outputFilter: section(
            {
                ...tierCommon(
                    { range: ranges.tierReplicas, defaultText: "`2`" },
                    { default: true },
                ),
                analyzerImage: image("Presidio analyzer image"),
                anonymizerImage: image("Presidio anonymizer image"),
                entities: list(
                    choice(presidioEntities, "a Presidio entity", { required: true }),
                    "Presidio entities masked in responses (at least one)",
                    {
                        defaultText:
                            "PERSON, EMAIL_ADDRESS, PHONE_NUMBER, CREDIT_CARD, US_SSN, IBAN_CODE, IP_ADDRESS",
                    },
                ),
            },
            "Presidio output filter",
        ),
    },
    "the LLM serving tiers. Container security settings (`securityContext`, `privileged`, `runAsUser`, `hostNetwork`, …) are not configurable and are refused",
);

export const networkPolicySchema = section(
    {
        engine: choice(
            egressEngines,
            "FQDN egress engine: `proxy` (egress proxies with domain allowlists; works with open-source Calico), `calico-enterprise`, `cilium`; must match the cluster's CNI",
            { default: "proxy" },
        ),
        installCalico: flag(
            "install open-source Calico to enforce NetworkPolicy: policy-only on OKE with VCN-native pods (as OKE documents), the tigera-operator chart elsewhere",
            {
                defaultText: "`true` on OKE with `proxy`, else `false`",
            },
        ),
        ociRegion: text("region of the Object Storage, KMS and Vault endpoints in the allowlists", {
            ...patterns.region,
            defaultText: "the cluster's region on OKE; required for existing clusters",
        }),
        extraEgress: finish(
            z.partialRecord(
                z.enum(extendableEgressIdentities, {
                    error: `a workload id among ${extendableEgressIdentities.join(", ")} (never inference)`,
                }),
                z.array(domainItem, { error: "a list of domain names" }),
                { error: "a map of workload id to a list of domain names" },
            ),
            "extra allowed domains per workload id; `*` and malformed wildcards are refused; none for inference",
            "a map of workload id to a list of domain names",
            { defaultText: "`{}`" },
        ),
        alertReceiverDomains: list(domainItem, "Alertmanager receiver hosts", {
            defaultText: "`[]`",
        }),
        apiServerCidrs: cidrList(
            "API server addresses for controllers and webhooks (`0.0.0.0/0` refused)",
            { defaultText: "OKE: the control-plane subnet; required for existing clusters" },
        ),
        apiServerPort: number("TCP port of the API server endpoints (after Service DNAT)", {
            ...ranges.apiServerPort,
            default: 6443,
        }),
        nodeCidrs: cidrList(
            "node addresses whose kubelets (10250) and node exporters (9100) Prometheus scrapes (`0.0.0.0/0` refused)",
            { defaultText: "OKE: the workers subnet; none for existing clusters (the plan warns)" },
        ),
        ingressCidrs: cidrList("clients allowed to reach the ingress controller on 80/443", {
            defaultText: '`["0.0.0.0/0"]`',
        }),
        proxyImage: image(
            "egress proxy (Squid) image, engine `proxy` (built from images/egress-proxy)",
        ),
    },
    "default-deny network policy and per-workload FQDN egress",
);

export const observabilitySchema = section(
    {
        enabled: flag(
            "kube-prometheus-stack, monitors, alert rules, dashboards, decision-log metrics",
            { default: true },
        ),
        retentionDays: number("days Prometheus keeps samples", {
            ...ranges.prometheusRetentionDays,
            default: 15,
        }),
        storageGi: number("size of Prometheus' volume, GiB", {
            ...ranges.prometheusStorageGi,
            default: 50,
        }),
        storageClass: text("StorageClass of the Prometheus, Alertmanager and Grafana volumes", {
            ...k8sName,
            default: "oci-bv",
        }),
        grafana: section(
            {
                adminSecretName: text(
                    "OCI Vault secret with the Grafana admin password (External Secrets; never a literal)",
                    { ...vaultSecretName, default: "grafana-admin-password" },
                ),
                persistence: flag("keep Grafana's database on a volume", { default: true }),
                storageGi: number("size of Grafana's volume, GiB", {
                    ...ranges.grafanaStorageGi,
                    default: 10,
                }),
            },
            "Grafana",
        ),
        alerting: section(
            {
                receivers: list(
                    item(
                        {
                            name: text("receiver name, also the route target", {
                                ...k8sName,
                                required: true,
                            }),
                            type: choice(receiverTypes, "integration", { required: true }),
                            secretName: text(
                                "OCI Vault secret holding the webhook URL (webhook, slack) or routing key (pagerduty), mounted as a file",
                                { ...vaultSecretName, required: true },
                            ),
                        },
                        "an Alertmanager receiver",
                    ),
                    "Alertmanager receivers; list their hosts in `networkPolicy.alertReceiverDomains`; a prod stack without one is refused. See docs/observability.md",
                    { defaultText: "`[]`" },
                ),
                defaultReceiver: text("receiver of every alert not routed elsewhere", {
                    ...k8sName,
                    defaultText: "the first receiver",
                }),
                criticalReceiver: text("receiver of `severity: critical` alerts", {
                    ...k8sName,
                    defaultText: "`defaultReceiver`",
                }),
                groupBy: list(
                    text("a Prometheus label name", {
                        ...patterns.prometheusLabel,
                        required: true,
                    }),
                    "labels alerts are grouped by",
                    { defaultText: "`[alertname, namespace, severity]`" },
                ),
                repeatIntervalMinutes: number("minutes before a firing alert is sent again", {
                    ...ranges.alertRepeatMinutes,
                    default: 240,
                }),
            },
            "Alertmanager routing",
        ),
        logging: section(
            {
                retentionDays: number(
                    "OCI Logging retention of the guardrail decision log: 30, 60, …, 180",
                    { ...ranges.logRetentionDays, default: 90 },
                ),
                decisionLogs: flag(
                    "ship guardrail decision logs (ids, rails, verdicts; never prompt text) to OCI Logging",
                    { default: true },
                ),
            },
            "OCI Logging (OKE clusters only)",
        ),
    },
    "Prometheus, Grafana, alert routing, OCI Logging",
);

export const kubeflowSchema = section(
    {
        enabled: flag("install Kubeflow Pipelines", { default: false }),
        mode: choice(
            kubeflowModes,
            "`standalone` (KFP only, pinned kustomize) or `full` (`kubeflow/manifests`)",
            { default: "standalone" },
        ),
        version: text("pinned release tag", {
            ...patterns.kubeflowVersion,
            defaultText: "`2.16.0` (standalone), `26.03` (full)",
        }),
        profileNamespace: text(
            "pipeline namespace; `default`, `kube-*`, `kubeflow` and `llm-*` are refused",
            {
                ...patterns.profileNamespace,
                default: "ml-pipelines",
            },
        ),
        profileOwner: text("Profile owner e-mail", {
            ...patterns.profileOwner,
            defaultText: "none; required in `full` mode",
        }),
        podSecurity: choice(
            podSecurityLevels,
            "enforced Pod Security level of the pipeline namespace and of `kubeflow` (KFP sets only runAsUser/Group/NonRoot of step pods; `restricted` is audited and warned)",
            { default: "baseline" },
        ),
        trustedModelKeyIds: list(
            text("a KMS key OCID", {
                ...patterns.kmsKeyOcid,
                required: true,
            }),
            "extra KMS key OCIDs a promoted model may be wrapped with (OKE adds the cluster's model key)",
            { defaultText: "`[]`" },
        ),
        fineTuneGpus: number(
            "`nvidia.com/pgpu` the pipeline namespace's quota allows (sandboxed fine-tune steps); `0` refuses them until raised on purpose",
            { ...ranges.quotaGpus, default: 0 },
        ),
        promotion: section(
            {
                minAttackBlockRate: number(
                    "share of red-team attacks a candidate rule set must block",
                    { ...ranges.blockRate, default: 0.95 },
                ),
                maxBenignBlockRate: number("share of benign prompts it may block", {
                    ...ranges.blockRate,
                    default: 0.02,
                }),
            },
            "gates of the guardrail promotion pipeline",
        ),
        redteam: section(
            {
                schedule: text(
                    "cron (UTC) of the recurring red-team assessment through the gateway",
                    {
                        ...patterns.cronSchedule,
                        default: "17 */6 * * *",
                    },
                ),
                apiKeySecret: text(
                    "OCI Vault secret with the API key the assessment presents (add that key to the gateway's key set)",
                    {
                        ...patterns.redteamApiKeySecret,
                        default: "redteam-api-key",
                    },
                ),
            },
            "the recurring red-team assessment",
        ),
        kserve: section(
            {
                enabled: flag(
                    "register model-vault as KServe `ClusterStorageContainer` for `oci-os://` URIs",
                    { default: false },
                ),
            },
            "KServe integration",
        ),
    },
    "Kubeflow Pipelines for MLOps",
);

/** The in-cluster sections, valid at stack level and per cluster. */
export const layerShape = {
    baseline: baselineSchema,
    tiers: tiersSchema,
    networkPolicy: networkPolicySchema,
    observability: observabilitySchema,
    kubeflow: kubeflowSchema,
};

// ---------------------------------------------------------------------------------------------
// Clusters and the stack

export const nodePoolSchema = item(
    {
        name: text("DNS label, unique in the cluster", { ...patterns.dnsLabel, required: true }),
        role: choice(nodePoolRoles, "`system`, `gpu` or `kata`", { required: true }),
        shape: text(
            "OCI shape. `gpu` needs a GPU shape; Kata pools need bare metal (a VM shape is refused naming this key)",
            {
                ...patterns.shape,
                required: true,
            },
        ),
        ocpus: number("OCPUs; required for `.Flex` shapes, refused on fixed shapes", {
            ...ranges.poolOcpus,
        }),
        memoryGbs: number("memory in GB; required for `.Flex` shapes, refused on fixed shapes", {
            ...ranges.poolMemoryGbs,
        }),
        size: number("nodes, spread over availability domains", {
            ...ranges.poolSize,
            defaultText: "`2` (system), `1`",
        }),
        bootVolumeGbs: number("boot volume GB, encrypted with the vault's volumes key", {
            ...ranges.poolBootVolumeGbs,
            defaultText: "`250` (GPU), `100`",
        }),
        imageId: text("node image OCID", {
            ...ocidOf("image"),
            defaultText: "newest OKE image for the shape, minor version and architecture",
        }),
        kata: flag(
            "pods run under Kata; a `gpu` pool with `kata: true` runs the Kata GPU sandbox (bare-metal GPU shape)",
            { defaultText: "`true` for `kata`, else `false`" },
        ),
        kataMode: choice(
            kataPoolModes,
            "Kata pools: managed pools cannot set `platformConfig`; on shapes whose virtualization is off by default (all known ones, `modules/config/shapes.ts`) the pool is self-managed (an instance configuration with `platformConfig.areVirtualInstructionsEnabled` and an instance pool that joins the ENHANCED cluster)",
            { defaultText: "`auto`" },
        ),
        labels: stringMap("extra node labels", {
            keyPattern: patterns.labelKey.pattern,
            keyExpected: patterns.labelKey.expected,
        }),
        availabilityDomains: list(
            number("an AD number", { ...ranges.availabilityDomain, required: true }),
            "availability domains to place nodes in; an AD without the shape (the provider's `getShapes`) is refused before any resource",
            {
                minItems: 1,
                expected: "a non-empty list of distinct availability domain numbers 1, 2 or 3",
                defaultText:
                    "every AD whose shapes (`oci.core.getShapes`) include the pool's shape",
            },
        ),
    },
    "a node pool object with name, role and shape",
);

export const clusterSchema = item(
    {
        name: text("DNS label, unique in the stack; prefixes the cluster's resources", {
            ...patterns.dnsLabel,
            required: true,
        }),
        target: choice(
            clusterTargets,
            "`oke` (created by the program) or `existing` (reached by kubeconfig)",
            { default: "oke" },
        ),
        region: text("OKE: OCI region; existing: a location label such as on-prem-fra", {
            ...patterns.clusterRegion,
            required: true,
        }),
        kubernetesVersion: text(
            "v1.30–v1.34 (ValidatingAdmissionPolicy v1 needs ≥ 1.30); on OKE, one of the versions in `modules/config/kubernetes-versions.ts`; pins the Pod Security version labels",
            { ...patterns.kubernetesVersion, default: "v1.34.2" },
        ),
        network: section(
            {
                vcnCidr: text(
                    "/20 or larger; must not overlap another cluster's VCN in the stack. Carved into control-plane /24, load-balancer /22, workers /18, pods /17 (for a /16)",
                    { ...cidr, default: "10.0.0.0/16" },
                ),
                podsCidr: text("pods CIDR; must not overlap the VCN", {
                    ...cidr,
                    default: "10.244.0.0/16",
                }),
                servicesCidr: text("services CIDR; must not overlap the VCN or the pods CIDR", {
                    ...cidr,
                    default: "10.96.0.0/16",
                }),
                podNetworking: choice(
                    podNetworkings,
                    "`vcn-native` (pods get VCN addresses and NSGs) or `flannel`",
                    { default: "vcn-native" },
                ),
                nodePortCidrs: cidrList(
                    "CIDRs allowed to worker NodePorts; empty opens none; `0.0.0.0/0` refused",
                ),
                publicLoadBalancers: flag(
                    "public LB subnet and internet gateway for service load balancers; follows `baseline.ingress.public`, and a different value is refused",
                    { defaultText: "`baseline.ingress.public`" },
                ),
            },
            "OKE only: the network plan",
        ),
        endpoint: section(
            {
                public: flag("public API endpoint (refused in prod)", { default: false }),
                allowedCidrs: cidrList("required with a public endpoint; `0.0.0.0/0` refused"),
            },
            "OKE only: API endpoint exposure",
        ),
        bastion: section(
            {
                enabled: flag("managed OCI Bastion in the control-plane subnet", {
                    default: false,
                }),
                clientCidrs: cidrList(
                    "client CIDRs allowed to open sessions; required when enabled",
                ),
            },
            "OKE only: managed OCI Bastion for reaching a private endpoint",
        ),
        imageSigning: flag(
            "OKE image signature verification with the vault's RSA key (refused off in prod)",
            { defaultText: "`true` in prod, else `false`" },
        ),
        addons: list(
            item(
                {
                    name: text("OKE add-on name", {
                        ...patterns.addonName,
                        required: true,
                    }),
                    version: text("add-on version", {
                        ...patterns.addonVersion,
                    }),
                    configurations: stringMap("add-on configuration key/values"),
                },
                "an add-on",
            ),
            "OKE only: managed add-ons; `CertManager` is installed first",
            { defaultText: "`[]`" },
        ),
        nodePools: list(
            nodePoolSchema,
            "OKE only (required): node pools; at least one `system` pool of size ≥ 1",
            { defaultText: "required (OKE)" },
        ),
        capabilities: section(
            {
                kata: flag("a Kata runtime (kata-qemu) is available", { default: false }),
                kataGpu: flag("a Kata GPU runtime (kata-qemu-nvidia-gpu) is available", {
                    default: false,
                }),
                gpu: flag("GPUs are available to ordinary (runc) pods", { default: false }),
                cni: choice(
                    cnis,
                    "the CNI that enforces network policy; `other` is refused (default-deny needs an enforcing CNI)",
                    { required: true },
                ),
            },
            "existing only (required): what the cluster offers. OKE clusters derive it from their pools",
            { defaultText: "required (existing)" },
        ),
        kubeconfigKey: text("existing only: the secret config key holding the kubeconfig", {
            ...patterns.kubeconfigKey,
            defaultText: "`kubeconfig-<name>`",
        }),
        privateLink: section(
            {
                to: text("the OKE cluster whose VCN the link reaches", {
                    ...patterns.dnsLabel,
                    required: true,
                }),
                cidrs: list(
                    text("an IPv4 CIDR block", { ...cidr, required: true }),
                    "addresses this cluster's traffic arrives from at the other end (its nodes' CIDRs when pods are SNATed): routed through the DRG, the only sources the remote entry admits",
                    { required: true, minItems: 1 },
                ),
                entryAddress: text(
                    "private IPv4 of the serving cluster's remote inference entry (internal NLB in its load balancer subnet); the same for every caller",
                    {
                        ...patterns.entryAddress,
                        required: true,
                    },
                ),
                ipsec: section(
                    {
                        cpeAddress: text("public IPv4 of the on-premises VPN device (CPE)", {
                            ...patterns.cpeAddress,
                            required: true,
                        }),
                    },
                    "site-to-site IPSec VPN to the DRG",
                    { required: true },
                ),
            },
            "existing only: the IPSec link to the OKE cluster `to` whose inference `tiers.guardrails.inferenceFrom` names ([docs/hybrid.md](docs/hybrid.md))",
            { defaultText: "none" },
        ),
        ...layerShape,
    },
    "a cluster object with at least name, target and region",
);

/** The stack configuration: every key under `secure-llm-platform:` in `Pulumi.<stack>.yaml`. */
export const stackSchema = z
    .strictObject({
        environment: choice(
            environments,
            "prod refuses public API endpoints, software keys, unsigned images, unsandboxed inference and cluster-admin bindings without `breakGlass`",
            { required: true },
        ),
        compartmentId: text("compartment of every OCI resource", {
            ...ocidOf("compartment", "tenancy"),
            required: "with any OKE cluster",
        }),
        tenancyId: text("tenancy OCID (dynamic groups live there)", {
            ...ocidOf("tenancy"),
            required: "with any OKE cluster",
        }),
        homeRegion: text("region where IAM resources are created", {
            ...patterns.region,
            required: "with any OKE cluster",
        }),
        tags: stringMap(
            "freeform tags on every OCI resource (plus `cluster`, `environment`, `stack`)",
            {
                keyPattern: patterns.tagKey.pattern,
                keyExpected: patterns.tagKey.expected,
            },
        ),
        vault: section(
            {
                type: choice(
                    vaultTypes,
                    "`VIRTUAL_PRIVATE` is a dedicated HSM partition, billed, and the only type with automatic key rotation",
                    { default: "DEFAULT" },
                ),
                protectionMode: choice(
                    protectionModes,
                    "key protection; `SOFTWARE` is refused in prod",
                    {
                        default: "HSM",
                    },
                ),
                rotationDays: number(
                    "days between key rotations. Automatic in `VIRTUAL_PRIVATE` vaults for the AES keys; otherwise the runbook period, recorded on each key as tags `rotation` and `rotation-days`. The RSA image-signing key is always rotated by hand (images must be re-signed)",
                    { ...ranges.vaultRotationDays, default: 90 },
                ),
                existingVaultId: text(
                    "use this vault instead of creating one (keys are still created in it)",
                    { ...ocidOf("vault"), defaultText: "none" },
                ),
            },
            "OCI Vault settings, applied to the vault of every OKE cluster",
        ),
        ociAuth: section(
            {
                method: choice(
                    ociAuthMethods,
                    "how the OCI providers and the kubeconfig's `oci` exec plugin authenticate: a session token (`oci session authenticate` on a workstation, the OIDC token exchange in CI) by default",
                    { default: "SecurityToken" },
                ),
                profile: text("profile of the OCI config file", {
                    ...patterns.ociProfile,
                    default: "DEFAULT",
                }),
            },
            "how the OCI providers authenticate; credentials never live in stack config",
        ),
        clusters: list(clusterSchema, "the clusters of the stack", {
            required: true,
            minItems: 1,
        }),
        peering: section(
            {
                enabled: flag(
                    "peer the VCNs of the stack's OKE clusters across regions: one DRG per region, a VCN attachment per cluster, a remote peering connection per pair of regions, and routes from the private subnets to the other regions' VCN CIDRs. Routing only: no NSG rule opens cross-cluster ports. Refused unless there are ≥ 2 OKE clusters in ≥ 2 regions",
                    { default: false },
                ),
            },
            "private routing between the stack's OKE VCNs in different regions",
        ),
        globalEntry: section(
            {
                hostname: text("the client-facing name, inside `zone`", {
                    ...patterns.hostname,
                    required: true,
                }),
                zone: text("name of the public OCI DNS zone that holds `hostname`", {
                    ...patterns.dnsZone,
                    required: true,
                }),
                zoneId: text("OCID of that zone; the steering policy attachment needs it", {
                    ...patterns.dnsZoneOcid,
                    required: true,
                }),
                policy: choice(
                    steeringPolicies,
                    "`FAILOVER` (first healthy cluster in `clusters` order) or `LOAD_BALANCE` (weighted)",
                    { default: "FAILOVER" },
                ),
                ttl: number("TTL of the steered answer, seconds", { ...globalEntryTtl }),
                clusters: list(
                    text("a cluster name", { required: true }),
                    "clusters behind the name, in failover order: at least 2 in at least 2 regions, each with a public gateway, its own public `tiers.gateway.hostname`, inference, and no ACME",
                    { defaultText: "every cluster of the stack" },
                ),
                weights: finish(
                    z.record(
                        z.string(),
                        z
                            .number({ error: "an integer from 0 to 255" })
                            .int({ error: "an integer from 0 to 255" })
                            .min(ranges.dnsWeight.min, { error: "an integer from 0 to 255" })
                            .max(ranges.dnsWeight.max, { error: "an integer from 0 to 255" }),
                        { error: "a map of cluster name to weight" },
                    ),
                    "`LOAD_BALANCE` weights by cluster (0–255); refused with `FAILOVER`",
                    "a map of cluster name to weight",
                    { defaultText: "`1` each" },
                ),
                disabled: list(
                    text("a cluster name", { required: true }),
                    "clusters whose answer is administratively disabled (drained); at least one must stay enabled",
                    { defaultText: "`[]`" },
                ),
                monitor: section(
                    {
                        intervalSeconds: numberChoice(monitorIntervals, "seconds between probes", {
                            default: 30,
                        }),
                        timeoutSeconds: numberChoice(
                            monitorTimeouts,
                            "probe timeout, at most the interval",
                            { default: 10 },
                        ),
                        vantagePoints: list(
                            text("an OCI Health Checks vantage point", {
                                ...patterns.vantagePoint,
                                required: true,
                            }),
                            "OCI Health Checks vantage point names",
                            { defaultText: "OCI's default selection" },
                        ),
                    },
                    "the HTTP monitor probing each region's gateway health path",
                ),
            },
            "one client-facing name steered by OCI DNS traffic management to the healthy regions' gateways (docs/multi-region.md); needs `compartmentId` and `homeRegion`",
            { defaultText: "none" },
        ),
        fleet: section(
            {
                exceptions: list(
                    item(
                        {
                            name: text("shown in the report next to every difference it accepts", {
                                ...patterns.fleetExceptionName,
                                required: true,
                            }),
                            cluster: text("the cluster whose rendered platform may differ", {
                                required: true,
                            }),
                            objects: list(
                                text("an object pattern", {
                                    ...patterns.fleetObject,
                                    required: true,
                                }),
                                "objects it covers: `Kind/namespace/name` or `Kind/name`, `*` matching any run of characters in a segment",
                                { required: true, minItems: 1 },
                            ),
                            fields: list(
                                text("a field path", {
                                    ...patterns.fieldPath,
                                    required: true,
                                }),
                                "field paths the difference may touch; when set, a missing object is not accepted",
                                { defaultText: "any difference" },
                            ),
                            reason: text("why the difference is intended (the report prints it)", {
                                ...patterns.exceptionReason,
                                required: true,
                            }),
                        },
                        "an object with name, cluster, objects and reason",
                    ),
                    "accepted differences between the clusters' rendered platforms on security-relevant objects; an unused exception fails the plan; none on a one-cluster stack",
                    { defaultText: "`[]`" },
                ),
            },
            "how the plan treats differences between the stack's clusters",
        ),
        images: section(
            {
                mirror: text(
                    "`<tenancy-namespace>/<prefix>`: every rendered image is referenced as `<region>.ocir.io/<namespace>/<prefix>/<source repository>@<digest>` in each OKE cluster's region (the home region for existing clusters); `npm run images:mirror` copies and signs them",
                    {
                        ...patterns.imagesMirror,
                        defaultText: "none (required in prod)",
                    },
                ),
            },
            "where the images the platform runs are mirrored (tools/images)",
        ),
        ...layerShape,
    })
    .describe(
        "secure-llm-platform stack configuration: the values under `config:` in Pulumi.<stack>.yaml, without the `secure-llm-platform:` prefix",
    );

/** A stack configuration as written (before defaults and derived values). */
export type RawStackConfig = z.input<typeof stackSchema>;
