/**
 * One typed, validated configuration for a stack. `parseConfig` is pure (raw key → value map in,
 * typed object out, every problem reported at once); `loadConfig` feeds it from `pulumi.Config`.
 */
import * as pulumi from "@pulumi/pulumi";
import * as pulumiConfigRuntime from "@pulumi/pulumi/runtime/config";
import { contains, overlaps, parseCidr } from "./cidr";
import { LayerSection, layerSectionNames, parseLayer } from "./layer";
import { egressEngines } from "./network";
import {
    ClusterCapabilities,
    ClusterConfig,
    ClusterNetworkConfig,
    NodePoolConfig,
    PlatformConfig,
    VaultConfig,
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
import { kubernetesVersionProblem, okeKubernetesVersions } from "./kubernetes-versions";
import { parseFleet, parseGlobalEntry } from "./fleet";
import { ocidOf } from "./ocids";
import { parsePrivateLink, validateRemoteInference, withInferenceClients } from "./private-link";
import { ociRegions } from "./regions";
import { findStackFile, stackFileLocator } from "./locate";
import { checkShape, isUnder } from "./shape";
import { kataPlatformConfig, kataShapeInfo, knownShapes } from "./shapes";
import { didYouMean } from "./suggest";
import {
    ConfigIssue,
    ConfigValidationError,
    Issues,
    Raw,
    bool,
    hiddenValue,
    unknownKeyExpected,
    isObject,
    list,
    num,
    obj,
    patterns,
    ranges,
    str,
    strList,
    strMap,
} from "./validate";

export * from "./schema";
export * from "./layer";
export type { FleetConfig, FleetException, GlobalEntryConfig } from "./fleet";
export {
    ConfigValidationError,
    HiddenValue,
    formatIssue,
    looksLikeCredential,
    redact,
} from "./validate";
export type { ConfigIssue } from "./validate";
export type { RawStackConfig } from "./spec";
export { findStackFile, lineOfKey, stackFileLocator } from "./locate";

/** The project name; config keys are `secure-llm-platform:<key>`. */
export const projectName = "secure-llm-platform";

const topLevelKeys = [
    "environment",
    "compartmentId",
    "tenancyId",
    "homeRegion",
    "tags",
    "vault",
    "ociAuth",
    "clusters",
    "peering",
    "globalEntry",
    "fleet",
    "images",
    ...layerSectionNames,
] as const;

const clusterKeys = [
    "name",
    "target",
    "region",
    "kubernetesVersion",
    "network",
    "endpoint",
    "bastion",
    "imageSigning",
    "addons",
    "nodePools",
    "capabilities",
    "kubeconfigKey",
    "privateLink",
    ...layerSectionNames,
] as const;

/** Oldest and newest Kubernetes minor versions the platform supports (VAP v1 needs ≥ 1.30). */
export const supportedKubernetesMinors = { min: 30, max: 34 } as const;

/** Inputs to {@link parseConfig} besides the raw values. */
export interface ParseOptions {
    readonly project?: string;
    readonly stack: string;
    /** Full keys (`project:key`) whose values are secrets. */
    readonly secretKeys?: readonly string[];
}

/**
 * Validates a raw configuration map (`key` without the project prefix → already-decoded value)
 * and returns the typed stack configuration. Throws {@link ConfigValidationError} listing every
 * problem.
 */
export function parseConfig(
    raw: Readonly<Record<string, unknown>>,
    opts: ParseOptions,
): PlatformConfig {
    const project = opts.project ?? projectName;
    const issues = new Issues();
    const root = `${project}:`;
    // Top-level keys have no dot; paths below read `secure-llm-platform:clusters[0].region`.
    const top = (key: string) => `${root}${key}`;

    // The schema checks every key, type, enum value, pattern and range first; the parsers below
    // derive defaults and check what spans several keys. A parser's finding at or below a key the
    // schema already refused is the same mistake and is not repeated.
    const shapeIssues = checkShape(
        raw,
        project,
        Object.keys(raw).filter((k) => isKubeconfigKey(raw, k)),
    );
    for (const key of Object.keys(raw)) {
        if (!(topLevelKeys as readonly string[]).includes(key) && !isKubeconfigKey(raw, key)) {
            issues.add(top(key), hiddenValue, unknownKeyExpected(key, topLevelKeys));
        }
    }
    const rootObj: Raw = { ...raw };
    const environment = str(rootObj, "environment", root, issues, {
        oneOf: environments,
        required: true,
        default: "dev",
    });
    const clustersRaw = rootObj.clusters;
    const anyOke =
        Array.isArray(clustersRaw) &&
        clustersRaw.some((c) => isObject(c) && (c.target ?? "oke") === "oke");
    // The root compartment's OCID is the tenancy's.
    const compartmentId = str(rootObj, "compartmentId", root, issues, {
        ...ocidOf("compartment", "tenancy"),
        required: anyOke,
    });
    const tenancyId = str(rootObj, "tenancyId", root, issues, {
        ...ocidOf("tenancy"),
        required: anyOke,
    });
    const homeRegion = str(rootObj, "homeRegion", root, issues, {
        ...patterns.region,
        required: anyOke,
    });
    checkCatalog(
        issues,
        top("homeRegion"),
        homeRegion,
        patterns.region.pattern,
        ociRegions,
        "region",
    );
    const tags = strMap(rootObj, "tags", root, issues, {
        keyPattern: patterns.tagKey.pattern,
        expected: patterns.tagKey.expected,
    });
    const vault = parseVault(rootObj.vault, top("vault"), issues, environment);
    const authObj = obj(rootObj.ociAuth, top("ociAuth"), issues, ["method", "profile"]);
    const ociAuth = {
        method: str(authObj, "method", top("ociAuth"), issues, {
            oneOf: ociAuthMethods,
            default: "SecurityToken",
        }),
        profile: str(authObj, "profile", top("ociAuth"), issues, {
            ...patterns.ociProfile,
            default: "DEFAULT",
        }),
    };

    const inherited = new InheritedIssues();
    const clusters = list(
        rootObj,
        "clusters",
        root,
        issues,
        (item, p) =>
            parseCluster(item, p, issues, {
                environment,
                rootObj,
                raw,
                secretKeys: opts.secretKeys ?? [],
                project,
                inherited,
            }),
        { required: true, minItems: 1 },
    );
    inherited.drainInto(issues);
    crossValidateClusters(clusters, `${root}clusters`, issues);
    validateRemoteInference(clusters, `${root}clusters`, issues);
    const peeringObj = obj(rootObj.peering, top("peering"), issues, ["enabled"]);
    const peering = { enabled: bool(peeringObj, "enabled", top("peering"), issues, false) };
    const imagesObj = obj(rootObj.images, top("images"), issues, ["mirror"]);
    const images = {
        mirror: str(imagesObj, "mirror", top("images"), issues, {
            ...patterns.imagesMirror,
        }),
    };
    if (peering.enabled) {
        const okeRegions = new Set(clusters.filter((c) => c.target === "oke").map((c) => c.region));
        const okeCount = clusters.filter((c) => c.target === "oke").length;
        if (okeCount < 2 || okeRegions.size < 2) {
            issues.add(
                `${top("peering")}.enabled`,
                true,
                `false, or at least 2 OKE clusters in at least 2 regions (found ${okeCount} in ${okeRegions.size}): remote peering connects regions`,
            );
        }
    }
    const globalEntry = parseGlobalEntry(rootObj.globalEntry, top("globalEntry"), issues, clusters);
    const fleet = parseFleet(rootObj.fleet, top("fleet"), issues, clusters);
    if (globalEntry !== undefined && (compartmentId === undefined || homeRegion === undefined)) {
        issues.add(
            top(compartmentId === undefined ? "compartmentId" : "homeRegion"),
            undefined,
            "a value: globalEntry creates an OCI steering policy and health monitor there",
        );
    }

    // Where the schema only knows "no such key" and a parser says more (a refused security key,
    // inference egress, a tenant namespace among platform quotas), the parser's words are used;
    // the value under the unknown key is still not shown.
    const specific = (s: ConfigIssue) =>
        issues.list.find((i) => i.path === s.path && !i.expected.startsWith("no such key"));
    const all = [
        ...shapeIssues.map((s) =>
            s.value === hiddenValue && specific(s) ? { ...s, expected: specific(s)!.expected } : s,
        ),
        ...issues.list.filter((i) => !shapeIssues.some((s) => isUnder(i.path, s.path))),
    ];
    if (all.length > 0) {
        throw new ConfigValidationError(all);
    }
    return {
        project,
        stack: opts.stack,
        environment,
        compartmentId,
        tenancyId,
        homeRegion,
        tags,
        vault,
        ociAuth,
        clusters: withInferenceClients(clusters),
        peering,
        globalEntry,
        fleet,
        images,
    };
}

/** The secret config key that holds an existing cluster's kubeconfig unless `kubeconfigKey` says otherwise. */
function defaultKubeconfigKey(clusterName: string): string {
    return `kubeconfig-${clusterName}`;
}

function isKubeconfigKey(raw: Readonly<Record<string, unknown>>, key: string): boolean {
    const clusters = raw.clusters;
    return (
        Array.isArray(clusters) &&
        clusters.some(
            (c) => isObject(c) && (c.kubeconfigKey ?? defaultKubeconfigKey(String(c.name))) === key,
        )
    );
}

function parseVault(
    rawVault: unknown,
    path: string,
    issues: Issues,
    environment: string,
): VaultConfig {
    const o = obj(rawVault, path, issues, [
        "type",
        "protectionMode",
        "rotationDays",
        "existingVaultId",
    ]);
    const protectionMode = str(o, "protectionMode", path, issues, {
        oneOf: protectionModes,
        default: "HSM",
    });
    if (environment === "prod" && protectionMode !== "HSM") {
        issues.add(
            `${path}.protectionMode`,
            protectionMode,
            "HSM in a prod stack (software keys can be exported)",
        );
    }
    return {
        type: str(o, "type", path, issues, { oneOf: vaultTypes, default: "DEFAULT" }),
        protectionMode,
        rotationDays: num(o, "rotationDays", path, issues, {
            ...ranges.vaultRotationDays,
            default: 90,
        }),
        existingVaultId: str(o, "existingVaultId", path, issues, ocidOf("vault")),
    };
}

interface ClusterContext {
    readonly environment: PlatformConfig["environment"];
    readonly rootObj: Raw;
    readonly raw: Readonly<Record<string, unknown>>;
    readonly secretKeys: readonly string[];
    readonly project: string;
    /** Findings placed at a stack-level key, merged over the clusters that inherit it. */
    readonly inherited: InheritedIssues;
}

/**
 * Findings at stack-level keys, collected over every cluster that inherits them: the same finding
 * for several clusters (its words differing only by the cluster's name) is one issue naming them.
 */
class InheritedIssues {
    private readonly groups = new Map<
        string,
        { path: string; value: unknown; template: string; clusters: string[] }
    >();

    add(path: string, value: unknown, expected: string, cluster: string): void {
        // The cluster's name as a whole word (a DNS label), never inside another word.
        const name = new RegExp(
            `(?<![A-Za-z0-9-])${cluster.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}(?![A-Za-z0-9-])`,
            "g",
        );
        const template = cluster === "" ? expected : expected.replace(name, "\u0001");
        const key = `${path}\u0000${JSON.stringify(value) ?? ""}\u0000${template}`;
        const g = this.groups.get(key);
        if (g === undefined) {
            this.groups.set(key, { path, value, template, clusters: [cluster] });
        } else if (!g.clusters.includes(cluster)) {
            g.clusters.push(cluster);
        }
    }

    drainInto(issues: Issues): void {
        for (const g of this.groups.values()) {
            issues.add(g.path, g.value, g.template.split("\u0001").join(g.clusters.join(", ")));
        }
    }
}

function parseCluster(
    item: unknown,
    path: string,
    issues: Issues,
    ctx: ClusterContext,
): ClusterConfig | undefined {
    if (!isObject(item)) {
        issues.add(path, item, "a cluster object with at least name, target and region");
        return undefined;
    }
    const o = obj(item, path, issues, [...clusterKeys]);
    const name = str(o, "name", path, issues, {
        ...patterns.dnsLabel,
        required: true,
        default: "invalid",
    });
    const target = str(o, "target", path, issues, { oneOf: clusterTargets, default: "oke" });
    const isOke = target === "oke";
    const region = str(o, "region", path, issues, {
        ...(isOke
            ? patterns.region
            : {
                  ...patterns.locationLabel,
              }),
        required: true,
        default: "invalid",
    });
    if (isOke) {
        checkCatalog(
            issues,
            `${path}.region`,
            region,
            patterns.region.pattern,
            ociRegions,
            "region",
        );
    }
    const kubernetesVersion = str(o, "kubernetesVersion", path, issues, {
        ...patterns.kubernetesVersion,
        default: "v1.34.2",
    });
    const minor = Number(patterns.kubernetesVersion.pattern.exec(kubernetesVersion)?.[1] ?? "0");
    if (minor < supportedKubernetesMinors.min || minor > supportedKubernetesMinors.max) {
        issues.add(
            `${path}.kubernetesVersion`,
            kubernetesVersion,
            `a version from v1.${supportedKubernetesMinors.min} to v1.${supportedKubernetesMinors.max}`,
        );
    } else if (isOke && patterns.kubernetesVersion.pattern.test(kubernetesVersion)) {
        // OKE offers only some patch versions (modules/config/kubernetes-versions.ts).
        const problem = kubernetesVersionProblem(kubernetesVersion, okeKubernetesVersions);
        if (problem !== undefined) {
            issues.add(`${path}.kubernetesVersion`, kubernetesVersion, problem);
        }
    }

    const onlyFor = (key: string, forTarget: string) => {
        if (o[key] !== undefined) {
            issues.add(
                `${path}.${key}`,
                o[key],
                `no value: ${key} applies only to target ${forTarget}`,
            );
        }
    };

    let network: ClusterNetworkConfig | undefined;
    let nodePools: NodePoolConfig[] = [];
    let capabilities: ClusterCapabilities;
    let kubeconfigKey: string | undefined;
    const endpointObj = obj(o.endpoint, `${path}.endpoint`, issues, ["public", "allowedCidrs"]);
    const bastionObj = obj(o.bastion, `${path}.bastion`, issues, ["enabled", "clientCidrs"]);
    const endpoint = {
        public: bool(endpointObj, "public", `${path}.endpoint`, issues, false),
        allowedCidrs: strList(endpointObj, "allowedCidrs", `${path}.endpoint`, issues, cidrOpts),
    };
    const bastion = {
        enabled: bool(bastionObj, "enabled", `${path}.bastion`, issues, false),
        clientCidrs: strList(bastionObj, "clientCidrs", `${path}.bastion`, issues, cidrOpts),
    };
    const networkPolicyRaw = mergedSection(ctx.rootObj, o, "networkPolicy");
    const engine = isObject(networkPolicyRaw) ? networkPolicyRaw.engine : undefined;

    if (isOke) {
        onlyFor("capabilities", "existing");
        onlyFor("kubeconfigKey", "existing");
        network = parseNetwork(o.network, `${path}.network`, issues);
        nodePools = list(o, "nodePools", path, issues, (p, pp) => parseNodePool(p, pp, issues), {
            required: true,
            minItems: 1,
        });
        validatePools(nodePools, `${path}.nodePools`, issues);
        if (endpoint.public) {
            if (ctx.environment === "prod") {
                issues.add(
                    `${path}.endpoint.public`,
                    true,
                    "false in a prod stack: use a bastion or a runner inside the VCN",
                );
            }
            if (endpoint.allowedCidrs.length === 0) {
                issues.add(
                    `${path}.endpoint.allowedCidrs`,
                    [],
                    "at least one CIDR allowed to reach the public API endpoint",
                );
            }
            if (endpoint.allowedCidrs.includes("0.0.0.0/0")) {
                issues.add(
                    `${path}.endpoint.allowedCidrs`,
                    endpoint.allowedCidrs,
                    "specific client CIDRs, not 0.0.0.0/0",
                );
            }
        }
        if (bastion.enabled && bastion.clientCidrs.length === 0) {
            issues.add(
                `${path}.bastion.clientCidrs`,
                [],
                "at least one client CIDR allowed to open bastion sessions",
            );
        }
        if (bastion.clientCidrs.includes("0.0.0.0/0")) {
            issues.add(
                `${path}.bastion.clientCidrs`,
                bastion.clientCidrs,
                "specific client CIDRs, not 0.0.0.0/0",
            );
        }
        capabilities = {
            kata: nodePools.some((p) => p.kata && !p.gpu),
            kataGpu: nodePools.some((p) => p.kata && p.gpu),
            gpu: nodePools.some((p) => p.gpu && !p.kata),
            cni:
                engine === "cilium"
                    ? "cilium"
                    : engine === "calico-enterprise"
                      ? "calico-enterprise"
                      : "calico",
        };
    } else {
        for (const key of [
            "network",
            "endpoint",
            "bastion",
            "imageSigning",
            "addons",
            "nodePools",
        ]) {
            onlyFor(key, "oke");
        }
        const c = obj(
            o.capabilities,
            `${path}.capabilities`,
            issues,
            ["kata", "kataGpu", "gpu", "cni"],
            true,
        );
        capabilities = {
            kata: bool(c, "kata", `${path}.capabilities`, issues, false),
            kataGpu: bool(c, "kataGpu", `${path}.capabilities`, issues, false),
            gpu: bool(c, "gpu", `${path}.capabilities`, issues, false),
            cni: str(c, "cni", `${path}.capabilities`, issues, {
                oneOf: cnis,
                required: true,
                default: "other",
            }),
        };
        kubeconfigKey = str(o, "kubeconfigKey", path, issues, {
            ...patterns.kubeconfigKey,
            default: defaultKubeconfigKey(name),
        });
        const fullKey = `${ctx.project}:${kubeconfigKey}`;
        if (ctx.raw[kubeconfigKey] === undefined) {
            issues.add(
                `${ctx.project}:${kubeconfigKey}`,
                undefined,
                `the cluster's kubeconfig, set with: pulumi config set --secret ${kubeconfigKey} < kubeconfig.yaml`,
            );
        } else if (!ctx.secretKeys.includes(fullKey)) {
            issues.add(
                fullKey,
                "(plaintext)",
                `a secret value: pulumi config set --secret ${kubeconfigKey} < kubeconfig.yaml (a kubeconfig holds credentials)`,
            );
        }
    }
    if (engine !== undefined && !(egressEngines as readonly unknown[]).includes(engine)) {
        // reported by the networkPolicy parser; nothing more to derive here.
    }

    const imageSigning = bool(o, "imageSigning", path, issues, ctx.environment === "prod");
    if (isOke && ctx.environment === "prod" && !imageSigning) {
        issues.add(
            `${path}.imageSigning`,
            false,
            "true in a prod stack (only signed images may run)",
        );
    }
    const addons = isOke
        ? list(o, "addons", path, issues, (a, ap) => {
              const ao = obj(a, ap, issues, ["name", "version", "configurations"], true);
              const addonName = str(ao, "name", ap, issues, {
                  ...patterns.addonName,
                  required: true,
              });
              return addonName === undefined
                  ? undefined
                  : {
                        name: addonName,
                        version: str(ao, "version", ap, issues, {
                            ...patterns.addonVersion,
                        }),
                        configurations: strMap(ao, "configurations", ap, issues),
                    };
          })
        : [];

    const layerRaw: Partial<Record<LayerSection, unknown>> = {};
    for (const section of layerSectionNames) {
        layerRaw[section] = mergedSection(ctx.rootObj, o, section);
    }
    // The sections are validated as the cluster sees them (stack level with its override merged
    // over it); each finding is then reported where its value was written, so a stack-level
    // mistake is one issue at the stack-level key however many clusters inherit it.
    const layerIssues = new Issues();
    const layer = parseLayer(layerRaw, (section) => `${layerMark}${section}`, layerIssues, {
        environment: ctx.environment,
        clusterName: name,
        clusterPath: path,
        target,
        region,
        capabilities,
        addons: addons.map((a) => a.name),
    });
    const whereWritten = (p: string) => writtenAt(p, o, ctx.rootObj, path, ctx.project);
    for (const i of layerIssues.list) {
        const at = whereWritten(i.path);
        if (at.startsWith(`${path}.`) || !i.path.startsWith(layerMark)) {
            issues.add(at, i.value, i.expected);
        } else {
            ctx.inherited.add(at, i.value, i.expected, name);
        }
    }
    layerPaths.set(layer, whereWritten);
    // OKE does not support the Calico policy engine beside the flannel CNI plugin ("causes network
    // issues"); it documents Calico policy-only with VCN-native pods, or Calico replacing flannel as
    // the CNI, which this program does not do (docs.oracle.com/en-us/iaas/Content/ContEng/Tasks/
    // contengsettingupcalico.htm; modules/k8s/network/render-calico.ts).
    if (
        target === "oke" &&
        network?.podNetworking === "flannel" &&
        layer.networkPolicy.installCalico
    ) {
        issues.add(
            `${path}.network.podNetworking`,
            "flannel",
            "`vcn-native` while networkPolicy.installCalico is true: OKE does not support Calico beside the flannel CNI plugin, and flannel alone enforces no NetworkPolicy",
        );
    }

    // One switch for a public ingress load balancer: `baseline.ingress.public`. The OKE network
    // (public LB subnet, internet gateway, LB NSG open to the internet) follows it; a
    // `network.publicLoadBalancers` that says otherwise is refused, naming both keys.
    if (network !== undefined) {
        const ingressPublic = layer.baseline.ingress.public;
        const written = isObject(o.network) ? o.network.publicLoadBalancers : undefined;
        if (typeof written === "boolean" && written !== ingressPublic) {
            issues.add(
                `${path}.network.publicLoadBalancers`,
                written,
                `${ingressPublic} or no value: it follows ${whereWritten(`${layerMark}baseline.ingress.public`)} (${ingressPublic}), the one switch for a public ingress load balancer; change that key instead`,
            );
        }
        network = { ...network, publicLoadBalancers: ingressPublic };
    }

    return {
        name,
        target,
        region,
        kubernetesVersion,
        network,
        endpoint,
        bastion,
        imageSigning,
        addons,
        nodePools,
        capabilities,
        kubeconfigKey,
        privateLink: parsePrivateLink(o.privateLink, `${path}.privateLink`, issues, target),
        layer,
    };
}

/** Prefix of the paths the layer parsers report under, before {@link writtenAt} places them. */
const layerMark = "\u0000";

const layerPaths = new WeakMap<object, (path: string) => string>();

/**
 * The key path where a cluster's in-cluster setting was written: `p:clusters[i].tiers.x` when the
 * cluster's override sets it, `p:tiers.x` when it is inherited from the stack level. For a
 * missing key (or one derived from others), the level that holds more of its path, the cluster on
 * a tie. `sectionPath` is relative to the layer, e.g. `tiers.guardrails.configId`.
 */
export function layerKeyPath(cluster: ClusterConfig, sectionPath: string): string {
    const f = layerPaths.get(cluster.layer);
    if (f === undefined) {
        throw new Error(`cluster ${cluster.name} was not produced by parseConfig`);
    }
    return f(`${layerMark}${sectionPath}`);
}

function writtenAt(
    p: string,
    clusterObj: Raw,
    rootObj: Raw,
    clusterPath: string,
    project: string,
): string {
    if (!p.startsWith(layerMark)) {
        return p;
    }
    const rel = p.slice(layerMark.length);
    const segs = rel.match(/[^.[\]]+/g) ?? [];
    const depth = (v: unknown): number => {
        if (v === undefined || v === null) {
            return -1;
        }
        let d = 0;
        let cur: unknown = v;
        for (const s of segs.slice(1)) {
            const next = Array.isArray(cur)
                ? cur[Number(s)]
                : isObject(cur)
                  ? (cur as Raw)[s]
                  : undefined;
            if (next === undefined || next === null) {
                break;
            }
            cur = next;
            d++;
        }
        return d;
    };
    const section = segs[0] ?? "";
    const dc = depth(clusterObj[section]);
    const ds = depth(rootObj[section]);
    // Neither level writes it: the cluster when it overrides the section, else the stack level.
    return ds > dc || (ds === -1 && dc === -1) ? `${project}:${rel}` : `${clusterPath}.${rel}`;
}

/** A stack-level section with the cluster's override deep-merged over it. */
function mergedSection(rootObj: Raw, clusterObj: Raw, section: string): unknown {
    return deepMerge(rootObj[section], clusterObj[section]);
}

/** Deep-merges plain objects; arrays and scalars in `over` replace those in `base`. */
export function deepMerge(base: unknown, over: unknown): unknown {
    if (over === undefined) {
        return base;
    }
    if (isObject(base) && isObject(over)) {
        const out: Raw = { ...base };
        for (const [k, v] of Object.entries(over)) {
            out[k] = deepMerge(base[k], v);
        }
        return out;
    }
    return over;
}

const cidrOpts = { pattern: patterns.cidr.pattern, expected: patterns.cidr.expected };

function parseNetwork(raw: unknown, path: string, issues: Issues): ClusterNetworkConfig {
    const o = obj(raw, path, issues, [
        "vcnCidr",
        "podsCidr",
        "servicesCidr",
        "podNetworking",
        "nodePortCidrs",
        "publicLoadBalancers",
    ]);
    const cidr = (key: string, def: string) => {
        const v = str(o, key, path, issues, { ...cidrOpts, default: def });
        if (parseCidr(v) === undefined) {
            issues.add(
                `${path}.${key}`,
                v,
                "a valid IPv4 CIDR block with no host bits set, such as 10.0.0.0/16",
            );
            return def;
        }
        return v;
    };
    const vcnCidr = cidr("vcnCidr", "10.0.0.0/16");
    const podsCidr = cidr("podsCidr", "10.244.0.0/16");
    const servicesCidr = cidr("servicesCidr", "10.96.0.0/16");
    const vcn = parseCidr(vcnCidr)!;
    if (vcn.prefix > 20) {
        issues.add(
            `${path}.vcnCidr`,
            vcnCidr,
            "a block of /20 or larger (the platform carves six subnets from it)",
        );
    }
    const pairs: [string, string, string, string][] = [
        ["podsCidr", podsCidr, "vcnCidr", vcnCidr],
        ["servicesCidr", servicesCidr, "vcnCidr", vcnCidr],
        ["servicesCidr", servicesCidr, "podsCidr", podsCidr],
    ];
    for (const [k1, v1, k2, v2] of pairs) {
        if (overlaps(parseCidr(v1)!, parseCidr(v2)!)) {
            issues.add(`${path}.${k1}`, v1, `a block that does not overlap ${k2} (${v2})`);
        }
    }
    const nodePortCidrs = strList(o, "nodePortCidrs", path, issues, cidrOpts);
    if (nodePortCidrs.includes("0.0.0.0/0")) {
        issues.add(
            `${path}.nodePortCidrs`,
            nodePortCidrs,
            "specific CIDRs (load balancer subnets or trusted networks), not 0.0.0.0/0",
        );
    }
    return {
        vcnCidr,
        podsCidr,
        servicesCidr,
        podNetworking: str(o, "podNetworking", path, issues, {
            oneOf: podNetworkings,
            default: "vcn-native",
        }),
        nodePortCidrs,
        publicLoadBalancers: bool(o, "publicLoadBalancers", path, issues, false),
    };
}

/**
 * Refuses a well-formed value the shipped catalog does not list (modules/config/regions.ts,
 * shapes.ts), with the nearest entry: a misspelt region or shape stops the plan before any
 * resource instead of failing mid-`pulumi up` (test/config/catalog.test.ts).
 */
function checkCatalog(
    issues: Issues,
    path: string,
    value: string | undefined,
    pattern: RegExp,
    catalog: readonly string[],
    what: string,
): void {
    if (value === undefined || !pattern.test(value) || catalog.includes(value)) {
        return;
    }
    issues.add(
        path,
        value,
        `an OCI ${what} the program knows${didYouMean(value, catalog)}; add a new one to modules/config/${what === "region" ? "regions" : "shapes"}.ts`,
    );
}

function parseNodePool(raw: unknown, path: string, issues: Issues): NodePoolConfig | undefined {
    if (!isObject(raw)) {
        issues.add(path, raw, "a node pool object with name, role and shape");
        return undefined;
    }
    const o = obj(raw, path, issues, [
        "name",
        "role",
        "shape",
        "ocpus",
        "memoryGbs",
        "size",
        "bootVolumeGbs",
        "imageId",
        "kata",
        "kataMode",
        "labels",
        "availabilityDomains",
    ]);
    const name = str(o, "name", path, issues, {
        ...patterns.dnsLabel,
        required: true,
        default: "invalid",
    });
    const role = str(o, "role", path, issues, {
        oneOf: nodePoolRoles,
        required: true,
        default: "system",
    });
    const shape = str(o, "shape", path, issues, {
        ...patterns.shape,
        required: true,
        default: "VM.Standard.E5.Flex",
    });
    checkCatalog(issues, `${path}.shape`, shape, patterns.shape.pattern, knownShapes, "shape");
    const flex = shape.endsWith(".Flex");
    const gpu = /\.GPU/.test(shape);
    const ocpus = num(o, "ocpus", path, issues, ranges.poolOcpus);
    const memoryGbs = num(o, "memoryGbs", path, issues, ranges.poolMemoryGbs);
    if (flex && (ocpus === undefined || memoryGbs === undefined)) {
        issues.add(
            `${path}.${ocpus === undefined ? "ocpus" : "memoryGbs"}`,
            undefined,
            `a value: flexible shape ${shape} needs ocpus and memoryGbs`,
        );
    }
    if (!flex && (o.ocpus !== undefined || o.memoryGbs !== undefined)) {
        issues.add(
            `${path}.ocpus`,
            o.ocpus ?? o.memoryGbs,
            `no value: ${shape} is a fixed shape (ocpus and memoryGbs apply to .Flex shapes)`,
        );
    }
    const kataFlag = bool(o, "kata", path, issues, role === "kata");
    if (role === "kata" && !kataFlag) {
        issues.add(`${path}.kata`, false, "true or unset: a pool with role kata runs Kata");
    }
    if (role === "system" && o.kata !== undefined && kataFlag) {
        issues.add(
            `${path}.kata`,
            true,
            "false: system pools run platform components with the default runtime",
        );
    }
    if (role === "gpu" && !gpu) {
        issues.add(
            `${path}.shape`,
            shape,
            "a GPU shape (e.g. VM.GPU.A10.1, BM.GPU.A100-v2.8) for a pool with role gpu",
        );
    }
    let kataMode: NodePoolConfig["kataMode"] = "managed";
    if (kataFlag) {
        const requested = str(o, "kataMode", path, issues, {
            oneOf: kataPoolModes,
            default: "auto",
        });
        if (!shape.startsWith("BM.")) {
            issues.add(
                `${path}.shape`,
                shape,
                "a bare-metal shape for a Kata pool (Kata needs /dev/kvm, which VMs do not expose), such as BM.Standard.E4.128 or BM.GPU.A100-v2.8",
            );
        } else {
            const info = kataShapeInfo(shape);
            if (requested === "auto") {
                kataMode = info?.virtualizationDefault === true ? "managed" : "self-managed";
            } else if (requested === "managed" && info?.virtualizationDefault !== true) {
                issues.add(
                    `${path}.kataMode`,
                    requested,
                    `self-managed or auto: ${shape} does not enable virtualization instructions by default, and managed node pools cannot set platformConfig`,
                );
            } else {
                kataMode = requested;
            }
            if (kataMode === "self-managed" && info === undefined) {
                issues.add(
                    `${path}.shape`,
                    shape,
                    "a bare-metal shape whose platform type is known (see modules/config/shapes.ts), so virtualization can be enabled through platformConfig",
                );
            }
            if (
                kataMode === "self-managed" &&
                info !== undefined &&
                kataPlatformConfig(info, gpu) === undefined
            ) {
                // Moved here from OkeCluster (modules/oci/index.ts), which still asserts it.
                issues.add(
                    `${path}.shape`,
                    shape,
                    `a bare-metal GPU shape whose platform type can enable IOMMU and ACS for GPU pass-through into Kata, such as BM.GPU.A100-v2.8 (${shape} is ${info.platformType})`,
                );
            }
        }
    } else if (o.kataMode !== undefined) {
        issues.add(`${path}.kataMode`, o.kataMode, "no value: kataMode applies only to Kata pools");
    }
    return {
        name,
        role,
        shape,
        ocpus,
        memoryGbs,
        size: num(o, "size", path, issues, {
            ...ranges.poolSize,
            default: role === "system" ? 2 : 1,
        }),
        bootVolumeGbs: num(o, "bootVolumeGbs", path, issues, {
            ...ranges.poolBootVolumeGbs,
            default: gpu ? 250 : 100,
        }),
        imageId: str(o, "imageId", path, issues, ocidOf("image")),
        kata: kataFlag,
        gpu,
        kataMode,
        labels: strMap(o, "labels", path, issues, {
            keyPattern: patterns.labelKey.pattern,
            expected: patterns.labelKey.expected,
        }),
        ...(o.availabilityDomains !== undefined
            ? { availabilityDomains: parseAvailabilityDomains(o.availabilityDomains, path, issues) }
            : {}),
    };
}

/** `availabilityDomains`: distinct AD numbers 1–3 (OCI regions have one or three ADs). */
function parseAvailabilityDomains(v: unknown, path: string, issues: Issues): number[] {
    const p = `${path}.availabilityDomains`;
    const ok =
        Array.isArray(v) &&
        v.length > 0 &&
        v.every(
            (n) =>
                Number.isInteger(n) &&
                n >= ranges.availabilityDomain.min &&
                n <= ranges.availabilityDomain.max,
        ) &&
        new Set(v).size === v.length;
    if (!ok) {
        issues.add(p, v, "a non-empty list of distinct availability domain numbers 1, 2 or 3");
        return [];
    }
    return [...(v as number[])].sort();
}

function validatePools(pools: readonly NodePoolConfig[], path: string, issues: Issues): void {
    const seen = new Set<string>();
    pools.forEach((p, i) => {
        if (seen.has(p.name)) {
            issues.add(`${path}[${i}].name`, p.name, "a node pool name unique within the cluster");
        }
        seen.add(p.name);
    });
    if (pools.length > 0 && !pools.some((p) => p.role === "system" && p.size >= 1)) {
        issues.add(
            path,
            pools.map((p) => p.name),
            "at least one pool with role system and size ≥ 1 (platform components and GPU operators need it)",
        );
    }
}

function crossValidateClusters(
    clusters: readonly ClusterConfig[],
    path: string,
    issues: Issues,
): void {
    const names = new Map<string, number>();
    clusters.forEach((c, i) => {
        if (names.has(c.name)) {
            issues.add(
                `${path}[${i}].name`,
                c.name,
                `a cluster name unique in the stack (clusters[${names.get(c.name)}] has it)`,
            );
        } else {
            names.set(c.name, i);
        }
    });
    const oke = clusters.map((c, i) => ({ c, i })).filter(({ c }) => c.network !== undefined);
    for (let a = 0; a < oke.length; a++) {
        for (let b = a + 1; b < oke.length; b++) {
            const x = parseCidr(oke[a].c.network!.vcnCidr)!;
            const y = parseCidr(oke[b].c.network!.vcnCidr)!;
            if (overlaps(x, y) || contains(x, y)) {
                issues.add(
                    `${path}[${oke[b].i}].network.vcnCidr`,
                    oke[b].c.network!.vcnCidr,
                    `a VCN CIDR that does not overlap clusters[${oke[a].i}] (${oke[a].c.network!.vcnCidr}), so the clusters can be peered`,
                );
            }
        }
    }
}

/**
 * Reads the stack's configuration from the Pulumi runtime and validates it. Values are decoded the
 * way `pulumi.Config.getObject` decodes them (JSON where it parses, the raw string otherwise).
 */
export function loadConfig(): PlatformConfig {
    const all = pulumi.runtime.allConfig();
    const prefix = `${projectName}:`;
    const raw: Record<string, unknown> = {};
    const secretKeys: string[] = [];
    const isSecret = (pulumiConfigRuntime as unknown as { isConfigSecret?: (k: string) => boolean })
        .isConfigSecret;
    for (const [key, value] of Object.entries(all)) {
        if (!key.startsWith(prefix)) {
            continue;
        }
        const short = key.slice(prefix.length);
        raw[short] = decodeConfigValue(value);
        if (isSecret?.(key)) {
            secretKeys.push(key);
        }
    }
    const stack = pulumi.getStack();
    try {
        return parseConfig(raw, { project: projectName, stack, secretKeys });
    } catch (e) {
        if (e instanceof ConfigValidationError) {
            // Under `pulumi up` the program runs in the project directory.
            const file = findStackFile(process.cwd(), stack);
            throw file === undefined ? e : e.withLocations(stackFileLocator(file, projectName));
        }
        throw e;
    }
}

/** Decodes one config value as the CLI stores it: JSON when it parses, else the plain string. */
export function decodeConfigValue(value: string): unknown {
    try {
        return JSON.parse(value);
    } catch {
        return value;
    }
}

/** Reads an existing cluster's kubeconfig as a secret output. */
export function kubeconfigFor(cluster: ClusterConfig): pulumi.Output<string> {
    if (cluster.kubeconfigKey === undefined) {
        throw new Error(
            `cluster ${cluster.name} has no kubeconfigKey (only target existing has one)`,
        );
    }
    return new pulumi.Config(projectName).requireSecret(cluster.kubeconfigKey);
}
