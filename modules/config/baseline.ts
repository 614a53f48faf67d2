/** `baseline` section: RBAC subjects, tenants, GPU stack, secrets, ingress, namespace quotas. */
import { privilegedNamespaces, serviceNamespaces, tierNamespaces } from "../constants/namespaces";
import type { LayerContext } from "./layer";
import {
    Issues,
    Raw,
    bool,
    isObject,
    join,
    list,
    num,
    obj,
    patterns,
    ranges,
    str,
} from "./validate";

/** A user or group that RBAC bindings name. On OKE, OCI IAM user and group OCIDs. */
export interface RbacSubject {
    readonly kind: "User" | "Group";
    readonly name: string;
}

/** Who may do what in the cluster. */
export interface RbacConfig {
    /** Platform admins: manage platform objects cluster-wide (not the admission policies). Defaults to none. */
    readonly platformAdmins: readonly RbacSubject[];
    /** ML engineers: deploy in the tier namespaces; no secrets, no exec. Defaults to none. */
    readonly mlEngineers: readonly RbacSubject[];
    /** Auditors: read-only cluster-wide, secrets excluded. Defaults to none. */
    readonly auditors: readonly RbacSubject[];
    /** Bound to the built-in `cluster-admin`; refused in prod unless `breakGlass` is true. Defaults to none. */
    readonly clusterAdmins: readonly RbacSubject[];
    /** Acknowledges cluster-admin bindings in a prod stack. Defaults to false. */
    readonly breakGlass: boolean;
}

/** Resource caps of a namespace. */
export interface QuotaConfig {
    /** CPU cores (requests and limits). */
    readonly cpu: string;
    /** Memory, Kubernetes quantity such as `64Gi` (requests and limits). */
    readonly memory: string;
    /** GPUs (`nvidia.com/gpu` and `nvidia.com/pgpu` requests). */
    readonly gpus: number;
    /** Pods. */
    readonly pods: number;
}

/** One team with its own sandboxed namespace. */
export interface TenantConfig {
    /** DNS label; the namespace is `tenant-<name>`. */
    readonly name: string;
    /** Caps of the tenant namespace. Defaults to 8 CPU, 32Gi, 0 GPUs, 50 pods. */
    readonly quota: QuotaConfig;
    /** Subjects that deploy in the tenant namespace. Defaults to none. */
    readonly mlEngineers: readonly RbacSubject[];
}

export const devicePluginOwners = ["oke-addon", "gpu-operator", "preinstalled"] as const;
/** Who advertises `nvidia.com/gpu`: OKE's add-on, the GPU operator, or (existing clusters) whatever is already there. */
export type DevicePluginOwner = (typeof devicePluginOwners)[number];

/** GPU stack. */
export interface GpuConfig {
    /** The one owner of the device plugin. Defaults to gpu-operator with Kata GPU pools, else oke-addon (existing: preinstalled). */
    readonly devicePluginOwner: DevicePluginOwner;
}

/** ACME issuance instead of the private CA. */
export interface AcmeConfig {
    /** Account e-mail. */
    readonly email: string;
    /** ACME directory URL. Defaults to Let's Encrypt production. */
    readonly server: string;
}

/** Ingress controller and TLS. */
export interface IngressConfig {
    /** Public load balancer instead of an internal one. Defaults to false. */
    readonly public: boolean;
    /** Issue certificates from an ACME CA (needs a public load balancer). Defaults to a private CA. */
    readonly acme?: AcmeConfig;
}

/** How External Secrets authenticates to OCI Vault on a cluster without OKE workload identity. */
export interface ExistingClusterSecretsAuth {
    /** Vault OCID whose secrets the store reads. */
    readonly vaultId: string;
    /** OCI region of the vault. */
    readonly region: string;
    /** OCI user OCID of the API key. */
    readonly userOcid: string;
    /** Tenancy OCID. */
    readonly tenancyOcid: string;
    /** Kubernetes Secret in `external-secrets`, created out of band, with keys `privateKey` and `fingerprint`. */
    readonly secretName: string;
}

/** External Secrets Operator. */
export interface SecretsConfig {
    /** Install ESO and the `oci-vault` ClusterSecretStore. Defaults to true on OKE; on existing clusters, to whether existingClusterAuth is set. */
    readonly enabled: boolean;
    /** Existing clusters: API-key auth whose key lives in a Secret created out of band. */
    readonly existingClusterAuth?: ExistingClusterSecretsAuth;
}

/** In-cluster baseline settings. */
export interface BaselineConfig {
    readonly rbac: RbacConfig;
    readonly tenants: readonly TenantConfig[];
    readonly gpu: GpuConfig;
    readonly ingress: IngressConfig;
    readonly secrets: SecretsConfig;
    /** Per-namespace quota overrides for platform namespaces, by namespace name; unset fields keep the built-in default. */
    readonly quotas: Readonly<Record<string, Partial<QuotaConfig>>>;
}

const defaultTenantQuota: QuotaConfig = { cpu: "8", memory: "32Gi", gpus: 0, pods: 50 };

const cpuPattern = patterns.cpuQuantity;
const memoryPattern = patterns.memoryQuantity;

/** Parses one quota object over defaults. */
export function parseQuota(
    raw: unknown,
    path: string,
    issues: Issues,
    def: QuotaConfig,
): QuotaConfig {
    const o = obj(raw, path, issues, ["cpu", "memory", "gpus", "pods"]);
    const cpuRaw = typeof o.cpu === "number" ? { ...o, cpu: String(o.cpu) } : o;
    return {
        cpu: str(cpuRaw, "cpu", path, issues, { ...cpuPattern, default: def.cpu }),
        memory: str(o, "memory", path, issues, { ...memoryPattern, default: def.memory }),
        gpus: num(o, "gpus", path, issues, { ...ranges.quotaGpus, default: def.gpus }),
        pods: num(o, "pods", path, issues, { ...ranges.quotaPods, default: def.pods }),
    };
}

function parseSubjects(
    o: Raw,
    key: string,
    path: string,
    issues: Issues,
    ctx: LayerContext,
): RbacSubject[] {
    return list(o, key, path, issues, (item, p) => {
        const s = obj(item, p, issues, ["kind", "name"], true);
        const kind = str<RbacSubject["kind"]>(s, "kind", p, issues, {
            oneOf: ["User", "Group"],
            required: true,
        });
        const name = str(s, "name", p, issues, { required: true });
        if (kind === undefined || name === undefined) {
            return undefined;
        }
        // OKE maps an IAM user to the Kubernetes user `<user OCID>` and IAM groups to `<group OCID>`.
        const ocidKind = kind === "User" ? "user" : "group";
        if (ctx.target === "oke" && !new RegExp(`^ocid1\\.${ocidKind}\\.`).test(name)) {
            issues.add(
                join(p, "name"),
                name,
                `an OCI IAM ${ocidKind} OCID (ocid1.${ocidKind}.oc1..aaaa…): OKE names ${kind === "User" ? "users" : "groups"} by OCID`,
            );
            return undefined;
        }
        if (ctx.target === "oke" && !patterns.ocid.pattern.test(name)) {
            issues.add(join(p, "name"), name, patterns.ocid.expected);
            return undefined;
        }
        return { kind, name };
    });
}

function parseRbac(raw: unknown, path: string, issues: Issues, ctx: LayerContext): RbacConfig {
    const o = obj(raw, path, issues, [
        "platformAdmins",
        "mlEngineers",
        "auditors",
        "clusterAdmins",
        "breakGlass",
    ]);
    const clusterAdmins = parseSubjects(o, "clusterAdmins", path, issues, ctx);
    const breakGlass = bool(o, "breakGlass", path, issues, false);
    if (ctx.environment === "prod" && clusterAdmins.length > 0 && !breakGlass) {
        issues.add(
            join(path, "clusterAdmins"),
            clusterAdmins.map((s) => s.name),
            "no cluster-admin bindings in a prod stack (use platformAdmins), or set breakGlass: true to acknowledge them",
        );
    }
    if (breakGlass && clusterAdmins.length === 0) {
        issues.add(
            join(path, "breakGlass"),
            true,
            "false or unset: breakGlass only acknowledges clusterAdmins, and there are none",
        );
    }
    return {
        platformAdmins: parseSubjects(o, "platformAdmins", path, issues, ctx),
        mlEngineers: parseSubjects(o, "mlEngineers", path, issues, ctx),
        auditors: parseSubjects(o, "auditors", path, issues, ctx),
        clusterAdmins,
        breakGlass,
    };
}

function parseTenants(o: Raw, path: string, issues: Issues, ctx: LayerContext): TenantConfig[] {
    const seen = new Map<string, number>();
    const tenants = list(o, "tenants", path, issues, (item, p) => {
        const t = obj(item, p, issues, ["name", "quota", "mlEngineers"], true);
        const name = str(t, "name", p, issues, { ...patterns.dnsLabel, required: true });
        if (name === undefined) {
            return undefined;
        }
        const index = Number(/\[(\d+)\]$/.exec(p)?.[1] ?? "0");
        if (seen.has(name)) {
            issues.add(
                join(p, "name"),
                name,
                `a tenant name unique in the cluster (tenants[${seen.get(name)}] has it)`,
            );
            return undefined;
        }
        seen.set(name, index);
        const quota = parseQuota(t.quota, join(p, "quota"), issues, defaultTenantQuota);
        if (quota.gpus > 0 && !ctx.capabilities.kataGpu) {
            issues.add(
                join(p, "quota.gpus"),
                quota.gpus,
                `0: tenant workloads run only under Kata, and cluster ${ctx.clusterName} has no Kata GPU runtime (capabilities.kataGpu)`,
            );
        }
        return { name, quota, mlEngineers: parseSubjects(t, "mlEngineers", p, issues, ctx) };
    });
    if (tenants.length > 0 && !ctx.capabilities.kata && !ctx.capabilities.kataGpu) {
        issues.add(
            join(path, "tenants"),
            tenants.map((t) => t.name),
            `no tenants on cluster ${ctx.clusterName}: tenant workloads must run under a Kata RuntimeClass and the cluster has no Kata runtime ` +
                (ctx.target === "existing"
                    ? "(capabilities.kata is false)"
                    : "(add a node pool with role kata)"),
        );
    }
    return tenants;
}

/** Default device-plugin owner for a cluster. */
export function defaultDevicePluginOwner(
    ctx: Pick<LayerContext, "target" | "capabilities">,
): DevicePluginOwner {
    if (ctx.capabilities.kataGpu) {
        return "gpu-operator";
    }
    return ctx.target === "oke" ? "oke-addon" : "preinstalled";
}

function parseGpu(raw: unknown, path: string, issues: Issues, ctx: LayerContext): GpuConfig {
    const o = obj(raw, path, issues, ["devicePluginOwner"]);
    const owner = str(o, "devicePluginOwner", path, issues, {
        oneOf: devicePluginOwners,
        default: defaultDevicePluginOwner(ctx),
    });
    const p = join(path, "devicePluginOwner");
    if (owner === "oke-addon" && ctx.target !== "oke") {
        issues.add(p, owner, "gpu-operator or preinstalled: oke-addon exists only on OKE clusters");
    } else if (owner === "preinstalled" && ctx.target === "oke") {
        issues.add(p, owner, "oke-addon or gpu-operator on an OKE cluster");
    } else if (owner !== "gpu-operator" && ctx.capabilities.kataGpu && ctx.target === "oke") {
        issues.add(
            p,
            owner,
            "gpu-operator: Kata GPU pools need the operator's sandbox device plugin (vm-passthrough), which OKE's add-on does not provide",
        );
    }
    // Exactly one owner of the device plugin: an OKE GPU add-on beside the operator is refused.
    const addonsPath = `${ctx.clusterPath ?? `clusters[${ctx.clusterName}]`}.addons`;
    if (owner === "gpu-operator") {
        for (const a of ["NvidiaGpuPlugin", "NvidiaGpuOperator"].filter((x) =>
            ctx.addons.includes(x),
        )) {
            issues.add(
                p,
                owner,
                `oke-addon, or remove the ${a} add-on from ${addonsPath}: exactly one owner of the GPU device plugin is allowed`,
            );
        }
    }
    if (owner === "oke-addon" && ctx.addons.includes("NvidiaGpuOperator")) {
        issues.add(
            p,
            owner,
            `gpu-operator, or the NvidiaGpuPlugin add-on instead of NvidiaGpuOperator in ${addonsPath} (that add-on brings its own device plugin)`,
        );
    }
    return { devicePluginOwner: owner };
}

function parseIngress(raw: unknown, path: string, issues: Issues): IngressConfig {
    const o = obj(raw, path, issues, ["public", "acme"]);
    const isPublic = bool(o, "public", path, issues, false);
    let acme: AcmeConfig | undefined;
    if (o.acme !== undefined && o.acme !== null) {
        const ap = join(path, "acme");
        const a = obj(o.acme, ap, issues, ["email", "server"], true);
        const email = str(a, "email", ap, issues, {
            ...patterns.acmeEmail,
            required: true,
        });
        const server = str(a, "server", ap, issues, {
            ...patterns.acmeServer,
            default: "https://acme-v02.api.letsencrypt.org/directory",
        });
        if (!isPublic) {
            issues.add(
                ap,
                o.acme,
                "no acme with an internal load balancer (the ACME CA cannot reach HTTP-01 challenges): set ingress.public: true or remove acme",
            );
        }
        if (email !== undefined) {
            acme = { email, server };
        }
    }
    return { public: isPublic, acme };
}

function parseSecrets(
    raw: unknown,
    path: string,
    issues: Issues,
    ctx: LayerContext,
): SecretsConfig {
    const o = obj(raw, path, issues, ["enabled", "existingClusterAuth"]);
    const isOke = ctx.target === "oke";
    if (isOke && o.existingClusterAuth !== undefined) {
        issues.add(
            join(path, "existingClusterAuth"),
            "(set)",
            "no value on OKE: External Secrets uses OKE workload identity",
        );
    }
    const enabled = bool(o, "enabled", path, issues, isOke || o.existingClusterAuth !== undefined);
    let existingClusterAuth: ExistingClusterSecretsAuth | undefined;
    if (!isOke && enabled) {
        const ap = join(path, "existingClusterAuth");
        const a = obj(
            o.existingClusterAuth,
            ap,
            issues,
            ["vaultId", "region", "userOcid", "tenancyOcid", "secretName"],
            true,
        );
        const vaultId = str(a, "vaultId", ap, issues, {
            ...patterns.vaultOcid,
            required: true,
        });
        const region = str(a, "region", ap, issues, { ...patterns.region, required: true });
        const userOcid = str(a, "userOcid", ap, issues, {
            ...patterns.userOcid,
            required: true,
        });
        const tenancyOcid = str(a, "tenancyOcid", ap, issues, {
            ...patterns.tenancyOcid,
            required: true,
        });
        const secretName = str(a, "secretName", ap, issues, {
            ...patterns.clusterAuthSecretName,
            required: true,
        });
        if (vaultId && region && userOcid && tenancyOcid && secretName) {
            existingClusterAuth = { vaultId, region, userOcid, tenancyOcid, secretName };
        }
    }
    return { enabled, existingClusterAuth };
}

function parseQuotas(
    raw: unknown,
    path: string,
    issues: Issues,
): Record<string, Partial<QuotaConfig>> {
    const out: Record<string, Partial<QuotaConfig>> = {};
    if (raw === undefined || raw === null) {
        return out;
    }
    if (!isObject(raw)) {
        issues.add(
            path,
            raw,
            "a map of platform namespace name to quota {cpu, memory, gpus, pods}",
        );
        return out;
    }
    const known = [
        ...Object.values(tierNamespaces),
        ...Object.values(serviceNamespaces),
        ...Object.values(privilegedNamespaces),
    ];
    for (const [ns, q] of Object.entries(raw)) {
        const p = join(path, ns);
        if (!(known as string[]).includes(ns)) {
            issues.add(
                p,
                ns,
                `a platform namespace: ${known.join(", ")} (tenant quotas go in tenants[].quota)`,
            );
            continue;
        }
        const o = obj(q, p, issues, ["cpu", "memory", "gpus", "pods"], true);
        const cpuRaw = typeof o.cpu === "number" ? { ...o, cpu: String(o.cpu) } : o;
        out[ns] = {
            cpu: str(cpuRaw, "cpu", p, issues, cpuPattern),
            memory: str(o, "memory", p, issues, memoryPattern),
            gpus: num(o, "gpus", p, issues, ranges.quotaGpus),
            pods: num(o, "pods", p, issues, ranges.quotaPods),
        };
    }
    return out;
}

export function parseBaseline(
    raw: unknown,
    path: string,
    issues: Issues,
    ctx: LayerContext,
): BaselineConfig {
    const o = obj(raw, path, issues, ["rbac", "tenants", "gpu", "ingress", "secrets", "quotas"]);
    return {
        rbac: parseRbac(o.rbac, join(path, "rbac"), issues, ctx),
        tenants: parseTenants(o, path, issues, ctx),
        gpu: parseGpu(o.gpu, join(path, "gpu"), issues, ctx),
        ingress: parseIngress(o.ingress, join(path, "ingress"), issues),
        secrets: parseSecrets(o.secrets, join(path, "secrets"), issues, ctx),
        quotas: parseQuotas(o.quotas, join(path, "quotas"), issues),
    };
}
