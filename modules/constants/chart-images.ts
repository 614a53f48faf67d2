/**
 * Every image the pinned Helm charts run with our values: the charts' half of the image catalog
 * (our own images are in ./images.ts). One entry per values location the chart reads an image
 * from; repository and tag are the chart's defaults at the pinned version (test/images/
 * chart-catalog.test.ts reads each chart's values.yaml and fails on a missing image or a
 * different tag). Digests come from the chart itself where its values.yaml pins one, else from
 * the committed lock `images/chart-images.lock.json`, which `npm run images:mirror -- --write-lock`
 * fills by asking the registries (`skopeo inspect`); until then an image's digest is the
 * placeholder, prod refuses it (modules/images.ts) and the chart pulls it by tag.
 *
 * How a chart composes an image reference from its keys differs per chart (`ImageLayout`), read
 * from the chart's templates at the release of the pinned chart version (modules/constants/charts.ts):
 * - cert-manager `templates/_helpers.tpl` `image`: `registry/` when set, `repository`, then
 *   `@digest` when set, else `:tag`;
 * - external-secrets `templates/_helpers.tpl` `external-secrets.image`: `repository:tag`
 *   (`-flavour` appended when set); node-feature-discovery v0.17.2 (gpu-operator's subchart)
 *   `templates/master.yaml`: `repository:tag`;
 * - ingress-nginx `templates/controller-deployment.yaml`, `admission-webhooks/job-patch/*.yaml`:
 *   `repository` (else `registry/image`), `:tag`, `@digest` when set;
 * - kube-prometheus-stack and grafana: `registry/repository:tag@sha256:<sha>` when `sha` is set
 *   (`sha` is the bare hex); kube-state-metrics `_helpers.tpl` `kube-state-metrics.image`:
 *   `registry/repository:tag@<sha>` (`sha` with its `sha256:`); prometheus-node-exporter
 *   `_helpers.tpl`: `registry/repository:tag@<digest>` (`sha` is refused);
 * - kata-deploy `templates/_helpers.tpl` `kata-deploy.image` / `kata-deploy.kubectlImage`:
 *   `reference` as-is when it contains `@`, else `reference:tag`;
 * - gpu-operator `templates/_helpers.tpl` `gpu-operator.fullimage` (the operator) and the
 *   operator's `internal/image/image.go` `ImagePath` (ClusterPolicy operands):
 *   `repository/image:version` (`@version` when the version starts with `sha256:`);
 * - tigera-operator `templates/_helpers.tpl` `tigera-operator.image`: `registry/image:version`.
 * Where a chart has no digest key, the digest rides in the tag (`tag@sha256:…`), which yields
 * the valid reference `repository:tag@sha256:…`.
 */
import * as fs from "fs";
import * as path from "path";
import { patterns } from "../config/validate";
import { placeholderDigest } from "./images";

/** How the chart's keys at an image's values path make its reference (see the file comment). */
export type ImageLayout =
    /** `{ repository, tag, digest }` (cert-manager, ingress-nginx). */
    | "repository-tag-digest"
    /** `{ repository, tag: "<tag>@<digest>" }` (external-secrets, node-feature-discovery). */
    | "repository-tag@digest"
    /** `{ registry, repository, tag, sha: "<hex>" }` (kube-prometheus-stack, grafana). */
    | "registry-repository-tag-sha"
    /** `{ registry, repository, tag, sha: "sha256:<hex>" }` (kube-state-metrics). */
    | "registry-repository-tag-shadigest"
    /** `{ registry, repository, tag, digest }` (prometheus-node-exporter). */
    | "registry-repository-tag-digest"
    /** `{ reference: "<repository>:<tag>@<digest>", tag }` (kata-deploy). */
    | "reference"
    /** `{ repository: <dir>, image: <name>, version: "<tag>@<digest>" }` (gpu-operator). */
    | "repository-image-version"
    /** `{ registry, image: <path>, version: "<tag>@<digest>" }` (tigera-operator). */
    | "registry-image-version"
    /**
     * Started by an operator that takes no image keys from the chart (the tigera-operator's
     * Calico components: registry and tag are compiled into the operator, digests only through an
     * `ImageSet` resource this install does not render). Cannot be pinned or mirrored here.
     */
    | "operator";

/** Charts whose images are catalogued, by the last segment of their pinned chart name. */
export type CatalogChart =
    | "cert-manager"
    | "external-secrets"
    | "ingress-nginx"
    | "kube-prometheus-stack"
    | "kata-deploy"
    | "gpu-operator"
    | "tigera-operator";

/** One image a chart runs, where its values set it. */
export interface ChartImage {
    readonly chart: CatalogChart;
    /** Values path of the image's keys (subcharts under their key: `grafana.image`). */
    readonly path: string;
    readonly layout: ImageLayout;
    /** Registry and repository, without tag or digest. */
    readonly repository: string;
    /** The chart's default tag (its appVersion where the chart leaves the tag empty). */
    readonly tag: string;
    /** The digest the chart's own values.yaml pins for this tag, where it pins one. */
    readonly chartDigest?: string;
    /** The pods that run it. */
    readonly runs: string;
    /** Installed only under this condition of the cluster (the chart's key that enables it). */
    readonly only?: "kataGpu";
}

const img = (
    chart: CatalogChart,
    path: string,
    layout: ImageLayout,
    repository: string,
    tag: string,
    runs: string,
    extra: Partial<Pick<ChartImage, "chartDigest" | "only">> = {},
): ChartImage => ({ chart, path, layout, repository, tag, runs, ...extra });

/** The chart images, in chart order. Tags are the pinned charts' defaults. */
export const chartImageCatalog: readonly ChartImage[] = [
    // cert-manager v1.18.2 (appVersion v1.18.2).
    ...(
        [
            ["image", "controller", "the controller"],
            ["webhook.image", "webhook", "the webhook"],
            ["cainjector.image", "cainjector", "the CA injector"],
            ["startupapicheck.image", "startupapicheck", "the post-install startup check Job"],
            ["acmesolver.image", "acmesolver", "ACME HTTP-01 solver pods the controller starts"],
        ] as const
    ).map(([p, name, runs]) =>
        img(
            "cert-manager",
            p,
            "repository-tag-digest",
            `quay.io/jetstack/cert-manager-${name}`,
            "v1.18.2",
            runs,
        ),
    ),
    // external-secrets 0.19.2 (appVersion v0.19.2): one image, three components.
    ...(
        [
            ["image", "the controller"],
            ["webhook.image", "the webhook"],
            ["certController.image", "the cert controller"],
        ] as const
    ).map(([p, runs]) =>
        img(
            "external-secrets",
            p,
            "repository-tag@digest",
            "oci.external-secrets.io/external-secrets/external-secrets",
            "v0.19.2",
            runs,
        ),
    ),
    // ingress-nginx 4.14.1: the chart pins both digests.
    img(
        "ingress-nginx",
        "controller.image",
        "repository-tag-digest",
        "registry.k8s.io/ingress-nginx/controller",
        "v1.14.1",
        "the controller",
        {
            chartDigest: "sha256:f95a79b85fb93ac3de752c71a5c27d5ceae10a18b61904dec224c1c6a4581e47",
        },
    ),
    img(
        "ingress-nginx",
        "controller.admissionWebhooks.patch.image",
        "repository-tag-digest",
        "registry.k8s.io/ingress-nginx/kube-webhook-certgen",
        "v1.6.5",
        "the admission-create and admission-patch Jobs",
        {
            chartDigest: "sha256:03a00eb0e255e8a25fa49926c24cde0f7e12e8d072c445cdf5136ec78b546285",
        },
    ),
    // kube-prometheus-stack 82.16.0 (appVersion v0.89.0) and its subcharts.
    img(
        "kube-prometheus-stack",
        "prometheusOperator.image",
        "registry-repository-tag-sha",
        "quay.io/prometheus-operator/prometheus-operator",
        "v0.89.0",
        "the Prometheus operator",
    ),
    img(
        "kube-prometheus-stack",
        "prometheusOperator.prometheusConfigReloader.image",
        "registry-repository-tag-sha",
        "quay.io/prometheus-operator/prometheus-config-reloader",
        "v0.89.0",
        "the config-reloader sidecars of Prometheus and Alertmanager",
    ),
    img(
        "kube-prometheus-stack",
        "prometheusOperator.admissionWebhooks.patch.image",
        "registry-repository-tag-sha",
        "ghcr.io/jkroepke/kube-webhook-certgen",
        "1.8.0",
        "the admission-create and admission-patch Jobs",
    ),
    img(
        "kube-prometheus-stack",
        "prometheus.prometheusSpec.image",
        "registry-repository-tag-sha",
        "quay.io/prometheus/prometheus",
        "v3.10.0",
        "Prometheus (the operator's StatefulSet)",
    ),
    img(
        "kube-prometheus-stack",
        "alertmanager.alertmanagerSpec.image",
        "registry-repository-tag-sha",
        "quay.io/prometheus/alertmanager",
        "v0.31.1",
        "Alertmanager (the operator's StatefulSet)",
    ),
    img(
        "kube-prometheus-stack",
        "grafana.image",
        "registry-repository-tag-sha",
        "docker.io/grafana/grafana",
        "12.4.2",
        "Grafana (subchart grafana 11.3.6)",
    ),
    img(
        "kube-prometheus-stack",
        "grafana.sidecar.image",
        "registry-repository-tag-sha",
        "quay.io/kiwigrid/k8s-sidecar",
        "2.5.0",
        "Grafana's dashboard sidecar",
    ),
    img(
        "kube-prometheus-stack",
        "kube-state-metrics.image",
        "registry-repository-tag-shadigest",
        "registry.k8s.io/kube-state-metrics/kube-state-metrics",
        "v2.18.0",
        "kube-state-metrics (subchart 7.2.2)",
    ),
    img(
        "kube-prometheus-stack",
        "prometheus-node-exporter.image",
        "registry-repository-tag-digest",
        "quay.io/prometheus/node-exporter",
        "v1.10.2",
        "the node exporter DaemonSet (subchart prometheus-node-exporter 4.52.2)",
    ),
    // kata-deploy 3.29.0. The kubectl image of the cleanup (post-delete) Job is published only
    // under moving tags (latest, a date, the kubectl version: kata-containers
    // .github/workflows/build-kubectl-image.yaml): the lock's digest is what pins it.
    img(
        "kata-deploy",
        "image",
        "reference",
        "quay.io/kata-containers/kata-deploy",
        "3.29.0",
        "the kata-deploy DaemonSet",
    ),
    img(
        "kata-deploy",
        "kubectlImage",
        "reference",
        "quay.io/kata-containers/kubectl",
        "latest",
        "the kata-deploy-rb-cleanup post-delete Job",
    ),
    // gpu-operator v25.3.0 (appVersion v25.3.0): the operator and the ClusterPolicy operands our
    // values enable (driver, toolkit, DCGM, vGPU, Kata and CC managers are off).
    ...(
        [
            [
                "operator",
                "nvcr.io/nvidia",
                "gpu-operator",
                "v25.3.0",
                "the operator and its CRD Jobs",
            ],
            [
                "operator.initContainer",
                "nvcr.io/nvidia",
                "cuda",
                "12.8.1-base-ubi9",
                "init containers of the operands",
            ],
            [
                "validator",
                "nvcr.io/nvidia/cloud-native",
                "gpu-operator-validator",
                "v25.3.0",
                "the operator validator",
            ],
            ["devicePlugin", "nvcr.io/nvidia", "k8s-device-plugin", "v0.17.1", "the device plugin"],
            [
                "dcgmExporter",
                "nvcr.io/nvidia/k8s",
                "dcgm-exporter",
                "4.1.1-4.0.4-ubuntu22.04",
                "the DCGM exporter",
            ],
            ["gfd", "nvcr.io/nvidia", "k8s-device-plugin", "v0.17.1", "GPU feature discovery"],
            [
                "migManager",
                "nvcr.io/nvidia/cloud-native",
                "k8s-mig-manager",
                "v0.12.1-ubuntu20.04",
                "the MIG manager",
            ],
        ] as const
    ).map(([p, dir, name, tag, runs]) =>
        img("gpu-operator", p, "repository-image-version", `${dir}/${name}`, tag, runs),
    ),
    ...(
        [
            [
                "sandboxDevicePlugin",
                "nvcr.io/nvidia",
                "kubevirt-gpu-device-plugin",
                "v1.3.1",
                "the sandbox (VFIO) device plugin",
            ],
            ["vfioManager", "nvcr.io/nvidia", "cuda", "12.8.1-base-ubi9", "the VFIO manager"],
            [
                "vfioManager.driverManager",
                "nvcr.io/nvidia/cloud-native",
                "k8s-driver-manager",
                "v0.8.0",
                "the VFIO manager's driver manager",
            ],
        ] as const
    ).map(([p, dir, name, tag, runs]) =>
        img("gpu-operator", p, "repository-image-version", `${dir}/${name}`, tag, runs, {
            only: "kataGpu",
        }),
    ),
    img(
        "gpu-operator",
        "node-feature-discovery.image",
        "repository-tag@digest",
        "registry.k8s.io/nfd/node-feature-discovery",
        "v0.17.2",
        "node feature discovery (subchart node-feature-discovery v0.17.2)",
    ),
    // tigera-operator v3.31.5: the operator (chart values), then the Calico components it starts.
    img(
        "tigera-operator",
        "tigeraOperator",
        "registry-image-version",
        "quay.io/tigera/operator",
        "v1.40.8",
        "the tigera-operator and its pre-delete uninstall Job",
    ),
    // tigera/operator v1.40.8 pkg/components/calico.go (registry quay.io/, tag v3.31.5); the CSI
    // driver is off (installation.kubeletVolumePluginPath None), the API server, Goldmane and
    // Whisker are off by our values.
    ...["node", "cni", "kube-controllers", "typha", "pod2daemon-flexvol"].map((name) =>
        img(
            "tigera-operator",
            `(operator) calico/${name}`,
            "operator",
            `quay.io/calico/${name}`,
            "v3.31.5",
            `calico-${name} (started by the operator from the Installation)`,
        ),
    ),
];

/** `repository:tag` → digest, as `npm run images:mirror -- --write-lock` resolved them. */
export type ChartImageLock = Readonly<Record<string, string>>;

/** The committed lock file (repository root relative). */
export const chartImageLockFile = "images/chart-images.lock.json";

/** Key of an image in the lock. */
export const lockKey = (i: Pick<ChartImage, "repository" | "tag">): string =>
    `${i.repository}:${i.tag}`;

/** Reads a lock file: `{ "images": { "<repository>:<tag>": "sha256:<hex>" } }`. */
export function readChartImageLock(file: string): ChartImageLock {
    const doc = JSON.parse(fs.readFileSync(file, "utf8")) as { images?: Record<string, string> };
    const images = doc.images ?? {};
    for (const [k, d] of Object.entries(images)) {
        if (!patterns.imageDigest.pattern.test(d)) {
            throw new Error(`${file}: ${k} has digest ${d}, expected sha256:<64 hex>`);
        }
    }
    return images;
}

/**
 * The lock the program uses: `SLP_CHART_IMAGE_LOCK` (a lock file to try before committing it, and
 * the tests' fixture lock) or the committed one.
 */
export function defaultChartImageLock(): ChartImageLock {
    const file =
        process.env.SLP_CHART_IMAGE_LOCK ?? path.resolve(__dirname, "..", "..", chartImageLockFile);
    const mtime = fs.statSync(file).mtimeMs;
    const seen = lockCache.get(file);
    if (seen !== undefined && seen.mtime === mtime) return seen.lock;
    const lock = readChartImageLock(file);
    lockCache.set(file, { mtime, lock });
    return lock;
}

const lockCache = new Map<string, { mtime: number; lock: ChartImageLock }>();

/** Where a chart image's digest comes from. */
export type ChartDigestSource = "chart" | "lock" | "placeholder";

/** A chart image with its digest resolved against a lock. */
export interface ResolvedChartImage extends ChartImage {
    readonly digest: string;
    readonly digestSource: ChartDigestSource;
}

/** The digest of `i`: the chart's own, the lock's, or the placeholder. */
export function resolveChartImage(i: ChartImage, lock: ChartImageLock): ResolvedChartImage {
    if (i.chartDigest !== undefined) return { ...i, digest: i.chartDigest, digestSource: "chart" };
    const d = lock[lockKey(i)];
    return d === undefined
        ? { ...i, digest: placeholderDigest, digestSource: "placeholder" }
        : { ...i, digest: d, digestSource: "lock" };
}

/**
 * An upstream image we reference from our own manifests (not through chart keys) with its digest
 * from the lock when its constant has none: the authored Calico install runs the same
 * `quay.io/calico/*:<tag>` images the catalog lists, so `--write-lock` resolves them too.
 */
export function lockedImage<T extends { repository: string; tag: string; digest: string }>(
    image: T,
    lock: ChartImageLock,
): T {
    if (image.digest !== placeholderDigest) return image;
    const d = lock[lockKey(image)];
    return d === undefined ? image : { ...image, digest: d };
}

/** A reference to put into a chart's keys: registry and repository, tag, digest (or none). */
export interface ImageRef {
    readonly repository: string;
    readonly tag: string;
    /** Undefined: pulled by tag (no digest known yet). */
    readonly digest?: string;
}

const splitRegistry = (repository: string): [string, string] => {
    const i = repository.indexOf("/");
    return [repository.slice(0, i), repository.slice(i + 1)];
};

/** The chart keys of one image in its layout (a tree to merge at the image's values path). */
export function imageKeys(layout: ImageLayout, r: ImageRef): Record<string, string> {
    const d = r.digest;
    const tagAt = d === undefined ? r.tag : `${r.tag}@${d}`;
    switch (layout) {
        case "repository-tag-digest":
            return { repository: r.repository, tag: r.tag, ...(d ? { digest: d } : {}) };
        case "repository-tag@digest":
            return { repository: r.repository, tag: tagAt };
        case "registry-repository-tag-sha":
        case "registry-repository-tag-shadigest":
        case "registry-repository-tag-digest": {
            const [registry, repository] = splitRegistry(r.repository);
            const pin: Record<string, string> =
                d === undefined
                    ? {}
                    : layout === "registry-repository-tag-sha"
                      ? { sha: d.replace(/^sha256:/, "") }
                      : layout === "registry-repository-tag-shadigest"
                        ? { sha: d }
                        : { digest: d };
            return { registry, repository, tag: r.tag, ...pin };
        }
        case "reference":
            return {
                reference: d === undefined ? r.repository : `${r.repository}:${tagAt}`,
                tag: r.tag,
            };
        case "repository-image-version": {
            const i = r.repository.lastIndexOf("/");
            return {
                repository: r.repository.slice(0, i),
                image: r.repository.slice(i + 1),
                version: tagAt,
            };
        }
        case "registry-image-version": {
            const [registry, image] = splitRegistry(r.repository);
            return { registry, image, version: tagAt };
        }
        case "operator":
            return {};
    }
}

/** Sets `tree` at a dotted values path, copying the maps along it. */
export function mergeAt(
    values: Readonly<Record<string, unknown>>,
    dotted: string,
    tree: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
    const [head, ...rest] = dotted.split(".");
    const cur = values[head!];
    const base =
        typeof cur === "object" && cur !== null && !Array.isArray(cur)
            ? (cur as Record<string, unknown>)
            : {};
    return {
        ...values,
        [head!]: rest.length === 0 ? { ...base, ...tree } : mergeAt(base, rest.join("."), tree),
    };
}

/**
 * The image keys of every catalogued image of `chart`, each set to `refOf(image)`: what a values
 * builder merges into its values (with the source references) and what the mirror transformation
 * merges over them (with the mirrors). Operator-made images have no keys.
 */
export function chartImageValues(
    chart: CatalogChart,
    refOf: (i: ResolvedChartImage) => ImageRef,
    lock: ChartImageLock = defaultChartImageLock(),
    values: Readonly<Record<string, unknown>> = {},
): Record<string, unknown> {
    let out: Record<string, unknown> = { ...values };
    for (const i of chartImageCatalog.filter((x) => x.chart === chart && x.layout !== "operator")) {
        out = mergeAt(out, i.path, imageKeys(i.layout, refOf(resolveChartImage(i, lock))));
    }
    return out;
}

/** The source reference of a resolved chart image: by digest when known, else by tag. */
export const sourceRef = (i: ResolvedChartImage): ImageRef => ({
    repository: i.repository,
    tag: i.tag,
    digest: i.digestSource === "placeholder" ? undefined : i.digest,
});

/** A values builder's image keys for `chart`, merged into `values` (source references). */
export function withChartImages(
    chart: CatalogChart,
    values: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
    return chartImageValues(chart, sourceRef, defaultChartImageLock(), values);
}
