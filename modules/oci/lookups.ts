/**
 * The provider lookups the cloud layer depends on, asked once per OKE cluster BEFORE any
 * resource is declared, and judged like configuration: a Kubernetes version OKE does not offer,
 * an availability domain without the pool's shape, a pool without a node image, a region the
 * tenancy is not subscribed to, a homeRegion that is not the tenancy's, an existing vault that is
 * not there, or a lookup the provider refuses become config issues (exit 2, the key
 * named, a did-you-mean from the provider's own answer) instead of ResourceErrors after the VCN
 * and vault exist.
 *
 * Why the providers come first: an invoke through an explicit provider waits for that provider's
 * registration (`@pulumi/pulumi` 3.248.0 `runtime/invoke.js`: `invokeAsync` awaits
 * `ProviderResource.register(getProvider(tok, opts))`, which awaits the provider's `urn` and
 * `id`, `resource.js`), and the stack's providers carry region and auth from config, which the
 * engine's default provider cannot. So the only registrations before these lookups are the OCI
 * providers of the clusters' regions (they create nothing in the tenancy) and, under a real
 * `pulumi up`, the Stack resource (`runInPulumiStack`). Everything else is declared after the
 * answers are in: the program's entry point is an async function (`cmd/run/run.js`: "If the
 * exported value was itself a Function, then just execute it … await the value").
 *
 * Answers that need a created resource (the kubeconfig of the new cluster) cannot be asked
 * before it exists and stay in the components.
 */
import * as oci from "@pulumi/oci";
import type { ClusterConfig, ConfigIssue, NodePoolConfig, PlatformConfig } from "../config";
import { kubernetesVersionProblem } from "../config/kubernetes-versions";
import { closest, didYouMean } from "../config/suggest";
import { NodeImageSource, isArmShape, selectNodeImage } from "./images";
import { OciService, selectOsnService } from "./network";

/** A lookup's answer, or the provider's error text. */
export type Answer<T> =
    | { readonly ok: true; readonly value: T }
    | { readonly ok: false; readonly error: string };

/** What the provider answered for one OKE cluster. */
export interface ClusterAnswers {
    /** `getClusterOption({clusterOptionId: "all", compartmentId})`.kubernetesVersions. */
    readonly kubernetesVersions: Answer<readonly string[]>;
    /** AD name → shape names: `getAvailabilityDomains(tenancy)` then `getShapes(compartment, ad)`. */
    readonly shapesByAd: Answer<Readonly<Record<string, readonly string[]>>>;
    /** `getNodePoolOption({nodePoolOptionId: "all"})`.sources (no compartment: it empties them). */
    readonly nodeImages: Answer<readonly NodeImageSource[]>;
    /** `getServices()`.services. */
    readonly services: Answer<readonly OciService[]>;
    /** `getNamespace(compartment)`.namespace. */
    readonly namespace: Answer<string>;
    /** `getVault(vault.existingVaultId)`, when the stack names an existing vault. */
    readonly existingVault?: Answer<VaultAnswer>;
    /** `getRegionSubscriptions(tenancy)`: the regions the tenancy is subscribed to. */
    readonly regions: Answer<readonly RegionSubscription[]>;
}

/**
 * One region subscription. `state` is the API's `status`, READY or IN_PROGRESS
 * (terraform-provider-oci `identity_region_subscriptions_data_source.go` maps `state` from
 * `Status`; oci-go-sdk `identity/region_subscription.go` RegionSubscriptionStatusEnum).
 */
export interface RegionSubscription {
    readonly regionName: string;
    readonly isHomeRegion: boolean;
    readonly state: string;
}

/** The fields of an existing vault the cloud layer uses. */
export interface VaultAnswer {
    readonly state: string;
    readonly managementEndpoint: string;
    readonly cryptoEndpoint: string;
}

/** The checked answers one OKE cluster's components are built from (plain data, no Outputs). */
export interface ClusterLookups {
    /** The cluster's Kubernetes version, offered by OKE in its region. */
    readonly kubernetesVersion: string;
    /** Node pool name → the AD names its nodes go to. */
    readonly placement: Readonly<Record<string, readonly string[]>>;
    /** Node pool name → node image OCID (`imageId` from config, or OKE's image for the pool). */
    readonly nodeImages: Readonly<Record<string, string>>;
    /** The Service Gateway's "All <region> Services In Oracle Services Network" service. */
    readonly osnService: OciService;
    /** The tenancy's Object Storage namespace. */
    readonly namespace: string;
    /** Endpoints of the existing vault, when the stack names one. */
    readonly existingVault?: Omit<VaultAnswer, "state">;
}

const first = (e: unknown) =>
    (e instanceof Error ? e.message : String(e)).split("\n")[0]!.trim() ||
    "(an error without message)";

async function answer<T>(ask: () => Promise<T>): Promise<Answer<T>> {
    try {
        return { ok: true, value: await ask() };
    } catch (e) {
        return { ok: false, error: first(e) };
    }
}

/** Asks `provider` (an OKE cluster's region) every lookup that cluster's cloud layer needs. */
export async function askProvider(
    cfg: PlatformConfig,
    provider: oci.Provider,
): Promise<ClusterAnswers> {
    const opts = { provider };
    const compartmentId = cfg.compartmentId!;
    const [
        kubernetesVersions,
        shapesByAd,
        nodeImages,
        services,
        namespace,
        regions,
        existingVault,
    ] = await Promise.all([
        answer(async () => {
            const r = await oci.containerengine.getClusterOption(
                { clusterOptionId: "all", compartmentId },
                opts,
            );
            return r.kubernetesVersions;
        }),
        answer(async () => {
            const ads = await oci.identity.getAvailabilityDomains(
                { compartmentId: cfg.tenancyId! },
                opts,
            );
            const names = ads.availabilityDomains.map((ad) => ad.name).sort();
            const shapes = await Promise.all(
                names.map((availabilityDomain) =>
                    oci.core
                        .getShapes({ compartmentId, availabilityDomain }, opts)
                        .then((r) => r.shapes.map((s) => s.name)),
                ),
            );
            return Object.fromEntries(names.map((n, i) => [n, shapes[i]!]));
        }),
        answer(async () => {
            const r = await oci.containerengine.getNodePoolOption(
                { nodePoolOptionId: "all" },
                opts,
            );
            return r.sources as NodeImageSource[];
        }),
        answer(async () => (await oci.core.getServices({}, opts)).services as OciService[]),
        answer(
            async () => (await oci.objectstorage.getNamespace({ compartmentId }, opts)).namespace,
        ),
        answer(async () => {
            const r = await oci.identity.getRegionSubscriptions(
                { tenancyId: cfg.tenancyId! },
                opts,
            );
            return r.regionSubscriptions.map((x) => ({
                regionName: x.regionName,
                isHomeRegion: x.isHomeRegion,
                state: x.state,
            }));
        }),
        cfg.vault.existingVaultId === undefined
            ? Promise.resolve(undefined)
            : answer(async () => {
                  const v = await oci.kms.getVault({ vaultId: cfg.vault.existingVaultId! }, opts);
                  return {
                      state: v.state,
                      managementEndpoint: v.managementEndpoint,
                      cryptoEndpoint: v.cryptoEndpoint,
                  };
              }),
    ]);
    return {
        kubernetesVersions,
        shapesByAd,
        nodeImages,
        services,
        namespace,
        regions,
        ...(existingVault !== undefined ? { existingVault } : {}),
    };
}

/** The number of an availability domain name (`Uocm:US-ASHBURN-AD-2` → 2). */
export function adNumber(name: string): number | undefined {
    const m = /-AD-(\d+)$/.exec(name);
    return m === null ? undefined : Number(m[1]);
}

/** Where a pool's nodes go, or what is wrong (the field of the pool and what is expected). */
export type Placement =
    | { readonly domains: string[] }
    | { readonly field: "shape" | "availabilityDomains"; readonly expected: string };

/**
 * The availability domains a pool's nodes go to (pure): the configured AD numbers, or every AD
 * of the region whose shapes (`oci.core.getShapes` per AD: the shapes the tenancy can launch
 * there) include the pool's shape. GPU bare-metal shapes exist in few ADs, and a placement in an
 * AD without the shape fails at launch ("Out of host capacity" / shape not available), so the
 * default follows the lookup. A configured AD that is missing or lacks the shape, or a shape no
 * AD offers, is a problem of the named field, with the ADs that do offer it or the nearest shape
 * the region offers. Test: "places a pool only where its shape exists, or where config says" in
 * test/oci/pure.test.ts.
 */
export function placement(
    pool: Pick<NodePoolConfig, "shape" | "availabilityDomains">,
    shapesByAd: Readonly<Record<string, readonly string[]>>,
): Placement {
    const ads = Object.keys(shapesByAd).sort();
    const offering = ads.filter((ad) => shapesByAd[ad]!.includes(pool.shape));
    const where = (list: string[]) => list.map((a) => `AD-${adNumber(a)}`).join(", ") || "none";
    if (pool.availabilityDomains === undefined) {
        if (offering.length === 0) {
            const all = [...new Set(ads.flatMap((ad) => shapesByAd[ad]!))].sort();
            const near = closest(pool.shape, all);
            return {
                field: "shape",
                expected: `a shape an availability domain of the region offers (ADs: ${where(ads)}; getShapes lists ${all.length} shapes${near !== undefined ? `; did you mean "${near}"?` : ""}), or another region`,
            };
        }
        return { domains: offering };
    }
    const chosen: string[] = [];
    for (const n of pool.availabilityDomains) {
        const ad = ads.find((a) => adNumber(a) === n);
        if (ad === undefined) {
            return {
                field: "availabilityDomains",
                expected: `a subset of the region's ADs ${ads.map(adNumber).join(", ")} (AD ${n} does not exist)`,
            };
        }
        if (!offering.includes(ad)) {
            return {
                field: "availabilityDomains",
                expected: `ADs where ${pool.shape} is offered: ${where(offering)} (not AD ${n})`,
            };
        }
        chosen.push(ad);
    }
    return { domains: chosen };
}

/** Versions of the `-OKE-<version>-` part of node image names, newest first. */
function imageVersions(sources: readonly NodeImageSource[]): string[] {
    const found = new Set<string>();
    for (const s of sources) {
        const m = /-OKE-(\d+\.\d+\.\d+)-/.exec(s.sourceName);
        if (m) found.add(`v${m[1]}`);
    }
    return [...found].sort((a, b) => b.localeCompare(a, undefined, { numeric: true }));
}

/**
 * Judges one OKE cluster's answers (pure): the issues, each at the stack-file key that decided
 * the lookup, and the checked lookups when there are none. `index` is the cluster's position in
 * `clusters`. A lookup the provider refused is an issue of the key it was asked with (the
 * compartment, the tenancy, the region or the vault), quoting the provider's first line.
 */
export function judgeAnswers(
    cfg: PlatformConfig,
    cluster: ClusterConfig,
    index: number,
    answers: ClusterAnswers,
): { readonly issues: ConfigIssue[]; readonly lookups?: ClusterLookups } {
    const issues: ConfigIssue[] = [];
    const top = (key: string) => `${cfg.project}:${key}`;
    const at = (key: string) => `${cfg.project}:clusters[${index}].${key}`;
    const auth = `ociAuth ${cfg.ociAuth.method}, profile ${cfg.ociAuth.profile}`;
    /** A lookup the provider refused: an issue at the key it was asked with. */
    const refuse = (path: string, value: unknown, lookup: string, a: { error: string }) =>
        issues.push({
            path,
            value,
            expected: `a value the OCI provider of ${cluster.region} (${auth}) can look up; ${lookup} answered: ${a.error}`,
        });

    // The tenancy must be subscribed to the cluster's region, and IAM goes to its home region.
    if (!answers.regions.ok) {
        refuse(top("tenancyId"), cfg.tenancyId, "getRegionSubscriptions", answers.regions);
    } else {
        const subs = answers.regions.value;
        const ready = subs.filter((r) => r.state === "READY").map((r) => r.regionName);
        const sub = subs.find((r) => r.regionName === cluster.region);
        if (sub === undefined || sub.state !== "READY") {
            issues.push({
                path: at("region"),
                value: cluster.region,
                expected:
                    sub === undefined
                        ? `a region the tenancy is subscribed to: ${ready.join(", ") || "none"}${didYouMean(cluster.region, ready)}`
                        : `a region whose subscription is READY (getRegionSubscriptions says ${sub.state})`,
            });
        }
        const home = subs.find((r) => r.isHomeRegion)?.regionName;
        if (home !== undefined && cfg.homeRegion !== home) {
            issues.push({
                path: top("homeRegion"),
                value: cfg.homeRegion,
                expected: `the tenancy's home region, ${home} (getRegionSubscriptions): IAM policies, dynamic groups and tag namespaces are created there`,
            });
        }
    }

    const versions = answers.kubernetesVersions;
    if (!versions.ok) {
        refuse(top("compartmentId"), cfg.compartmentId, "getClusterOption", versions);
    } else {
        const problem = kubernetesVersionProblem(cluster.kubernetesVersion, versions.value);
        if (problem !== undefined) {
            issues.push({
                path: at("kubernetesVersion"),
                value: cluster.kubernetesVersion,
                expected: `${problem.replace("OKE offers", `OKE's cluster options in ${cluster.region} list`)}`,
            });
        }
    }

    const placed: Record<string, readonly string[]> = {};
    if (!answers.shapesByAd.ok) {
        refuse(
            top("tenancyId"),
            cfg.tenancyId,
            "getAvailabilityDomains/getShapes",
            answers.shapesByAd,
        );
    } else {
        const shapesByAd = answers.shapesByAd.value;
        cluster.nodePools.forEach((pool, j) => {
            const p = placement(pool, shapesByAd);
            if ("domains" in p) {
                placed[pool.name] = p.domains;
            } else {
                issues.push({
                    path: at(`nodePools[${j}].${p.field}`),
                    value: p.field === "shape" ? pool.shape : pool.availabilityDomains,
                    expected: p.expected,
                });
            }
        });
    }

    const images: Record<string, string> = {};
    const sources = answers.nodeImages;
    cluster.nodePools.forEach((pool, j) => {
        if (pool.imageId !== undefined) {
            images[pool.name] = pool.imageId;
            return;
        }
        if (!sources.ok) {
            refuse(at("region"), cluster.region, "getNodePoolOption", sources);
            return;
        }
        const found = selectNodeImage(sources.value, {
            kubernetesVersion: cluster.kubernetesVersion,
            shape: pool.shape,
            gpu: pool.gpu,
        });
        if (found !== undefined) {
            images[pool.name] = found.imageId;
            return;
        }
        const fitting = sources.value.filter(
            (s) => /aarch64/i.test(s.sourceName) === isArmShape(pool.shape),
        );
        issues.push({
            path: at(`nodePools[${j}].imageId`),
            value: pool.imageId,
            expected: `an image OCID: OKE's node pool options have no image for Kubernetes ${cluster.kubernetesVersion} fitting shape ${pool.shape}${pool.gpu ? " (GPU)" : ""}; their images are for ${imageVersions(fitting).join(", ") || "no version"}`,
        });
    });

    let osn: OciService | undefined;
    if (!answers.services.ok) {
        refuse(at("region"), cluster.region, "getServices", answers.services);
    } else {
        try {
            osn = selectOsnService(answers.services.value);
        } catch (e) {
            issues.push({
                path: at("region"),
                value: cluster.region,
                expected: `a region with the Oracle Services Network service: ${first(e)}`,
            });
        }
    }

    if (!answers.namespace.ok) {
        refuse(top("compartmentId"), cfg.compartmentId, "getNamespace", answers.namespace);
    }

    let vault: ClusterLookups["existingVault"];
    const v = answers.existingVault;
    if (v !== undefined) {
        if (!v.ok) {
            refuse(top("vault.existingVaultId"), cfg.vault.existingVaultId, "getVault", v);
        } else if (v.value.state !== "ACTIVE") {
            issues.push({
                path: top("vault.existingVaultId"),
                value: cfg.vault.existingVaultId,
                expected: `an ACTIVE vault (getVault says ${v.value.state})`,
            });
        } else {
            vault = {
                managementEndpoint: v.value.managementEndpoint,
                cryptoEndpoint: v.value.cryptoEndpoint,
            };
        }
    }

    if (issues.length > 0 || osn === undefined || !answers.namespace.ok) {
        return { issues };
    }
    return {
        issues,
        lookups: {
            kubernetesVersion: cluster.kubernetesVersion,
            placement: placed,
            nodeImages: images,
            osnService: osn,
            namespace: answers.namespace.value,
            ...(vault !== undefined ? { existingVault: vault } : {}),
        },
    };
}
