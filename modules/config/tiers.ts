/**
 * `tiers` section: the LLM serving tiers (gateway, guardrails, inference, output filter). Every
 * value has a sane default; what could weaken the security baseline (privileged or root
 * containers, host access) is not configurable at all and is refused with a message that says so.
 */
import { PinnedImage, modelLoaderImage, placeholderDigest, tierImages } from "../constants/images";
import type { LayerContext } from "./layer";
import { Issues, Raw, bool, join, num, obj, patterns, ranges, str, strList } from "./validate";

export const tierNames = ["gateway", "guardrails", "inference", "outputFilter"] as const;
export type TierName = (typeof tierNames)[number];

/** An image pinned by tag and digest. */
export interface TierImage {
    /** Registry and repository, without tag or digest. */
    readonly repository: string;
    /** Tag (informative; the digest decides what runs). */
    readonly tag: string;
    /** `sha256:<64 hex>`. */
    readonly digest: string;
    /** True when the digest is the default's and was never checked against the registry, or is a placeholder. */
    readonly unverified: boolean;
    /** True when the digest is the placeholder of an image we build but have not pushed. */
    readonly placeholder: boolean;
}

/** Requests and limits of a tier's main container. Kubernetes quantities. */
export interface TierResources {
    readonly requests: {
        readonly cpu: string;
        readonly memory: string;
        readonly ephemeralStorage: string;
    };
    readonly limits: {
        readonly cpu: string;
        readonly memory: string;
        readonly ephemeralStorage: string;
    };
}

/** Settings common to every tier. */
export interface TierConfig {
    /** Whether the tier runs on this cluster. Defaults to true. */
    readonly enabled: boolean;
    /** Pod replicas. Defaults to 2 (1 for inference). */
    readonly replicas: number;
    /** Requests and limits of the main container. */
    readonly resources: TierResources;
}

export const gatewayAuthModes = ["apiKeys", "oidc"] as const;
export type GatewayAuthMode = (typeof gatewayAuthModes)[number];

export interface GatewayTierConfig extends TierConfig {
    readonly image: TierImage;
    /** Public host name of the TLS ingress. Defaults to `llm.<cluster>.internal`. */
    readonly hostname: string;
    /** Largest request body, nginx size (`1m`, `512k`). Defaults to `1m`. */
    readonly maxBodySize: string;
    /** Requests per second per client IP (ingress) and per API key (gateway). Defaults to 10. */
    readonly rateLimitRps: number;
    readonly auth: {
        readonly mode: GatewayAuthMode;
        /** OCI Vault secret (name) holding the accepted API keys, one per line. Defaults to `llm-gateway-api-keys`. */
        readonly apiKeysSecret: string;
        readonly oidc?: {
            readonly issuerUrl: string;
            readonly clientId: string;
            readonly clientSecretName: string;
        };
    };
}

export interface GuardrailsTierConfig extends TierConfig {
    readonly image: TierImage;
    /** Rails configuration directory under `guardrails/`. Defaults to `default`. */
    readonly configId: string;
    /** Stream responses through the output rails. Defaults to true. */
    readonly streaming: boolean;
    /** The jailbreak heuristics server the input rails call. */
    readonly jailbreakDetection: TierConfig & { readonly image: TierImage };
    /**
     * The OKE cluster whose inference these guardrails call, through its private mTLS entry, when
     * this cluster serves none (tiers.inference.enabled: false). Defaults to none (in-cluster inference).
     */
    readonly inferenceFrom?: string;
}

export const inferenceRuntimeClasses = ["kata-qemu-nvidia-gpu", "none"] as const;
export type InferenceRuntimeClass = (typeof inferenceRuntimeClasses)[number];

export interface InferenceTierConfig extends TierConfig {
    readonly image: TierImage;
    /** The model loader run as the `storage-initializer` init container. */
    readonly loaderImage: TierImage;
    readonly model: {
        /** Served model name (`--served-model-name`) and directory under `/models`. */
        readonly name: string;
        /** `oci-os://namespace/bucket/prefix`; defaults, on OKE, to the cluster's model bucket + name. */
        readonly source?: string;
        /** Size limit of the memory-backed model volume, GiB. Defaults to 40. */
        readonly sizeGi: number;
        /** `--max-model-len`, tokens. Defaults to 8192. */
        readonly maxModelLen: number;
    };
    /** RuntimeClass of the inference pods; `none` runs under runc. Defaults to `kata-qemu-nvidia-gpu`. */
    readonly runtimeClass: InferenceRuntimeClass;
    /** Must be true to run inference unsandboxed (runtimeClass none); refused in prod. */
    readonly allowUnsandboxed: boolean;
    /** GPUs per pod (1 under Kata GPU: passthrough is one GPU per pod). */
    readonly gpus: number;
    readonly hpa: { readonly minReplicas: number; readonly maxReplicas: number };
    /** Seconds the model may take to load before the startup probe gives up. Defaults to 1800. */
    readonly startupSeconds: number;
}

/** Entities Presidio's default recognizers detect (presidio-analyzer predefined recognizers). */
export const presidioEntities = [
    "CREDIT_CARD",
    "CRYPTO",
    "DATE_TIME",
    "EMAIL_ADDRESS",
    "IBAN_CODE",
    "IP_ADDRESS",
    "LOCATION",
    "MEDICAL_LICENSE",
    "NRP",
    "PERSON",
    "PHONE_NUMBER",
    "URL",
    "US_BANK_NUMBER",
    "US_DRIVER_LICENSE",
    "US_ITIN",
    "US_PASSPORT",
    "US_SSN",
    "UK_NHS",
    "UK_NINO",
    "ES_NIF",
    "ES_NIE",
    "IT_FISCAL_CODE",
    "IT_DRIVER_LICENSE",
    "IT_VAT_CODE",
    "IT_PASSPORT",
    "IT_IDENTITY_CARD",
    "PL_PESEL",
    "SG_NRIC_FIN",
    "SG_UEN",
    "AU_ABN",
    "AU_ACN",
    "AU_TFN",
    "AU_MEDICARE",
    "IN_PAN",
    "IN_AADHAAR",
    "IN_VEHICLE_REGISTRATION",
    "IN_VOTER",
    "IN_PASSPORT",
    "FI_PERSONAL_IDENTITY_CODE",
] as const;

export interface OutputFilterTierConfig extends TierConfig {
    readonly analyzerImage: TierImage;
    readonly anonymizerImage: TierImage;
    /** Entities masked in responses. Defaults to PERSON, EMAIL_ADDRESS, PHONE_NUMBER, CREDIT_CARD, US_SSN, IBAN_CODE, IP_ADDRESS. */
    readonly entities: readonly string[];
}

export interface TiersConfig {
    readonly gateway: GatewayTierConfig;
    readonly guardrails: GuardrailsTierConfig;
    readonly inference: InferenceTierConfig;
    readonly outputFilter: OutputFilterTierConfig;
}

/**
 * Keys that would loosen a container's security. They are not configurable: the platform runs
 * every container non-root (fixed UID ≥ 10001), unprivileged, without host access. A stack that
 * sets one gets this message instead of the generic "no such key".
 */
export const refusedSecurityKeys = [
    "securityContext",
    "podSecurityContext",
    "privileged",
    "runAsUser",
    "runAsGroup",
    "runAsNonRoot",
    "allowPrivilegeEscalation",
    "capabilities",
    "hostNetwork",
    "hostPID",
    "hostIPC",
    "hostPath",
    "readOnlyRootFilesystem",
] as const;

/** What a stack that sets one of {@link refusedSecurityKeys} is told. */
export const refusedMessage =
    "nothing: container security settings are not configurable — every platform container runs " +
    "non-root with a fixed UID ≥ 10001, no privileges, no privilege escalation, all capabilities " +
    "dropped and a read-only root filesystem; remove this key";

/** Reads an object like {@link obj}, but reports security keys with {@link refusedMessage}. */
function tierObj(value: unknown, path: string, issues: Issues, allowed: readonly string[]): Raw {
    if (value !== null && typeof value === "object" && !Array.isArray(value)) {
        const rest: Raw = {};
        for (const [k, v] of Object.entries(value as Raw)) {
            if ((refusedSecurityKeys as readonly string[]).includes(k)) {
                issues.add(join(path, k), v, refusedMessage);
            } else {
                rest[k] = v;
            }
        }
        return obj(rest, path, issues, allowed);
    }
    return obj(value, path, issues, allowed);
}

/** Memory the model loader needs besides the model it writes: its bounded decrypt working set. */
export const loaderWorkingSetMi = 512;

/**
 * Memory request and limit of the model loader: the model's tmpfs pages are charged to the
 * container that writes them, so a limit below the model size OOM-kills the loader mid-write.
 */
export function modelLoaderMemory(sizeGi: number): string {
    return `${sizeGi * 1024 + loaderWorkingSetMi}Mi`;
}

const suffixes: Record<string, number> = {
    "": 1,
    m: 1e-3,
    k: 1e3,
    Ki: 1024,
    M: 1e6,
    Mi: 1024 ** 2,
    G: 1e9,
    Gi: 1024 ** 3,
    T: 1e12,
    Ti: 1024 ** 4,
};

/** Value of a Kubernetes quantity (`500m`, `2Gi`), or undefined when it is not one. */
export function parseQuantity(q: string): number | undefined {
    const m = patterns.quantity.pattern.exec(q);
    return m ? Number(m[1]) * suffixes[m[3] ?? ""] : undefined;
}

function parseResources(
    raw: unknown,
    path: string,
    issues: Issues,
    def: TierResources,
): TierResources {
    const o = tierObj(raw, path, issues, ["requests", "limits"]);
    const side = (kind: "requests" | "limits") => {
        const p = join(path, kind);
        const s = obj(o[kind], p, issues, ["cpu", "memory", "ephemeralStorage"]);
        const q = (key: "cpu" | "memory" | "ephemeralStorage") =>
            str(s, key, p, issues, {
                default: def[kind][key],
                ...patterns.quantity,
            });
        return { cpu: q("cpu"), memory: q("memory"), ephemeralStorage: q("ephemeralStorage") };
    };
    const r = { requests: side("requests"), limits: side("limits") };
    for (const key of ["cpu", "memory", "ephemeralStorage"] as const) {
        const req = parseQuantity(r.requests[key]);
        const lim = parseQuantity(r.limits[key]);
        if (req !== undefined && lim !== undefined && req > lim) {
            issues.add(
                join(join(path, "requests"), key),
                r.requests[key],
                `at most the limit ${r.limits[key]}`,
            );
        }
    }
    return r;
}

/** An image override (`repository`, `tag`, `digest`) over the pinned default `def`. */
export function parseImage(
    raw: unknown,
    path: string,
    issues: Issues,
    def: PinnedImage,
): TierImage {
    const o = obj(raw, path, issues, ["repository", "tag", "digest"]);
    const repository = str(o, "repository", path, issues, {
        default: def.repository,
        ...patterns.imageRepository,
    });
    const tag = str(o, "tag", path, issues, {
        default: def.tag,
        ...patterns.imageTag,
    });
    const changed = o.repository !== undefined || o.tag !== undefined;
    const digest = str(o, "digest", path, issues, {
        required: changed,
        default: def.digest,
        ...patterns.imageDigest,
    });
    if (digest === placeholderDigest && o.digest !== undefined) {
        issues.add(
            join(path, "digest"),
            digest,
            "the digest of a real image (the all-zero digest is the unbuilt placeholder)",
        );
    }
    const custom = o.digest !== undefined;
    return {
        repository,
        tag,
        digest,
        placeholder: digest === placeholderDigest,
        unverified: !custom && def.digestProvenance !== "registry",
    };
}

const r = (
    cpuReq: string,
    memReq: string,
    cpuLim: string,
    memLim: string,
    eph: string,
): TierResources => ({
    requests: { cpu: cpuReq, memory: memReq, ephemeralStorage: eph },
    limits: { cpu: cpuLim, memory: memLim, ephemeralStorage: eph },
});

/** Default requests and limits by tier. */
export const defaultResources = {
    gateway: r("100m", "64Mi", "500m", "128Mi", "256Mi"),
    guardrails: r("500m", "1Gi", "2", "2Gi", "1Gi"),
    jailbreakDetection: r("1", "2Gi", "2", "4Gi", "1Gi"),
    inference: r("8", "64Gi", "16", "96Gi", "10Gi"),
    presidio: r("500m", "1Gi", "2", "2Gi", "512Mi"),
} as const;

const defaultEntities = [
    "PERSON",
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "US_SSN",
    "IBAN_CODE",
    "IP_ADDRESS",
];

const common = ["enabled", "replicas", "resources"];

export function parseTiers(
    raw: unknown,
    path: string,
    issues: Issues,
    ctx: LayerContext,
): TiersConfig {
    const o = obj(raw, path, issues, [...tierNames]);

    const gp = join(path, "gateway");
    const g = tierObj(o.gateway, gp, issues, [
        ...common,
        "image",
        "hostname",
        "maxBodySize",
        "rateLimitRps",
        "auth",
    ]);
    const ap = join(gp, "auth");
    const a = obj(g.auth, ap, issues, ["mode", "apiKeysSecret", "oidc"]);
    const mode = str<GatewayAuthMode>(a, "mode", ap, issues, {
        default: "apiKeys",
        oneOf: gatewayAuthModes,
    });
    let oidc: GatewayTierConfig["auth"]["oidc"];
    if (mode === "oidc") {
        // Accepted in the schema so stacks can be written, but refused until the gateway can
        // validate tokens: a silently unauthenticated gateway would be worse than no gateway.
        issues.add(
            join(ap, "mode"),
            mode,
            "apiKeys: OIDC client authentication is not implemented yet",
        );
        const op = join(ap, "oidc");
        const oo = obj(a.oidc, op, issues, ["issuerUrl", "clientId", "clientSecretName"], true);
        oidc = {
            issuerUrl:
                str(oo, "issuerUrl", op, issues, {
                    required: true,
                    ...patterns.oidcIssuerUrl,
                }) ?? "",
            clientId: str(oo, "clientId", op, issues, { required: true }) ?? "",
            clientSecretName: str(oo, "clientSecretName", op, issues, { required: true }) ?? "",
        };
    }
    const gateway: GatewayTierConfig = {
        enabled: bool(g, "enabled", gp, issues, true),
        replicas: num(g, "replicas", gp, issues, { ...ranges.gatewayReplicas, default: 2 }),
        resources: parseResources(
            g.resources,
            join(gp, "resources"),
            issues,
            defaultResources.gateway,
        ),
        image: parseImage(g.image, join(gp, "image"), issues, tierImages.gateway),
        hostname: str(g, "hostname", gp, issues, {
            default: `llm.${ctx.clusterName}.internal`,
            ...patterns.hostname,
        }),
        maxBodySize: str(g, "maxBodySize", gp, issues, {
            default: "1m",
            ...patterns.nginxSize,
        }),
        rateLimitRps: num(g, "rateLimitRps", gp, issues, { ...ranges.rateLimitRps, default: 10 }),
        auth: {
            mode,
            apiKeysSecret: str(a, "apiKeysSecret", ap, issues, {
                default: "llm-gateway-api-keys",
                ...patterns.vaultSecretName,
            }),
            oidc,
        },
    };

    const grp = join(path, "guardrails");
    const gr = tierObj(o.guardrails, grp, issues, [
        ...common,
        "image",
        "configId",
        "streaming",
        "jailbreakDetection",
        "inferenceFrom",
    ]);
    const jp = join(grp, "jailbreakDetection");
    const j = tierObj(gr.jailbreakDetection, jp, issues, [...common, "image"]);
    const guardrails: GuardrailsTierConfig = {
        enabled: bool(gr, "enabled", grp, issues, true),
        replicas: num(gr, "replicas", grp, issues, { ...ranges.tierReplicas, default: 2 }),
        resources: parseResources(
            gr.resources,
            join(grp, "resources"),
            issues,
            defaultResources.guardrails,
        ),
        image: parseImage(gr.image, join(grp, "image"), issues, tierImages.guardrails),
        configId: str(gr, "configId", grp, issues, {
            default: "default",
            ...patterns.guardrailsConfigId,
        }),
        streaming: bool(gr, "streaming", grp, issues, true),
        inferenceFrom: str(gr, "inferenceFrom", grp, issues, {
            ...patterns.inferenceFrom,
        }),
        jailbreakDetection: {
            enabled: bool(j, "enabled", jp, issues, true),
            replicas: num(j, "replicas", jp, issues, { ...ranges.tierReplicas, default: 2 }),
            resources: parseResources(
                j.resources,
                join(jp, "resources"),
                issues,
                defaultResources.jailbreakDetection,
            ),
            image: parseImage(j.image, join(jp, "image"), issues, tierImages.jailbreakDetection),
        },
    };

    const ip = join(path, "inference");
    const inf = tierObj(o.inference, ip, issues, [
        ...common,
        "image",
        "loaderImage",
        "model",
        "runtimeClass",
        "allowUnsandboxed",
        "gpus",
        "hpa",
        "startupSeconds",
    ]);
    // Inference is on by default only where it can run sandboxed; asking for it elsewhere is checked below.
    const enabled = bool(inf, "enabled", ip, issues, ctx.capabilities.kataGpu);
    const mp = join(ip, "model");
    const m = obj(inf.model, mp, issues, ["name", "source", "sizeGi", "maxModelLen"]);
    const source = str(m, "source", mp, issues, {
        ...patterns.modelSource,
    });
    if (enabled && source === undefined && ctx.target === "existing" && m.source === undefined) {
        issues.add(
            join(mp, "source"),
            undefined,
            "oci-os://<namespace>/<bucket>/<prefix>: existing clusters have no model bucket of their own",
        );
    }
    // Sandboxed by default everywhere; running without Kata is always an explicit choice.
    const runtimeClass = str<InferenceRuntimeClass>(inf, "runtimeClass", ip, issues, {
        default: "kata-qemu-nvidia-gpu",
        oneOf: inferenceRuntimeClasses,
    });
    const allowUnsandboxed = bool(inf, "allowUnsandboxed", ip, issues, false);
    if (enabled) {
        if (runtimeClass === "kata-qemu-nvidia-gpu" && !ctx.capabilities.kataGpu) {
            issues.add(
                join(ip, "runtimeClass"),
                runtimeClass,
                `a runtime cluster ${ctx.clusterName} offers: it has no Kata GPU runtime (capabilities.kataGpu is false); ` +
                    "add a GPU pool with kata: true, or set runtimeClass: none with allowUnsandboxed: true (not in prod)",
            );
        }
        if (runtimeClass === "none") {
            if (ctx.environment === "prod") {
                issues.add(
                    join(ip, "runtimeClass"),
                    runtimeClass,
                    "kata-qemu-nvidia-gpu: prod never runs inference unsandboxed",
                );
            } else if (!allowUnsandboxed) {
                issues.add(
                    join(ip, "allowUnsandboxed"),
                    allowUnsandboxed,
                    "true to run inference without the Kata sandbox (runtimeClass: none); or give the cluster a Kata GPU pool",
                );
            }
            if (!ctx.capabilities.gpu) {
                issues.add(
                    join(ip, "runtimeClass"),
                    runtimeClass,
                    `a runtime with GPUs: cluster ${ctx.clusterName} has no GPUs for runc pods (capabilities.gpu is false)`,
                );
            }
        }
    }
    const gpus = num(inf, "gpus", ip, issues, { ...ranges.inferenceGpus, default: 1 });
    if (runtimeClass === "kata-qemu-nvidia-gpu" && gpus !== 1) {
        issues.add(join(ip, "gpus"), gpus, "1: Kata GPU passthrough gives one GPU per pod");
    }
    // Prod serves from at least two pods on different nodes: one pod is one node's failure away
    // from an outage (the builder spreads them; inferenceSpreadRequired makes it a hard rule).
    const prod = ctx.environment === "prod";
    const replicas = num(inf, "replicas", ip, issues, {
        ...ranges.inferenceReplicas,
        default: prod ? 2 : 1,
    });
    if (enabled && prod && replicas < 2) {
        issues.add(join(ip, "replicas"), replicas, "at least 2 in prod (replicas across nodes)");
    }
    const hp = join(ip, "hpa");
    const h = obj(inf.hpa, hp, issues, ["minReplicas", "maxReplicas"]);
    const minReplicas = num(h, "minReplicas", hp, issues, {
        ...ranges.inferenceReplicas,
        default: replicas,
    });
    if (enabled && prod && minReplicas < 2) {
        issues.add(
            join(hp, "minReplicas"),
            minReplicas,
            "at least 2 in prod (replicas across nodes)",
        );
    }
    const maxReplicas = num(h, "maxReplicas", hp, issues, {
        ...ranges.inferenceReplicas,
        default: Math.max(minReplicas, 2),
    });
    if (maxReplicas < minReplicas) {
        issues.add(join(hp, "maxReplicas"), maxReplicas, `at least minReplicas (${minReplicas})`);
    }
    const inference: InferenceTierConfig = {
        enabled,
        replicas,
        resources: parseResources(
            inf.resources,
            join(ip, "resources"),
            issues,
            defaultResources.inference,
        ),
        image: parseImage(inf.image, join(ip, "image"), issues, tierImages.vllm),
        loaderImage: parseImage(inf.loaderImage, join(ip, "loaderImage"), issues, modelLoaderImage),
        model: {
            name: str(m, "name", mp, issues, {
                default: "llama-3.1-8b-instruct",
                ...patterns.modelName,
            }),
            source,
            sizeGi: num(m, "sizeGi", mp, issues, { ...ranges.modelSizeGi, default: 40 }),
            maxModelLen: num(m, "maxModelLen", mp, issues, {
                ...ranges.maxModelLen,
                default: 8192,
            }),
        },
        runtimeClass,
        allowUnsandboxed,
        gpus,
        hpa: { minReplicas, maxReplicas },
        startupSeconds: num(inf, "startupSeconds", ip, issues, {
            ...ranges.startupSeconds,
            default: 1800,
        }),
    };

    const op = join(path, "outputFilter");
    const of = tierObj(o.outputFilter, op, issues, [
        ...common,
        "analyzerImage",
        "anonymizerImage",
        "entities",
    ]);
    const entities = strList(of, "entities", op, issues, {
        default: defaultEntities,
        pattern: new RegExp(`^(${presidioEntities.join("|")})$`),
        expected: `a Presidio entity: one of ${presidioEntities.join(", ")}`,
    });
    if (of.entities !== undefined && entities.length === 0 && Array.isArray(of.entities)) {
        issues.add(join(op, "entities"), of.entities, "at least one entity to mask");
    }
    // The decrypted model lives in tmpfs, charged first to the loader that writes it, then to the
    // pod: both the loader's limit and the serving limit must hold the model and a working set.
    const memLimit = parseQuantity(inference.resources.limits.memory);
    const loaderBytes = parseQuantity(modelLoaderMemory(inference.model.sizeGi))!;
    if (enabled && memLimit !== undefined && loaderBytes > memLimit) {
        issues.add(
            join(mp, "sizeGi"),
            inference.model.sizeGi,
            `at most the inference memory limit (${inference.resources.limits.memory}) less ${loaderWorkingSetMi}Mi: ` +
                `the memory-backed model volume counts against it (model loader needs ${modelLoaderMemory(inference.model.sizeGi)})`,
        );
    }

    const outputFilter: OutputFilterTierConfig = {
        enabled: bool(of, "enabled", op, issues, true),
        replicas: num(of, "replicas", op, issues, { ...ranges.tierReplicas, default: 2 }),
        resources: parseResources(
            of.resources,
            join(op, "resources"),
            issues,
            defaultResources.presidio,
        ),
        analyzerImage: parseImage(
            of.analyzerImage,
            join(op, "analyzerImage"),
            issues,
            tierImages.presidioAnalyzer,
        ),
        anonymizerImage: parseImage(
            of.anonymizerImage,
            join(op, "anonymizerImage"),
            issues,
            tierImages.presidioAnonymizer,
        ),
        entities,
    };

    // The request path is gateway → guardrails → inference, with the output filter on the way back.
    if (gateway.enabled && !guardrails.enabled) {
        issues.add(
            join(grp, "enabled"),
            false,
            "true while the gateway is enabled: the gateway routes only to the guardrails",
        );
    }
    if (guardrails.enabled && !outputFilter.enabled) {
        issues.add(
            join(op, "enabled"),
            false,
            "true while the guardrails are enabled: their output rails call the output filter",
        );
    }
    return { gateway, guardrails, inference, outputFilter };
}

/** Images of enabled tiers whose digest is a placeholder or was not checked against a registry. */
export function unverifiedImageDigests(
    tiers: TiersConfig,
): { tier: string; image: string; reason: string }[] {
    const out: { tier: string; image: string; reason: string }[] = [];
    const add = (tier: string, enabled: boolean, i: TierImage) => {
        if (enabled && (i.unverified || i.placeholder)) {
            out.push({
                tier,
                image: `${i.repository}:${i.tag}@${i.digest}`,
                reason: i.placeholder
                    ? "placeholder digest of an image we build: build and push it, then set repository, tag and digest in config"
                    : "default digest seen in public repositories but not checked against the registry: confirm with `crane digest`",
            });
        }
    };
    add("gateway", tiers.gateway.enabled, tiers.gateway.image);
    add("guardrails", tiers.guardrails.enabled, tiers.guardrails.image);
    add(
        "guardrails.jailbreakDetection",
        tiers.guardrails.enabled && tiers.guardrails.jailbreakDetection.enabled,
        tiers.guardrails.jailbreakDetection.image,
    );
    add("inference", tiers.inference.enabled, tiers.inference.image);
    add("inference.loader", tiers.inference.enabled, tiers.inference.loaderImage);
    add("outputFilter.analyzer", tiers.outputFilter.enabled, tiers.outputFilter.analyzerImage);
    add("outputFilter.anonymizer", tiers.outputFilter.enabled, tiers.outputFilter.anonymizerImage);
    return out;
}
