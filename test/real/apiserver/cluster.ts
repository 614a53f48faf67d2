/**
 * Applying what the plan renders to a real API server, the way `pulumi up` would: CRDs from the
 * charts folder and External Secrets' bundle first, then every manifest by server-side apply in
 * dependency order; then each pod template as a dry-run Pod in its namespace, so Pod Security
 * enforces on it (it only warns on templates).
 */
import * as fs from "fs";
import * as path from "path";
import { parseAllDocuments } from "yaml";
import type { KubeClient, KubeResponse } from "../support/apiserver";
import type { K8sObject } from "../support/plan";

/** The field manager of every apply: one manager, as the Kubernetes provider uses one. */
export const fieldManager = "slp-real-suite";

/**
 * Kinds the plan may render whose CRDs are not in the charts folder, with why. An object of any
 * other kind that the API server does not serve fails the suite: this list grows only on purpose.
 */
export const absentKinds: Readonly<Record<string, string>> = {
    "projectcalico.org/v3 Tier":
        "served by calico-apiserver, which the charts folder cannot provide",
    "projectcalico.org/v3 NetworkPolicy":
        "served by calico-apiserver, which the charts folder cannot provide",
    "projectcalico.org/v3 GlobalNetworkPolicy":
        "served by calico-apiserver, which the charts folder cannot provide",
    "cilium.io/v2 CiliumNetworkPolicy":
        "Cilium installs its CRDs itself; none in the charts folder",
    "kubeflow.org/v1 Profile": "comes with the Kubeflow kustomization; not in the charts folder",
    "serving.kserve.io/v1alpha1 ClusterStorageContainer":
        "comes with KServe; not in the charts folder",
};

/** The outcome for one object. */
export interface Outcome {
    readonly kind: string;
    /** `namespace/name` or `name`. */
    readonly name: string;
    readonly result: "admitted" | "refused" | "skipped";
    readonly detail: string;
    readonly warnings: readonly string[];
}

/** `namespace/name` or `name`. */
export function objectName(o: K8sObject): string {
    return o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name;
}

// Dependencies first: what others refer to (namespaces, classes, accounts, policies and their
// bindings, quotas) before what refers to it; custom resources after the built-in kinds.
const rank: Readonly<Record<string, number>> = {
    Namespace: 0,
    CustomResourceDefinition: 1,
    PriorityClass: 2,
    RuntimeClass: 2,
    StorageClass: 2,
    IngressClass: 2,
    ClusterRole: 3,
    Role: 3,
    ServiceAccount: 3,
    ClusterRoleBinding: 4,
    RoleBinding: 4,
    ConfigMap: 5,
    Secret: 5,
    ResourceQuota: 5,
    LimitRange: 5,
    ValidatingAdmissionPolicy: 6,
    ValidatingAdmissionPolicyBinding: 7,
    Deployment: 9,
    StatefulSet: 9,
    DaemonSet: 9,
    ReplicaSet: 9,
    Job: 9,
    CronJob: 9,
    Pod: 9,
};

function isBuiltIn(apiVersion: string): boolean {
    const group = apiVersion.includes("/") ? apiVersion.split("/")[0] : "";
    return group === "" || !group.includes(".") || group.endsWith(".k8s.io");
}

/** Objects in apply order; the plan's order is kept within a rank. */
export function applyOrder(objects: readonly K8sObject[]): K8sObject[] {
    const r = (o: K8sObject) => rank[o.kind] ?? (isBuiltIn(o.apiVersion) ? 8 : 10);
    return objects
        .map((o, i) => ({ o, i }))
        .sort((a, b) => r(a.o) - r(b.o) || a.i - b.i)
        .map(({ o }) => o);
}

/** Every document of every `*.yaml` file of a folder (plain CRD YAML). */
export function readCrds(dir: string): K8sObject[] {
    return fs
        .readdirSync(dir)
        .filter((f) => f.endsWith(".yaml") || f.endsWith(".yml"))
        .sort()
        .flatMap((f) =>
            parseAllDocuments(fs.readFileSync(path.join(dir, f), "utf8"))
                .map((d) => d.toJS() as K8sObject | null)
                .filter((o): o is K8sObject => o !== null && o.kind === "CustomResourceDefinition")
                .map(withoutTemplatedMetadata),
        );
}

/**
 * cert-manager ships its CRDs as chart templates: the YAML is plain but some label values are Helm
 * expressions (`{{ .Release.Name }}`), which no API server accepts. Those labels are metadata
 * only (not schema), so they are dropped; everything else is applied as published.
 */
export function withoutTemplatedMetadata(crd: K8sObject): K8sObject {
    const meta = { ...crd.metadata };
    for (const key of ["labels", "annotations"] as const) {
        const m = meta[key] as Record<string, string> | undefined;
        if (m) {
            meta[key] = Object.fromEntries(
                Object.entries(m).filter(([, v]) => !String(v).includes("{{")),
            );
        }
    }
    return { ...crd, metadata: meta };
}

/** A served resource. */
interface Served {
    readonly resource: string;
    readonly namespaced: boolean;
}

/** Kind → resource for the group versions the API server serves (discovery, cached per client). */
export class Discovery {
    private readonly groups = new Map<string, Map<string, Served> | null>();

    constructor(private readonly client: KubeClient) {}

    /** The resource serving `apiVersion`/`kind`, or undefined when the API server has none. */
    async lookup(apiVersion: string, kind: string): Promise<Served | undefined> {
        let served = this.groups.get(apiVersion);
        if (served === undefined) {
            const res = await this.client.request(
                "GET",
                apiVersion.includes("/") ? `/apis/${apiVersion}` : `/api/${apiVersion}`,
            );
            if (res.status === 404) {
                served = null;
            } else if (res.status !== 200) {
                throw new Error(`discovery of ${apiVersion}: ${res.status} ${message(res)}`);
            } else {
                served = new Map();
                for (const r of res.body.resources as {
                    name: string;
                    kind: string;
                    namespaced: boolean;
                }[]) {
                    if (!r.name.includes("/")) {
                        served.set(r.kind, { resource: r.name, namespaced: r.namespaced });
                    }
                }
            }
            this.groups.set(apiVersion, served);
        }
        return served?.get(kind);
    }

    /** Forgets what was learnt (after new CRDs are established). */
    reset(): void {
        this.groups.clear();
    }
}

/** The collection path of `apiVersion`'s `resource`, in `namespace` when it is namespaced. */
export function collectionPath(
    apiVersion: string,
    served: Served,
    namespace: string | undefined,
): string {
    const base = apiVersion.includes("/") ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    const ns = served.namespaced ? `/namespaces/${encodeURIComponent(namespace ?? "default")}` : "";
    return `${base}${ns}/${served.resource}`;
}

/** The API server's message of a failed request. */
export function message(res: KubeResponse): string {
    if (res.body && typeof res.body === "object" && typeof res.body.message === "string") {
        return res.body.message as string;
    }
    return typeof res.body === "string" ? res.body.slice(0, 500) : JSON.stringify(res.body);
}

/**
 * Server-side applies one object (PATCH application/apply-patch+yaml, forced, one field manager),
 * as `pulumi up` with server-side apply does. A field the schema does not define is refused, not
 * silently pruned, so a setting that would never take effect fails the suite: server-side apply
 * builds a typed patch and fails on it ("field not declared in schema"), and
 * `fieldValidation=Strict` (the default of `kubectl apply --server-side`) says so explicitly.
 */
export async function apply(
    client: KubeClient,
    discovery: Discovery,
    o: K8sObject,
    opts: { dryRun?: boolean } = {},
): Promise<Outcome> {
    const base = { kind: o.kind, name: objectName(o) };
    const served = await discovery.lookup(o.apiVersion, o.kind);
    if (!served) {
        const key = `${o.apiVersion} ${o.kind}`;
        return {
            ...base,
            result: "skipped",
            detail: absentKinds[key] ?? `UNEXPECTED: the API server serves no ${key}`,
            warnings: [],
        };
    }
    const url =
        `${collectionPath(o.apiVersion, served, o.metadata.namespace)}/${encodeURIComponent(o.metadata.name)}` +
        `?fieldManager=${fieldManager}&force=true&fieldValidation=Strict` +
        (opts.dryRun ? "&dryRun=All" : "");
    const res = await client.request("PATCH", url, o, {
        contentType: "application/apply-patch+yaml",
    });
    return res.status === 200 || res.status === 201
        ? { ...base, result: "admitted", detail: "", warnings: res.warnings }
        : {
              ...base,
              result: "refused",
              detail: `${res.status} ${message(res)}`,
              warnings: res.warnings,
          };
}

/** A pod template of a workload, with where it came from. */
export interface PodTemplate {
    readonly owner: K8sObject;
    readonly namespace: string;
    readonly metadata: { labels?: Record<string, string>; annotations?: Record<string, string> };
    readonly spec: Record<string, unknown>;
}

/** The pod templates of Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs and CronJobs. */
export function podTemplates(objects: readonly K8sObject[]): PodTemplate[] {
    const out: PodTemplate[] = [];
    for (const o of objects) {
        const spec = o.spec as any;
        const template =
            o.kind === "CronJob"
                ? spec?.jobTemplate?.spec?.template
                : ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"].includes(o.kind)
                  ? spec?.template
                  : undefined;
        if (template) {
            out.push({
                owner: o,
                namespace: o.metadata.namespace ?? "default",
                metadata: template.metadata ?? {},
                spec: template.spec,
            });
        }
    }
    return out;
}

/**
 * Creates the Pod a controller would create from `t`, with `dryRun=All`: every admission plugin
 * (Pod Security enforce, ValidatingAdmissionPolicy, ServiceAccount, Priority, RuntimeClass,
 * LimitRanger, ResourceQuota) decides on it, and nothing is stored.
 */
export async function dryRunPod(client: KubeClient, t: PodTemplate): Promise<Outcome> {
    const name = `${t.owner.metadata.name}`.slice(0, 50) + "-dry-run";
    const pod = {
        apiVersion: "v1",
        kind: "Pod",
        metadata: {
            name,
            namespace: t.namespace,
            labels: t.metadata.labels,
            annotations: t.metadata.annotations,
        },
        spec: t.spec,
    };
    const res = await client.request(
        "POST",
        `/api/v1/namespaces/${encodeURIComponent(t.namespace)}/pods?dryRun=All&fieldManager=${fieldManager}`,
        pod,
    );
    const base = {
        kind: `Pod from ${t.owner.kind}`,
        name: `${t.namespace}/${t.owner.metadata.name}`,
    };
    return res.status === 201 || res.status === 200
        ? { ...base, result: "admitted", detail: "", warnings: res.warnings }
        : {
              ...base,
              result: "refused",
              detail: `${res.status} ${message(res)}`,
              warnings: res.warnings,
          };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `get` until `done` holds for its answer; throws naming `what` after `timeoutMs`. */
export async function pollUntil(
    what: string,
    get: () => Promise<KubeResponse>,
    done: (res: KubeResponse) => boolean,
    timeoutMs = 60_000,
): Promise<KubeResponse> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const res = await get();
        if (done(res)) {
            return res;
        }
        if (Date.now() > deadline) {
            throw new Error(
                `${what}: not reached within ${timeoutMs} ms; last answer ${res.status} ${JSON.stringify(res.body).slice(0, 800)}`,
            );
        }
        await sleep(250);
    }
}

/** Applies the CRDs and waits until each is Established (its API is served). */
export async function applyCrds(
    client: KubeClient,
    discovery: Discovery,
    crds: readonly K8sObject[],
): Promise<Outcome[]> {
    const out: Outcome[] = [];
    for (const crd of crds) {
        out.push(await apply(client, discovery, crd));
    }
    for (const crd of crds) {
        if (out.find((o) => o.name === crd.metadata.name)?.result !== "admitted") {
            continue;
        }
        await pollUntil(
            `CRD ${crd.metadata.name} Established`,
            () =>
                client.request(
                    "GET",
                    `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata.name}`,
                ),
            (res) =>
                res.status === 200 &&
                (res.body.status?.conditions ?? []).some(
                    (c: { type: string; status: string }) =>
                        c.type === "Established" && c.status === "True",
                ),
        );
    }
    discovery.reset();
    return out;
}
