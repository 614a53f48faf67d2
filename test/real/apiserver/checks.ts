/**
 * One cluster's run against a fresh API server: apply, admit pod templates, type-check policies,
 * refuse violating pods, and the rollout identity's limits. Everything is recorded, nothing
 * asserted here; the suite asserts on the records and prints them.
 */
import { externalSecretsCrdDir } from "../support/apiserver";
import type { ApiServer, KubeClient } from "../support/apiserver";
import { chartsDir } from "../support/env";
import type { K8sObject } from "../support/plan";
import {
    apply,
    applyCrds,
    applyOrder,
    Discovery,
    dryRunPod,
    message,
    Outcome,
    podTemplates,
    pollUntil,
    readCrds,
} from "./cluster";
import { compliantPod, violations } from "./violations";

/** A namespace some installer outside the manifests creates, and which. */
export interface ExternalNamespace {
    readonly name: string;
    readonly reason: string;
}

/**
 * Namespaces OKE add-ons create that the manifests use without declaring: an add-on is an OCI
 * resource (`oci:ContainerEngine/addon:Addon`, named `<cluster>-addon-<name>`), not a manifest.
 * The namespace of each add-on is OKE's (unverified here: no OKE); only listed add-ons count.
 */
export const addonNamespaces: Readonly<Record<string, string>> = { CertManager: "cert-manager" };

/** The add-on namespaces of `cluster` among the plan's resources. */
export function externalNamespaces(
    resources: readonly { type: string; name: string; inputs: Record<string, unknown> }[],
    cluster: string,
): ExternalNamespace[] {
    return resources
        .filter(
            (r) =>
                r.type === "oci:ContainerEngine/addon:Addon" &&
                r.name.startsWith(`${cluster}-addon-`) &&
                typeof r.inputs.addonName === "string" &&
                addonNamespaces[r.inputs.addonName] !== undefined,
        )
        .map((r) => ({
            name: addonNamespaces[r.inputs.addonName as string],
            reason: `created by the OKE ${r.inputs.addonName as string} add-on (${r.name})`,
        }));
}

/** A violating pod's fate in one namespace. */
export interface Refusal {
    readonly id: string;
    /** Which namespace: Pod Security only, platform policy only, or a platform namespace (both). */
    readonly where: "pod-security" | "policy" | "platform";
    /**
     * What had to refuse it: fragments of the refusal's message, separated by ` … `; `null` where
     * no refusal is expected.
     */
    readonly expected: string | null;
    readonly status: number;
    readonly message: string;
    /**
     * Neither Pod Security (at the namespace's version) nor the platform policy owns the rule here:
     * a gap in the platform namespace, reported, whatever the outcome.
     */
    readonly gap?: boolean;
}

/** A policy's type-checking verdict from `status.typeChecking`. */
export interface TypeCheck {
    readonly policy: string;
    readonly warnings: readonly string[];
}

/** Everything one cluster's run recorded. */
export interface ClusterRun {
    readonly crds: Outcome[];
    readonly objects: Outcome[];
    readonly pods: Outcome[];
    readonly typeChecks: TypeCheck[];
    readonly refusals: Refusal[];
    /** Namespaces that hold pod templates but declare no Pod Security enforce level. */
    readonly unlabelled: string[];
    /**
     * Strict field validation at work: a dry-run apply of a copy of one object per probed kind
     * with a field its schema lacks (`spec.slpNoSuchField`); each must be refused.
     */
    readonly strictProbes: Outcome[];
    /** The rollout identity's requests: what was asked, expected and answered. */
    readonly rollout: { what: string; expected: string; status: number; message: string }[];
    /** Calico's accounts (policy-only install) asking what Felix and the node controller ask, and more. */
    readonly calico: { what: string; expected: "admitted" | "forbidden"; status: number }[];
}

/** Kinds whose strict field validation is probed: a custom resource and built-in kinds. */
export const strictProbeKinds = ["ExternalSecret", "ClusterSecretStore", "Deployment"] as const;

const isObject = (v: unknown): v is object => typeof v === "object" && v !== null;

const enforceLabel = "pod-security.kubernetes.io/enforce";
const versionLabel = "pod-security.kubernetes.io/enforce-version";

type Json = any;

/** Labels that satisfy a label selector (matchLabels, and `In` expressions by their first value). */
export function labelsSatisfying(selector: Json): Record<string, string> {
    const out: Record<string, string> = { ...(selector?.matchLabels ?? {}) };
    for (const e of selector?.matchExpressions ?? []) {
        if (e.operator === "In") {
            out[e.key] = e.values[0];
        } else if (e.operator === "Exists") {
            out[e.key] = "x";
        }
    }
    return out;
}

async function dryRunCreate(client: KubeClient, ns: string, pod: Json) {
    const res = await client.request(
        "POST",
        `/api/v1/namespaces/${ns}/pods?dryRun=All&fieldManager=slp-real-suite`,
        { ...pod, metadata: { ...pod.metadata, namespace: ns } },
    );
    return { status: res.status, message: res.status === 201 ? "" : message(res) };
}

async function ensureNamespace(client: KubeClient, name: string, labels: Record<string, string>) {
    const res = await client.request(
        "PATCH",
        `/api/v1/namespaces/${name}?fieldManager=slp-real-suite&force=true`,
        { apiVersion: "v1", kind: "Namespace", metadata: { name, labels } },
        { contentType: "application/apply-patch+yaml" },
    );
    if (res.status !== 200 && res.status !== 201) {
        throw new Error(`namespace ${name}: ${res.status} ${message(res)}`);
    }
    await pollUntil(
        `default service account in ${name}`,
        () => client.request("GET", `/api/v1/namespaces/${name}/serviceaccounts/default`),
        (r) => r.status === 200,
    );
}

/** Applies and checks one cluster's manifests on `api` (a fresh API server). */
export async function runCluster(
    api: ApiServer,
    objects: readonly K8sObject[],
    external: readonly ExternalNamespace[] = [],
): Promise<ClusterRun> {
    const client = api.client;
    const discovery = new Discovery(client);
    // The charts folder's CRDs, and External Secrets' own bundle (the folder's
    // external-secrets-bundle.yaml is the chart's helm-unittest spec, not CRDs).
    const crds = await applyCrds(client, discovery, [
        ...readCrds(chartsDir("crds")),
        ...readCrds(externalSecretsCrdDir()),
    ]);
    const declared = new Set(
        objects.filter((o) => o.kind === "Namespace").map((o) => o.metadata.name),
    );
    for (const ns of external.filter((e) => !declared.has(e.name))) {
        // Unlabelled, as the installer that owns it would leave it.
        await ensureNamespace(client, ns.name, {});
        crds.push({
            kind: "Namespace (not in the manifests)",
            name: ns.name,
            result: "admitted",
            detail: ns.reason,
            warnings: [],
        });
    }

    const ordered = applyOrder(objects);
    const applied: Outcome[] = [];
    for (const o of ordered) {
        applied.push(await apply(client, discovery, o));
        if (o.kind === "CustomResourceDefinition") {
            discovery.reset();
        }
    }

    // Quota admission refuses every pod of a namespace whose quota has no status yet; the
    // controller manager's quota controller writes it, as on a real cluster.
    for (const q of objects.filter((o) => o.kind === "ResourceQuota")) {
        await pollUntil(
            `ResourceQuota ${q.metadata.namespace}/${q.metadata.name} status`,
            () =>
                client.request(
                    "GET",
                    `/api/v1/namespaces/${q.metadata.namespace}/resourcequotas/${q.metadata.name}`,
                ),
            (r) => r.status === 200 && r.body.status?.hard !== undefined,
        );
    }
    for (const ns of objects.filter((o) => o.kind === "Namespace")) {
        await pollUntil(
            `default service account in ${ns.metadata.name}`,
            () =>
                client.request(
                    "GET",
                    `/api/v1/namespaces/${ns.metadata.name}/serviceaccounts/default`,
                ),
            (r) => r.status === 200,
        );
    }

    const templates = podTemplates(objects);
    const pods: Outcome[] = [];
    for (const t of templates) {
        pods.push(await dryRunPod(client, t));
    }
    const namespaces = new Map(
        objects.filter((o) => o.kind === "Namespace").map((o) => [o.metadata.name, o]),
    );
    const unlabelled = [
        ...new Set(
            templates
                .map((t) => t.namespace)
                .filter((ns) => {
                    const labels = (namespaces.get(ns)?.metadata.labels ?? {}) as Record<
                        string,
                        string
                    >;
                    return !labels[enforceLabel];
                }),
        ),
    ];

    const typeChecks: TypeCheck[] = [];
    for (const p of objects.filter((o) => o.kind === "ValidatingAdmissionPolicy")) {
        const res = await pollUntil(
            `ValidatingAdmissionPolicy ${p.metadata.name} type checked`,
            () =>
                client.request(
                    "GET",
                    `/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies/${p.metadata.name}`,
                ),
            (r) =>
                r.status === 200 &&
                r.body.status?.typeChecking !== undefined &&
                r.body.status?.observedGeneration === r.body.metadata.generation,
            120_000,
        );
        typeChecks.push({
            policy: p.metadata.name,
            warnings: (res.body.status.typeChecking.expressionWarnings ?? []).map(
                (w: { fieldRef: string; warning: string }) => `${w.fieldRef}: ${w.warning}`,
            ),
        });
    }

    const refusals = await tryViolations(client, objects);
    const rollout = await tryRollout(client, objects);
    const calico = await tryCalicoAccounts(client, objects);
    const strictProbes: Outcome[] = [];
    for (const kind of strictProbeKinds) {
        const o = objects.find((x) => x.kind === kind && isObject(x.spec));
        if (o === undefined) continue;
        const bad = { ...o, spec: { ...(o.spec as object), slpNoSuchField: true } } as K8sObject;
        strictProbes.push(await apply(client, discovery, bad, { dryRun: true }));
    }
    return {
        crds,
        objects: applied,
        pods,
        typeChecks,
        refusals,
        unlabelled,
        rollout,
        calico,
        strictProbes,
    };
}

/**
 * The Calico policy-only install's accounts, impersonated on real requests (when the manifests
 * declare them): what Felix and the node controller read and write must be admitted, anything
 * beyond their trimmed ClusterRoles refused (403) by RBAC.
 */
async function tryCalicoAccounts(
    client: KubeClient,
    objects: readonly K8sObject[],
): Promise<ClusterRun["calico"]> {
    const ns = "calico-system";
    const has = (name: string) =>
        objects.some(
            (o) =>
                o.kind === "ServiceAccount" &&
                o.metadata.name === name &&
                o.metadata.namespace === ns,
        );
    const out: ClusterRun["calico"] = [];
    const ask = async (
        sa: string,
        method: string,
        urlPath: string,
        expected: "admitted" | "forbidden",
        body?: unknown,
    ) => {
        const user = `system:serviceaccount:${ns}:${sa}`;
        const send = () =>
            client.request(method, urlPath, body, {
                asUser: user,
                asGroups: [
                    "system:serviceaccounts",
                    `system:serviceaccounts:${ns}`,
                    "system:authenticated",
                ],
            });
        // 429 (API Priority and Fairness sheds load on the shared machine) says nothing about
        // authorization: retry until the API server answers the request itself.
        let r = await send();
        for (let i = 0; r.status === 429 && i < 30; i++) {
            await new Promise((res) => setTimeout(res, 1000));
            r = await send();
        }
        out.push({ what: `${sa}: ${method} ${urlPath}`, expected, status: r.status });
    };
    const crd = "/apis/crd.projectcalico.org/v1";
    if (has("calico-node")) {
        await ask("calico-node", "GET", "/apis/networking.k8s.io/v1/networkpolicies", "admitted");
        await ask("calico-node", "GET", "/api/v1/pods", "admitted");
        await ask("calico-node", "GET", "/api/v1/namespaces", "admitted");
        await ask("calico-node", "GET", "/apis/discovery.k8s.io/v1/endpointslices", "admitted");
        await ask("calico-node", "GET", `${crd}/globalnetworkpolicies`, "admitted");
        await ask("calico-node", "GET", `${crd}/felixconfigurations`, "admitted");
        await ask(
            "calico-node",
            "GET",
            "/apis/policy.networking.k8s.io/v1alpha1/adminnetworkpolicies",
            "admitted",
        );
        await ask("calico-node", "GET", "/api/v1/secrets", "forbidden");
        await ask(
            "calico-node",
            "GET",
            "/api/v1/namespaces/kube-system/configmaps/kubeadm-config",
            "forbidden",
        );
        await ask("calico-node", "POST", `${crd}/ippools`, "forbidden", {
            apiVersion: "crd.projectcalico.org/v1",
            kind: "IPPool",
            metadata: { name: "slp-probe" },
            spec: { cidr: "192.0.2.0/24" },
        });
        await ask(
            "calico-node",
            "DELETE",
            "/apis/networking.k8s.io/v1/namespaces/default/networkpolicies/x",
            "forbidden",
        );
    }
    if (has("calico-kube-controllers")) {
        await ask("calico-kube-controllers", "GET", "/api/v1/nodes", "admitted");
        await ask("calico-kube-controllers", "GET", `${crd}/ipamblocks`, "admitted");
        await ask(
            "calico-kube-controllers",
            "GET",
            `${crd}/kubecontrollersconfigurations`,
            "admitted",
        );
        await ask("calico-kube-controllers", "GET", "/api/v1/services", "forbidden");
        await ask("calico-kube-controllers", "GET", "/api/v1/secrets", "forbidden");
        await ask("calico-kube-controllers", "GET", `${crd}/globalnetworkpolicies`, "forbidden");
    }
    return out;
}

/** The restricted pod policy's binding as rendered, if any. */
function restrictedBinding(objects: readonly K8sObject[]): Json | undefined {
    return objects.find(
        (o) =>
            o.kind === "ValidatingAdmissionPolicyBinding" &&
            (o.spec as Json)?.policyName === "slp-restricted-pods",
    );
}

async function tryViolations(
    client: KubeClient,
    objects: readonly K8sObject[],
): Promise<Refusal[]> {
    const platformNs = objects.find(
        (o) =>
            o.kind === "Namespace" &&
            (o.metadata.labels as Record<string, string> | undefined)?.[enforceLabel] ===
                "restricted",
    );
    const version =
        (platformNs?.metadata.labels as Record<string, string> | undefined)?.[versionLabel] ??
        "latest";
    const binding = restrictedBinding(objects);
    // Pod Security restricted, outside the platform policy's selector.
    await ensureNamespace(client, "slp-test-pod-security", {
        [enforceLabel]: "restricted",
        [versionLabel]: version,
    });
    const where: [Refusal["where"], string][] = [["pod-security", "slp-test-pod-security"]];
    if (binding) {
        // Inside the policy's selector, Pod Security privileged: only the policy can refuse.
        await ensureNamespace(client, "slp-test-policy", {
            ...labelsSatisfying(binding.spec.matchResources?.namespaceSelector),
            [enforceLabel]: "privileged",
        });
        where.push(["policy", "slp-test-policy"]);
        // The admission plugin learns of a new namespace's labels and of the policy through
        // informers, a moment after they are written: wait until a pod the policy must refuse is
        // refused (bounded), so the cases below test the policy and not the informers' lag.
        const probe = compliantPod("probe-privileged");
        violations.find((v) => v.id === "privileged")!.mutate(probe);
        const deadline = Date.now() + 60_000;
        while ((await dryRunCreate(client, "slp-test-policy", probe)).status === 201) {
            if (Date.now() > deadline) {
                break;
            }
            await new Promise((r) => setTimeout(r, 500));
        }
    }
    if (platformNs) {
        where.push(["platform", platformNs.metadata.name]);
    }
    const out: Refusal[] = [];
    for (const [w, ns] of where) {
        const control = await dryRunCreate(client, ns, compliantPod("compliant"));
        out.push({ id: "compliant (control)", where: w, expected: null, ...control });
        for (const v of violations) {
            const pod = compliantPod(v.id.toLowerCase().replace(/[^a-z0-9]+/g, "-"));
            v.mutate(pod);
            const minor = Number(/^v1\.(\d+)$/.exec(version)?.[1] ?? "999");
            const checked = minor >= (v.sinceMinor ?? 0);
            if (!checked && w !== "policy") {
                // Pod Security has no such check at this version: in a platform namespace the
                // platform policy must still refuse it, elsewhere nothing does.
                const byPolicy = w === "platform" && v.policy !== null;
                out.push({
                    id: `${v.id} (no Pod Security check before v1.${v.sinceMinor})`,
                    where: w,
                    expected: byPolicy
                        ? `ValidatingAdmissionPolicy 'slp-restricted-pods' with binding '${binding.metadata.name}' denied request: ${v.policy}`
                        : null,
                    gap: w === "platform" && v.policy === null,
                    ...(await dryRunCreate(client, ns, pod)),
                });
                continue;
            }
            const expected =
                w === "pod-security"
                    ? `violates PodSecurity "restricted:${version}": … ${v.podSecurity}`
                    : w === "policy"
                      ? v.policy === null
                          ? null
                          : `ValidatingAdmissionPolicy 'slp-restricted-pods' with binding '${binding.metadata.name}' denied request: ${v.policy}`
                      : "forbidden";
            out.push({ id: v.id, where: w, expected, ...(await dryRunCreate(client, ns, pod)) });
        }
    }
    return out;
}

/** Tenant namespaces and the Kata classes their sandbox policy allows, as rendered. */
export async function tryTenantSandbox(
    client: KubeClient,
    objects: readonly K8sObject[],
): Promise<Refusal[]> {
    const out: Refusal[] = [];
    const policy = objects.find(
        (o) => o.kind === "ValidatingAdmissionPolicy" && o.metadata.name === "slp-tenant-sandbox",
    );
    const classes = objects.filter((o) => o.kind === "RuntimeClass").map((o) => o.metadata.name);
    const tenants = objects.filter(
        (o) =>
            o.kind === "Namespace" &&
            (o.metadata.labels as Record<string, string> | undefined)?.[
                "secure-llm-platform.io/namespace-role"
            ] === "tenant",
    );
    for (const ns of tenants) {
        const bare = await dryRunCreate(client, ns.metadata.name, compliantPod("no-sandbox"));
        out.push({
            id: "tenant pod without a Kata RuntimeClass",
            where: "platform",
            expected: policy
                ? "ValidatingAdmissionPolicy 'slp-tenant-sandbox' with binding 'slp-tenant-sandbox' denied request: pods in tenant namespaces must run in a Kata sandbox"
                : "a slp-tenant-sandbox policy (none rendered)",
            ...bare,
        });
        for (const rc of classes) {
            const pod = compliantPod(`sandboxed-${rc}`);
            pod.spec.runtimeClassName = rc;
            out.push({
                id: `tenant pod in RuntimeClass ${rc}`,
                where: "platform",
                expected: null,
                ...(await dryRunCreate(client, ns.metadata.name, pod)),
            });
        }
    }
    return out;
}

const rolloutUser = "system:serviceaccount:ml-pipelines:slp-rollout";

/**
 * For every Deployment the rollout Roles name: the rollout identity may set the restart
 * annotation, and may not change the image (platform policy) or touch another Deployment (RBAC).
 */
async function tryRollout(client: KubeClient, objects: readonly K8sObject[]) {
    const out: ClusterRun["rollout"] = [];
    const roles = objects.filter(
        (o) =>
            o.kind === "Role" &&
            o.metadata.name === "slp-rollout" &&
            objects.some(
                (b) =>
                    b.kind === "RoleBinding" &&
                    b.metadata.namespace === o.metadata.namespace &&
                    (b as Json).roleRef?.name === "slp-rollout" &&
                    ((b as Json).subjects ?? []).some(
                        (s: Json) =>
                            s.kind === "ServiceAccount" &&
                            `system:serviceaccount:${s.namespace}:${s.name}` === rolloutUser,
                    ),
            ),
    );
    const hasGuard = objects.some(
        (o) =>
            o.kind === "ValidatingAdmissionPolicy" &&
            o.metadata.name === "slp-rollout-restart-only",
    );
    for (const role of roles) {
        const ns = role.metadata.namespace!;
        for (const rule of (role as Json).rules as Json[]) {
            if (!rule.resources.includes("deployments")) {
                continue;
            }
            for (const name of rule.resourceNames ?? []) {
                const patch = async (body: Json, target = name) => {
                    const res = await client.request(
                        "PATCH",
                        `/apis/apps/v1/namespaces/${ns}/deployments/${target}?dryRun=All`,
                        body,
                        {
                            contentType: "application/strategic-merge-patch+json",
                            asUser: rolloutUser,
                            asGroups: [
                                "system:serviceaccounts",
                                "system:serviceaccounts:ml-pipelines",
                                "system:authenticated",
                            ],
                        },
                    );
                    return { status: res.status, message: res.status === 200 ? "" : message(res) };
                };
                out.push({
                    what: `${ns}/${name}: set kubectl.kubernetes.io/restartedAt`,
                    expected: "admitted",
                    ...(await patch({
                        spec: {
                            template: {
                                metadata: {
                                    annotations: {
                                        "kubectl.kubernetes.io/restartedAt":
                                            new Date().toISOString(),
                                    },
                                },
                            },
                        },
                    })),
                });
                const dep = objects.find(
                    (o) =>
                        o.kind === "Deployment" &&
                        o.metadata.namespace === ns &&
                        o.metadata.name === name,
                ) as Json;
                const container = dep?.spec?.template?.spec?.containers?.[0]?.name ?? "app";
                out.push({
                    what: `${ns}/${name}: change a container image`,
                    expected: hasGuard
                        ? "ValidatingAdmissionPolicy 'slp-rollout-restart-only'"
                        : "a slp-rollout-restart-only policy (none rendered)",
                    ...(await patch({
                        spec: {
                            template: {
                                spec: {
                                    containers: [
                                        {
                                            name: container,
                                            image: `registry.example/evil@sha256:${"1".repeat(64)}`,
                                        },
                                    ],
                                },
                            },
                        },
                    })),
                });
                out.push({
                    what: `${ns}/${name}: scale to 0`,
                    expected: hasGuard
                        ? "ValidatingAdmissionPolicy 'slp-rollout-restart-only'"
                        : "a slp-rollout-restart-only policy (none rendered)",
                    ...(await patch({ spec: { replicas: 0 } })),
                });
            }
        }
        const other = objects.find(
            (o) =>
                o.kind === "Deployment" &&
                o.metadata.namespace === ns &&
                !((role as Json).rules as Json[]).some((r) =>
                    (r.resourceNames ?? []).includes(o.metadata.name),
                ),
        );
        if (other) {
            out.push({
                what: `${ns}/${other.metadata.name} (not a rollout target): set restartedAt`,
                expected: "forbidden",
                ...(await (async () => {
                    const res = await client.request(
                        "PATCH",
                        `/apis/apps/v1/namespaces/${ns}/deployments/${other.metadata.name}?dryRun=All`,
                        { metadata: { annotations: { x: "y" } } },
                        {
                            contentType: "application/strategic-merge-patch+json",
                            asUser: rolloutUser,
                            asGroups: ["system:serviceaccounts", "system:authenticated"],
                        },
                    );
                    return { status: res.status, message: res.status === 200 ? "" : message(res) };
                })()),
            });
        }
    }
    return out;
}
