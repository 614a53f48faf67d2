/**
 * Shared by the chart suites: the pinned charts' data (values, schemas, CRDs) read from the charts
 * folder, and every Helm release and custom resource the cluster layer declares for each cluster of
 * each stack, recorded once per process under the mocks.
 */
import * as fs from "fs";
import * as path from "path";
import { parseAllDocuments, parse as parseYaml } from "yaml";
import { ClusterConfig, parseConfig } from "../../modules/config";
import { isKubernetesObject, toManifest } from "../../tools/plan/manifests";
import {
    RecordedResource,
    recordedResources,
    resetRecords,
    settle,
    unwrapSecrets,
} from "../../tools/plan/mocks";
import { chartsDir } from "../real/support/env";
import { readStackConfig } from "../../tools/plan/stackfile";
import { fakeCloud, repoRoot, stackRaw } from "../support/stacks";
import { withSubcharts } from "./values";

/** The charts folder, or an error that says how to provide it (CI always lays it beside the repo). */
export function requireChartsDir(): string {
    const dir = chartsDir();
    if (!fs.existsSync(path.join(dir, "crds"))) {
        throw new Error(
            `the pinned charts' data is missing: ${dir} has no crds/ folder; set SLP_CHARTS_DIR to the ` +
                "folder holding <chart>-<version>/values.yaml and crds/ (default: ../shared/charts beside the repository)",
        );
    }
    return dir;
}

/** What the charts folder holds for one pinned chart. */
export interface ChartData {
    /** `<chart>-<version>`. */
    readonly id: string;
    readonly values: Record<string, unknown>;
    readonly schema?: Record<string, unknown>;
}

/** Folder name of a chart pin: the chart's last path segment (OCI refs too) and its version. */
export function chartId(chart: string, version: string): string {
    return `${chart.split("/").pop()}-${version}`;
}

const chartCache = new Map<string, ChartData | undefined>();

/** The data of a pinned chart, or undefined when the charts folder has none for it. */
export function chartData(id: string): ChartData | undefined {
    if (chartCache.has(id)) return chartCache.get(id);
    const dir = path.join(requireChartsDir(), id);
    let data: ChartData | undefined;
    if (fs.existsSync(path.join(dir, "values.yaml"))) {
        const schemaFile = path.join(dir, "values.schema.json");
        data = {
            id,
            values: (parseYaml(fs.readFileSync(path.join(dir, "values.yaml"), "utf8")) ??
                {}) as Record<string, unknown>,
            schema: fs.existsSync(schemaFile)
                ? (JSON.parse(fs.readFileSync(schemaFile, "utf8")) as Record<string, unknown>)
                : undefined,
        };
    }
    chartCache.set(id, data);
    return data;
}

/** Subcharts whose defaults sit under a key of the parent chart (Chart.yaml `dependencies`). */
export const subcharts: Readonly<Record<string, Readonly<Record<string, string>>>> = {
    "kube-prometheus-stack-82.16.0": {
        grafana: "grafana-11.3.6",
        "kube-state-metrics": "kube-state-metrics-7.2.2",
        "prometheus-node-exporter": "prometheus-node-exporter-4.52.2",
    },
};

/** A chart's default values with its subcharts' defaults under their keys. */
export function defaultsOf(chart: ChartData): Record<string, unknown> {
    const subs = subcharts[chart.id] ?? {};
    return withSubcharts(
        chart.values,
        Object.fromEntries(
            Object.entries(subs).map(([key, id]) => {
                const sub = chartData(id);
                if (sub === undefined) throw new Error(`no data for subchart ${id} of ${chart.id}`);
                return [key, sub.values];
            }),
        ),
    );
}

/** `appVersion` of a chart's Chart.yaml (undefined when the folder has none). */
export function chartAppVersion(id: string): string | undefined {
    const file = path.join(requireChartsDir(), id, "Chart.yaml");
    if (!fs.existsSync(file)) return undefined;
    const doc = parseYaml(fs.readFileSync(file, "utf8")) as { appVersion?: unknown };
    return doc.appVersion === undefined ? undefined : String(doc.appVersion);
}

/** One served version of a CRD. */
export interface CrdVersion {
    readonly group: string;
    readonly version: string;
    readonly kind: string;
    readonly scope: "Namespaced" | "Cluster";
    readonly schema: Record<string, unknown>;
    /** File it came from, for messages. */
    readonly file: string;
}

const crdCache = new Map<string, CrdVersion | undefined>();
let crdFiles: { file: string; text: string }[] | undefined;

/**
 * The CRD version `<group>/<version>/<Kind>` from `crds/*.yaml`, or undefined when the folder has
 * none. Only files that name the group and kind are parsed (the folder holds megabytes of YAML).
 */
export function crd(key: string): CrdVersion | undefined {
    if (crdCache.has(key)) return crdCache.get(key);
    const [group, version, kind] = key.split("/");
    const dir = path.join(requireChartsDir(), "crds");
    crdFiles ??= fs
        .readdirSync(dir)
        .filter((x) => /\.ya?ml$/.test(x))
        .map((file) => ({ file, text: fs.readFileSync(path.join(dir, file), "utf8") }));
    let found: CrdVersion | undefined;
    const named = (t: string) =>
        new RegExp(`^\\s+group: ${group.replace(/\./g, "\\.")}\\s*$`, "m").test(t) &&
        new RegExp(`^\\s+kind: ${kind}\\s*$`, "m").test(t);
    for (const { file, text } of crdFiles.filter((f) => named(f.text))) {
        for (const doc of parseAllDocuments(text)) {
            const o = doc.toJS() as Record<string, any> | null;
            if (
                o?.kind !== "CustomResourceDefinition" ||
                o.spec.group !== group ||
                o.spec.names.kind !== kind
            ) {
                continue;
            }
            const v = (o.spec.versions ?? []).find((x: any) => x.name === version);
            if (v?.schema?.openAPIV3Schema !== undefined) {
                found = {
                    group,
                    version,
                    kind,
                    scope: o.spec.scope,
                    schema: v.schema.openAPIV3Schema,
                    file,
                };
            }
        }
    }
    crdCache.set(key, found);
    return found;
}

/** A Helm release as a cluster declares it. */
export interface DeclaredRelease {
    readonly stack: string;
    readonly cluster: string;
    readonly target: "oke" | "existing";
    /** Pulumi resource name. */
    readonly resource: string;
    readonly releaseName: string;
    readonly chart: string;
    readonly version: string;
    readonly namespace: string;
    readonly values: Record<string, unknown>;
}

/** A Kubernetes object a cluster declares directly. */
export interface DeclaredObject {
    readonly stack: string;
    readonly cluster: string;
    readonly object: Record<string, any>;
}

/** Every release and object of every cluster of every stack. */
export interface Declared {
    readonly releases: readonly DeclaredRelease[];
    readonly objects: readonly DeclaredObject[];
    /** Validated cluster configs, keyed `<stack>/<cluster>`. */
    readonly clusters: ReadonlyMap<string, ClusterConfig>;
}

/** The stacks of the repository (`Pulumi.<stack>.yaml`). */
export function stackNames(): string[] {
    return fs
        .readdirSync(repoRoot)
        .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
        .filter((s): s is string => s !== undefined)
        .sort();
}

let declared: Promise<Declared> | undefined;

/**
 * Declares the cluster layer of every cluster of every stack under the mocks (OKE clusters get
 * fake cloud ids) and records its Helm releases and Kubernetes objects.
 */
export function declaredByStacks(): Promise<Declared> {
    declared ??= (async () => {
        const { ClusterPlatform } = await import("../../modules/k8s");
        const releases: DeclaredRelease[] = [];
        const objects: DeclaredObject[] = [];
        const clusters = new Map<string, ClusterConfig>();
        for (const stack of stackNames()) {
            resetRecords();
            const cfg = parseConfig(stackRaw(stack), {
                stack,
                secretKeys: readStackConfig(repoRoot, stack).secretKeys,
            });
            const prefix = (c: string) => `charts-${stack}-${c}`;
            for (const c of cfg.clusters) {
                clusters.set(`${stack}/${c.name}`, c);
                new ClusterPlatform(prefix(c.name), {
                    cluster: c,
                    environment: cfg.environment,
                    cloud: c.target === "oke" ? fakeCloud(c.region) : undefined,
                    // A caller of remote inference (issue 16) gets its serving cluster's vault.
                    remoteInference: c.layer.tiers.guardrails.inferenceFrom
                        ? { vaultId: fakeCloud(c.region).vaultId, region: c.region }
                        : undefined,
                });
            }
            await settle();
            const all: readonly RecordedResource[] = recordedResources();
            for (const c of cfg.clusters) {
                const mine = all.filter((r) => r.name.startsWith(`${prefix(c.name)}-`));
                for (const r of mine) {
                    if (r.type === "kubernetes:helm.sh/v3:Release") {
                        const i = r.inputs as Record<string, any>;
                        releases.push({
                            stack,
                            cluster: c.name,
                            target: c.target,
                            resource: r.name,
                            releaseName: i.name,
                            chart: i.chart,
                            version: i.version,
                            namespace: i.namespace,
                            values: unwrapSecrets(i.values ?? {}) as Record<string, unknown>,
                        });
                    } else if (isKubernetesObject(r)) {
                        objects.push({
                            stack,
                            cluster: c.name,
                            object: unwrapSecrets(toManifest(r)) as Record<string, any>,
                        });
                    }
                }
            }
        }
        resetRecords();
        return { releases, objects, clusters };
    })();
    return declared;
}
