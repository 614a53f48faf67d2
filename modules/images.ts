/**
 * Every image a stack runs, where its mirror lives, and the prod refusal of images that cannot be
 * verified (issue 14). OKE's image verification policy admits only images in OCIR signed with the
 * cluster's key ("Enforcing the Use of Signed Images from Registry",
 * https://docs.oracle.com/en-us/iaas/Content/ContEng/Tasks/contengenforcingsignedimagesfromocir.htm),
 * so prod must reference mirrors in the tenancy's OCIR, by digest, signed by
 * `npm run images:mirror`. Pure; `mirrorTransformation` points rendered objects at the mirrors.
 */
import * as pulumi from "@pulumi/pulumi";
import type { ClusterConfig, PlatformConfig } from "./config";
import { ConfigValidationError, type ConfigIssue } from "./config/validate";
import {
    CatalogChart,
    ChartImageLock,
    ResolvedChartImage,
    chartImageCatalog,
    chartImageLockFile,
    chartImageValues,
    defaultChartImageLock,
    lockKey,
    lockedImage,
    resolveChartImage,
    sourceRef,
} from "./constants/chart-images";
import {
    PinnedImage,
    calicoImages,
    images as directImages,
    modelLoaderImage,
    pipelineImages,
    placeholderDigest,
    sandboxWebhookImage,
} from "./constants/images";
import { planBaseline } from "./k8s/baseline/plan";
import { clusterCalicoMode } from "./k8s/network/render-calico";

/** One image of the stack. */
export interface ManifestImage {
    /** Where it is set: a stack-config key (`clusters[0].tiers.guardrails.image`) or a constant. */
    readonly key: string;
    /** Registry and repository, without tag or digest. */
    readonly repository: string;
    readonly tag: string;
    readonly digest: string;
    /** `repository:tag@digest`, as the program renders it without a mirror. */
    readonly source: string;
    /** The all-zero digest of an image we build whose build is not pushed yet. */
    readonly placeholder: boolean;
    /** Clusters that run it. */
    readonly clusters: readonly string[];
    /** A Helm chart's image (modules/constants/chart-images.ts): the chart and its values paths. */
    readonly chart?: { readonly name: CatalogChart; readonly paths: readonly string[] };
    /**
     * False for images an operator starts with no image keys in its chart (the tigera-operator's
     * Calico components): they cannot be pinned or mirrored by this program.
     */
    readonly mirrorable: boolean;
}

/** One image to mirror into one region's OCIR: source digest and mirror reference. */
export interface MirrorEntry extends ManifestImage {
    /** Region of the OCIR registry (and of the signing keys of `clusters`). */
    readonly region: string;
    /** `<region>.ocir.io/<namespace>/<prefix>/<source repository>@<digest>`. */
    readonly mirrorRef: string;
    /** The OCIR repository name (path under the tenancy namespace), for the OCI CLI. */
    readonly mirrorRepository: string;
}

const ref = (i: PinnedImageLike) => `${i.repository}:${i.tag}@${i.digest}`;

type PinnedImageLike = Pick<PinnedImage, "repository" | "tag" | "digest">;

/**
 * The Helm charts a cluster installs, as the cluster layer decides (the baseline plan, the
 * observability and Calico switches), with the images each runs there: every catalogued image of
 * the chart, but the Kata GPU components only on clusters with Kata GPU pools. `uncatalogued`
 * names a chart the catalog does not describe (dcgm-exporter, whose values this repository's
 * chart data lacks).
 */
export function clusterChartImages(
    c: ClusterConfig,
    lock: ChartImageLock = defaultChartImageLock(),
): { images: ResolvedChartImage[]; uncatalogued: string[] } {
    const plan = planBaseline(c);
    const installed = new Set<CatalogChart>(["ingress-nginx"]);
    if (plan.installKataDeploy) installed.add("kata-deploy");
    if (plan.installGpuOperator) installed.add("gpu-operator");
    if (plan.installExternalSecrets) installed.add("external-secrets");
    if (plan.installCertManager) installed.add("cert-manager");
    if (c.layer.observability.enabled) installed.add("kube-prometheus-stack");
    if (clusterCalicoMode(c) === "operator") installed.add("tigera-operator");
    const images = chartImageCatalog
        .filter((i) => installed.has(i.chart))
        .filter((i) => i.only !== "kataGpu" || c.capabilities.kataGpu)
        .map((i) => resolveChartImage(i, lock));
    return { images, uncatalogued: plan.installDcgmExporter ? ["dcgm-exporter"] : [] };
}

/**
 * The images the stack's clusters run, deduplicated by source reference: the enabled tiers'
 * images (stack config, with their overrides), the egress proxy (engine `proxy`), the decision-log
 * metrics sidecar, the Kubeflow images when Kubeflow is enabled, and the images of the Helm charts
 * each cluster installs (`clusterChartImages`; digests from the chart or the lock `lock`).
 */
export function stackImages(
    cfg: PlatformConfig,
    lock: ChartImageLock = defaultChartImageLock(),
): ManifestImage[] {
    const byRef = new Map<
        string,
        {
            key: string;
            image: PinnedImageLike;
            clusters: string[];
            chart?: { name: CatalogChart; paths: string[] };
            mirrorable: boolean;
        }
    >();
    const add = (
        key: string,
        image: PinnedImageLike,
        cluster: string,
        chart?: { name: CatalogChart; path: string },
        mirrorable = true,
    ) => {
        const r = ref(image);
        const seen = byRef.get(r);
        if (seen === undefined) {
            byRef.set(r, {
                key,
                image,
                clusters: [cluster],
                chart: chart && { name: chart.name, paths: [chart.path] },
                mirrorable,
            });
            return;
        }
        if (!seen.clusters.includes(cluster)) seen.clusters.push(cluster);
        if (chart && seen.chart && !seen.chart.paths.includes(chart.path)) {
            seen.chart.paths.push(chart.path);
        }
    };
    const constant = (name: string) => `modules/constants/images.ts ${name}`;
    cfg.clusters.forEach((c, i) => {
        const t = c.layer.tiers;
        const k = (s: string) => `clusters[${i}].tiers.${s}`;
        if (t.gateway.enabled) add(k("gateway.image"), t.gateway.image, c.name);
        if (t.guardrails.enabled) {
            add(k("guardrails.image"), t.guardrails.image, c.name);
            if (t.guardrails.jailbreakDetection.enabled) {
                const j = t.guardrails.jailbreakDetection.image;
                add(k("guardrails.jailbreakDetection.image"), j, c.name);
            }
        }
        if (t.inference.enabled) {
            add(k("inference.image"), t.inference.image, c.name);
            add(k("inference.loaderImage"), t.inference.loaderImage, c.name);
        }
        if (t.outputFilter.enabled) {
            add(k("outputFilter.analyzerImage"), t.outputFilter.analyzerImage, c.name);
            add(k("outputFilter.anonymizerImage"), t.outputFilter.anonymizerImage, c.name);
        }
        if (c.layer.networkPolicy.engine === "proxy") {
            add(
                `clusters[${i}].networkPolicy.proxyImage`,
                c.layer.networkPolicy.proxyImage,
                c.name,
            );
        }
        add(constant("images.fluentBit"), parseRef(directImages.fluentBit), c.name);
        if (c.layer.kubeflow.enabled) {
            add(constant("pipelineImages.pipelineTools"), pipelineImages.pipelineTools, c.name);
            add(constant("pipelineImages.trainer"), pipelineImages.trainer, c.name);
            add(constant("modelLoaderImage"), modelLoaderImage, c.name);
            add(constant("sandboxWebhookImage"), sandboxWebhookImage, c.name);
        }
        if (clusterCalicoMode(c) === "policy-only") {
            // The authored install's upstream images: digests from the lock, like chart images.
            for (const img of Object.values(calicoImages)) {
                const locked = lockedImage(img, lock);
                add(`${chartImageLockFile} ${lockKey(img)}`, locked, c.name);
            }
        }
        for (const ci of clusterChartImages(c, lock).images) {
            add(
                ci.layout === "operator"
                    ? `modules/constants/chart-images.ts ${ci.chart} ${ci.path}`
                    : `${chartImageLockFile} ${lockKey(ci)}`,
                ci,
                c.name,
                { name: ci.chart, path: ci.path },
                ci.layout !== "operator",
            );
        }
    });
    return [...byRef.entries()].map(([source, { key, image, clusters, chart, mirrorable }]) => ({
        key,
        repository: image.repository,
        tag: image.tag,
        digest: image.digest,
        source,
        placeholder: image.digest === placeholderDigest,
        clusters,
        ...(chart ? { chart } : {}),
        mirrorable,
    }));
}

/** Splits `repository:tag@sha256:…`. */
export function parseRef(r: string): PinnedImageLike {
    const m = /^(.+?):([^:/@]+)@(sha256:[0-9a-f]{64})$/.exec(r);
    if (m === null) {
        throw new Error(`image ${r} is not repository:tag@sha256:<digest>`);
    }
    return { repository: m[1]!, tag: m[2]!, digest: m[3]! };
}

/**
 * The OCIR registry a cluster pulls its mirrors from: its own region's for an OKE cluster (the
 * signature must be made with a key of the registry's region — `oci artifacts container
 * image-signature sign-upload` builds the KMS and OCIR clients for one region — and each cluster
 * verifies with its own key), the home region's for an existing cluster.
 */
export function mirrorRegistry(
    cfg: PlatformConfig,
    clusterName: string,
): { region: string; prefix: string } | undefined {
    const c = cfg.clusters.find((x) => x.name === clusterName);
    const region = c?.target === "oke" ? c.region : cfg.homeRegion;
    if (cfg.images.mirror === undefined || region === undefined) {
        return undefined;
    }
    return { region, prefix: `${region}.ocir.io/${cfg.images.mirror}` };
}

/**
 * Mirror reference of an image: the source repository (registry host included, so images of two
 * registries never collide) under the mirror prefix, pinned by the same digest — a digest copy
 * (`skopeo copy --all`) keeps the manifest bytes, so the digest stays the source's.
 */
export function mirrorRefOf(
    image: PinnedImageLike,
    prefix: string,
): { mirrorRef: string; mirrorRepository: string } {
    const repoPath = `${prefix}/${image.repository}`;
    // <region>.ocir.io/<namespace>/<repository name>
    const mirrorRepository = repoPath.split("/").slice(2).join("/");
    return { mirrorRef: `${repoPath}@${image.digest}`, mirrorRepository };
}

/**
 * The mirror manifest of a stack: what `npm run images:mirror` copies and signs, per region.
 * Images that cannot be mirrored (`mirrorable` false) are not in it.
 */
export function mirrorManifest(
    cfg: PlatformConfig,
    lock: ChartImageLock = defaultChartImageLock(),
): MirrorEntry[] {
    const out: MirrorEntry[] = [];
    for (const image of stackImages(cfg, lock).filter((i) => i.mirrorable)) {
        const byRegion = new Map<string, { prefix: string; clusters: string[] }>();
        for (const cluster of image.clusters) {
            const reg = mirrorRegistry(cfg, cluster);
            if (reg === undefined) continue;
            const seen = byRegion.get(reg.region) ?? { prefix: reg.prefix, clusters: [] };
            seen.clusters.push(cluster);
            byRegion.set(reg.region, seen);
        }
        for (const [region, { prefix, clusters }] of byRegion) {
            out.push({ ...image, clusters, region, ...mirrorRefOf(image, prefix) });
        }
    }
    return out;
}

/**
 * Why a prod stack cannot run only verified images, as config issues (exit 2, before any
 * resource), each naming one concrete image: no mirror configured; one of our images, or a Helm
 * chart's, still at the placeholder digest (a chart image's digest goes into the lock, see
 * modules/constants/chart-images.ts); an image an operator starts that cannot be pinned; a chart
 * whose images are not catalogued.
 */
export function imageIssues(
    cfg: PlatformConfig,
    lock: ChartImageLock = defaultChartImageLock(),
): ConfigIssue[] {
    if (cfg.environment !== "prod") {
        return [];
    }
    const p = (key: string) => `${cfg.project}:${key}`;
    const issues: ConfigIssue[] = [];
    if (cfg.images.mirror === undefined) {
        issues.push({
            path: p("images.mirror"),
            value: undefined,
            expected:
                "<tenancy-namespace>/<prefix> of the OCIR mirrors (<region>.ocir.io/<tenancy-namespace>/<prefix>): prod runs only mirrored, signed images; run npm run images:mirror",
        });
    }
    for (const i of stackImages(cfg, lock)) {
        if (!i.mirrorable) {
            issues.push({
                path: i.key,
                value: `${i.repository}:${i.tag}`,
                expected: `an image pinned by digest and mirrored: the ${i.chart?.name} chart's operator starts it by tag from its upstream registry (no image keys in the chart; a digest needs an ImageSet this install does not render), so OKE's image verification would refuse it`,
            });
        } else if (i.placeholder) {
            issues.push(
                i.key.startsWith(chartImageLockFile)
                    ? {
                          path: i.key,
                          value: `${i.repository}:${i.tag}`,
                          expected: `its digest (${i.chart !== undefined ? `chart ${i.chart.name}, values ${i.chart.paths.join(", ")}` : "an upstream image our manifests run"}): run npm run images:mirror -- --stack ${cfg.stack} --write-lock (skopeo inspect resolves the tag), review and commit ${chartImageLockFile}`,
                      }
                    : {
                          path: i.key.startsWith("clusters[") ? p(`${i.key}.digest`) : i.key,
                          value: i.source,
                          expected:
                              "the digest of the pushed build (the all-zero digest is the placeholder of an image not built yet)",
                      },
            );
        }
    }
    cfg.clusters.forEach((c, n) => {
        for (const chart of clusterChartImages(c, lock).uncatalogued) {
            issues.push({
                path: p(`clusters[${n}].baseline.gpu.devicePluginOwner`),
                value: c.layer.baseline.gpu.devicePluginOwner,
                expected: `a cluster whose charts' images are all catalogued: the ${chart} chart (installed with the OKE device plugin add-on) is not in modules/constants/chart-images.ts, so its images are neither pinned nor mirrored`,
            });
        }
    });
    return issues;
}

/**
 * What the program does with images a deploy could not verify. `refuse` (the default, every
 * `pulumi up`): throw before any resource. `report`: the offline plan, a review tool that runs the
 * program in-process, renders the whole stack and lists the issues as deploy blockers instead
 * (verdict "blocked"); `npm run deploy` checks `imageIssues` again before it starts anything.
 */
export const imageGate: { mode: "refuse" | "report"; blocked: ConfigIssue[] } = {
    mode: "refuse",
    blocked: [],
};

/** Throws the issues of `imageIssues` (the program calls it right after loading its config). */
export function assertVerifiableImages(cfg: PlatformConfig): void {
    const issues = imageIssues(cfg);
    if (issues.length === 0) return;
    if (imageGate.mode === "report") {
        imageGate.blocked.push(...issues);
        return;
    }
    throw new ConfigValidationError(issues);
}

/**
 * Replaces every source reference of `manifest` by its mirror in a value (strings anywhere:
 * container images, init containers, pipeline specs rendered into ConfigMaps).
 */
export function rewriteImages(value: unknown, manifest: readonly MirrorEntry[]): unknown {
    if (typeof value === "string") {
        let s = value;
        for (const e of manifest) {
            if (s.includes(e.source)) s = s.split(e.source).join(e.mirrorRef);
        }
        return s;
    }
    if (pulumi.Output.isInstance(value)) {
        return (value as pulumi.Output<unknown>).apply((v) => rewriteImages(v, manifest));
    }
    if (Array.isArray(value)) {
        return value.map((v) => rewriteImages(v, manifest));
    }
    if (value !== null && typeof value === "object" && !(value instanceof Promise)) {
        if (pulumi.Resource.isInstance(value) || pulumi.asset.Asset.isInstance(value)) {
            return value;
        }
        return Object.fromEntries(
            Object.entries(value as Record<string, unknown>).map(([k, v]) => [
                k,
                rewriteImages(v, manifest),
            ]),
        );
    }
    return value;
}

/** The catalogued chart of a Helm release's `chart` input (`oci://…/kata-deploy` → kata-deploy). */
function catalogChartOf(chart: unknown): CatalogChart | undefined {
    const name = typeof chart === "string" ? chart.split("/").pop() : undefined;
    return chartImageCatalog.find((i) => i.chart === name)?.chart;
}

/**
 * Points a Helm release's image keys at the mirrors: each catalogued image of its chart whose
 * source reference is in `manifest` gets the chart's keys for `<mirror repository>:<tag>@<digest>`
 * (the same `chartImageValues` the values builders use with the sources).
 */
export function rewriteChartValues(
    chart: CatalogChart,
    values: Readonly<Record<string, unknown>>,
    manifest: readonly MirrorEntry[],
    lock: ChartImageLock = defaultChartImageLock(),
): Record<string, unknown> {
    const bySource = new Map(manifest.map((e) => [e.source, e]));
    return chartImageValues(
        chart,
        (i) => {
            const e = bySource.get(ref(i));
            return e === undefined
                ? sourceRef(i)
                : { repository: e.mirrorRef.split("@")[0]!, tag: i.tag, digest: i.digest };
        },
        lock,
        values,
    );
}

/**
 * A transformation that points every Kubernetes object below the resource it is given to at the
 * mirrors (one mechanism for every image the program renders: reference strings in objects, and
 * the image keys of Helm releases' values), or none when `images.mirror` is unset. Given to each
 * cluster layer (its own region's mirrors), whose children inherit it.
 */
export function mirrorTransformation(
    cfg: PlatformConfig,
    clusterName: string,
): pulumi.ResourceTransformation[] {
    const lock = defaultChartImageLock();
    const manifest = mirrorManifest(cfg, lock).filter((e) => e.clusters.includes(clusterName));
    if (manifest.length === 0) {
        return [];
    }
    return [
        (args) => {
            if (!args.type.startsWith("kubernetes:")) return undefined;
            // Reference strings first, then a release's image keys set whole: the other order
            // would rewrite the source reference inside a mirror reference again.
            let props = rewriteImages(args.props, manifest) as pulumi.Inputs;
            const chart =
                args.type === "kubernetes:helm.sh/v3:Release"
                    ? catalogChartOf(props.chart)
                    : undefined;
            if (chart !== undefined && typeof props.values === "object" && props.values !== null) {
                props = {
                    ...props,
                    values: rewriteChartValues(chart, props.values, manifest, lock),
                };
            }
            return { props, opts: args.opts };
        },
    ];
}
