/** `kubeflow` section: Kubeflow Pipelines for MLOps (issue 8). */
import type { LayerContext } from "./layer";
import { Issues, bool, join, num, obj, patterns, ranges, str, strList } from "./validate";

export const kubeflowModes = ["standalone", "full"] as const;
/** `standalone`: Kubeflow Pipelines only; `full`: the whole `kubeflow/manifests` release. */
export type KubeflowMode = (typeof kubeflowModes)[number];

export const podSecurityLevels = ["baseline", "restricted"] as const;
/** Pod Security level enforced in the pipeline namespace. */
export type PodSecurityLevel = (typeof podSecurityLevels)[number];

/** Kubeflow Pipelines release installed in `standalone` mode (tag of kubeflow/pipelines). */
export const defaultPipelinesVersion = "2.16.0";
/** `kubeflow/manifests` release installed in `full` mode (ships KFP 2.16.0). */
export const defaultManifestsVersion = "26.03";

/** When a promotion pipeline may promote a candidate guardrail rule set. */
export interface PromotionConfig {
    /** Share of red-team attacks the candidate must block, 0..1. Defaults to 0.95. */
    readonly minAttackBlockRate: number;
    /** Largest share of benign prompts the candidate may block, 0..1. Defaults to 0.02. */
    readonly maxBenignBlockRate: number;
}

/** Kubeflow settings. */
export interface KubeflowConfig {
    /** Install Kubeflow Pipelines. Defaults to false. */
    readonly enabled: boolean;
    /** `standalone` (Kubeflow Pipelines only) or `full` (kubeflow/manifests). Defaults to standalone. */
    readonly mode: KubeflowMode;
    /**
     * Release ref: a kubeflow/pipelines tag in standalone mode (defaults to 2.16.0), a
     * kubeflow/manifests tag in full mode (defaults to 26.03).
     */
    readonly version: string;
    /** Namespace (and, in full mode, Kubeflow Profile) for pipeline runs. Defaults to ml-pipelines. */
    readonly profileNamespace: string;
    /**
     * Pod Security level enforced in the pipeline namespace (audit and warn are always
     * `restricted`). Defaults to baseline: KFP step pods carry no securityContext of their own.
     */
    readonly podSecurity: PodSecurityLevel;
    /** Full mode (required there): e-mail of the Kubeflow user who owns the Profile. */
    readonly profileOwner?: string;
    /**
     * KMS key OCIDs a promoted model's manifest may name, besides the cluster's own model key (OKE).
     * Existing clusters must list theirs, or model promotion refuses every model. Defaults to none.
     */
    readonly trustedModelKeyIds: readonly string[];
    /**
     * `nvidia.com/pgpu` (GPUs passed into a Kata VM) the pipeline namespace's quota allows: what
     * sandboxed fine-tune steps may request at once. Defaults to 0 (fine-tuning is raised on purpose).
     */
    readonly fineTuneGpus: number;
    /** Gates of the guardrail promotion pipeline. */
    readonly promotion: PromotionConfig;
    /** The recurring red-team assessment through the gateway (a CronJob in the pipeline namespace). */
    readonly redteam: {
        /** Cron schedule (UTC). Defaults to every six hours at minute 17. */
        readonly schedule: string;
        /**
         * OCI Vault secret holding the API key the assessment presents to the gateway (add that key
         * to the gateway's key set). Defaults to `redteam-api-key`.
         */
        readonly apiKeySecret: string;
    };
    /** KServe integration. */
    readonly kserve: {
        /** Register the model-vault ClusterStorageContainer (KServe must be installed). Defaults to false. */
        readonly enabled: boolean;
    };
}

const versionPattern = {
    standalone: {
        ...patterns.kubeflowPipelinesVersion,
    },
    full: {
        ...patterns.kubeflowManifestsVersion,
    },
} as const;

const reservedNamespaces = ["default", "kube-system", "kube-public", "kube-node-lease", "kubeflow"];

export function parseKubeflow(
    raw: unknown,
    path: string,
    issues: Issues,
    _ctx: LayerContext,
): KubeflowConfig {
    const o = obj(raw, path, issues, [
        "enabled",
        "mode",
        "version",
        "profileNamespace",
        "profileOwner",
        "promotion",
        "kserve",
        "trustedModelKeyIds",
        "podSecurity",
        "redteam",
        "fineTuneGpus",
    ]);
    const mode = str<KubeflowMode>(o, "mode", path, issues, {
        oneOf: kubeflowModes,
        default: "standalone",
    });
    const version = str(o, "version", path, issues, {
        ...versionPattern[mode],
        default: mode === "full" ? defaultManifestsVersion : defaultPipelinesVersion,
    });
    let profileNamespace = str(o, "profileNamespace", path, issues, {
        ...patterns.profileNamespace,
        default: "ml-pipelines",
    });
    if (reservedNamespaces.includes(profileNamespace) || profileNamespace.startsWith("llm-")) {
        issues.add(
            join(path, "profileNamespace"),
            profileNamespace,
            "a namespace of its own for pipeline runs (not default, kube-*, kubeflow or an llm-* tier namespace)",
        );
        profileNamespace = "ml-pipelines";
    }
    const profileOwner = str(o, "profileOwner", path, issues, {
        ...patterns.profileOwner,
        required: mode === "full",
    });
    const pp = join(path, "promotion");
    const p = obj(o.promotion, pp, issues, ["minAttackBlockRate", "maxBenignBlockRate"]);
    const promotion = {
        minAttackBlockRate: num(p, "minAttackBlockRate", pp, issues, {
            ...ranges.blockRate,
            default: 0.95,
        }),
        maxBenignBlockRate: num(p, "maxBenignBlockRate", pp, issues, {
            ...ranges.blockRate,
            default: 0.02,
        }),
    };
    const trustedModelKeyIds = strList(o, "trustedModelKeyIds", path, issues, {
        ...patterns.kmsKeyOcid,
    });
    const rp = join(path, "redteam");
    const r = obj(o.redteam, rp, issues, ["schedule", "apiKeySecret"]);
    const redteam = {
        schedule: str(r, "schedule", rp, issues, {
            ...patterns.cronSchedule,
            default: "17 */6 * * *",
        }),
        apiKeySecret: str(r, "apiKeySecret", rp, issues, {
            ...patterns.redteamApiKeySecret,
            default: "redteam-api-key",
        }),
    };
    const kp = join(path, "kserve");
    const k = obj(o.kserve, kp, issues, ["enabled"]);
    return {
        enabled: bool(o, "enabled", path, issues, false),
        mode,
        version,
        profileNamespace,
        podSecurity: str<PodSecurityLevel>(o, "podSecurity", path, issues, {
            oneOf: podSecurityLevels,
            default: "baseline",
        }),
        profileOwner,
        trustedModelKeyIds,
        fineTuneGpus: num(o, "fineTuneGpus", path, issues, { ...ranges.quotaGpus, default: 0 }),
        promotion,
        redteam,
        kserve: { enabled: bool(k, "enabled", kp, issues, false) },
    };
}
