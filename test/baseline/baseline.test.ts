/** The dev stack's cluster baseline, as a security reviewer would check it. */
import * as assert from "assert";
import type { ClusterConfig } from "../../modules/config";
import { annotations, exceptionAnnotations, labels, taints } from "../../modules/constants/labels";
import {
    privilegedNamespaces,
    serviceNamespaces,
    tierNamespaces,
} from "../../modules/constants/namespaces";
import { poolTaints } from "../../modules/oci/cloud-init";
import { RecordedResource } from "../../tools/plan/mocks";
import { evaluateResources } from "../../modules/security";
import { isKubernetesObject, toManifest, validateManifest } from "../../tools/plan/manifests";
import { devRaw, fakeCloud, meta, ofType, parse, recordBaseline, release } from "./helpers";

const T = {
    ns: "kubernetes:core/v1:Namespace",
    saPatch: "kubernetes:core/v1:ServiceAccountPatch",
    quota: "kubernetes:core/v1:ResourceQuota",
    limits: "kubernetes:core/v1:LimitRange",
    clusterRole: "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole",
    clusterRoleBinding: "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding",
    role: "kubernetes:rbac.authorization.k8s.io/v1:Role",
    roleBinding: "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
    runtimeClass: "kubernetes:node.k8s.io/v1:RuntimeClass",
    priority: "kubernetes:scheduling.k8s.io/v1:PriorityClass",
    vap: "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy",
    vapb: "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding",
    netpol: "kubernetes:networking.k8s.io/v1:NetworkPolicy",
    store: "kubernetes:external-secrets.io/v1:ClusterSecretStore",
    issuer: "kubernetes:cert-manager.io/v1:ClusterIssuer",
    secret: "kubernetes:core/v1:Secret",
};

const iamUser = "ocid1.user.oc1..aaaaaaaauser";
const adminGroup = "ocid1.group.oc1..aaaaaaaaadmins";
const mlGroup = "ocid1.group.oc1..aaaaaaaamlengineers";
const auditGroup = "ocid1.group.oc1..aaaaaaaaauditors";
const teamGroup = "ocid1.group.oc1..aaaaaaaateamalpha";

/** The dev stack plus RBAC subjects and two tenants. */
function devCluster(): ClusterConfig {
    const raw = devRaw();
    raw.baseline = {
        rbac: {
            platformAdmins: [{ kind: "Group", name: adminGroup }],
            mlEngineers: [{ kind: "Group", name: mlGroup }],
            auditors: [
                { kind: "Group", name: auditGroup },
                { kind: "User", name: iamUser },
            ],
        },
        tenants: [
            {
                name: "alpha",
                quota: { cpu: 4, memory: "16Gi", gpus: 1, pods: 20 },
                mlEngineers: [{ kind: "Group", name: teamGroup }],
            },
            { name: "beta" },
        ],
    };
    return parse(raw).clusters[0];
}

describe("baseline: dev stack cluster", () => {
    let rs: RecordedResource[];
    let cluster: ClusterConfig;
    const nsNames = () => ofType(rs, T.ns).map((r) => meta(r).name);

    before(async () => {
        cluster = devCluster();
        rs = await recordBaseline("bl-dev", cluster, fakeCloud("us-ashburn-1"));
    });

    it("creates the namespaces the cluster needs, and only those", () => {
        const names = nsNames();
        for (const n of [
            ...Object.values(tierNamespaces),
            serviceNamespaces.externalSecrets,
            serviceNamespaces.ingress,
            privilegedNamespaces.kata,
            privilegedNamespaces.gpuOperator,
            // dev is OKE (VCN-native) with the proxy engine: NetworkSecurity installs Calico
            // policy-only into it.
            privilegedNamespaces.calicoSystem,
            "tenant-alpha",
            "tenant-beta",
        ]) {
            assert.ok(names.includes(n), `missing namespace ${n}`);
        }
        // No tigera-operator there: the operator's Installation is not what OKE documents.
        assert.ok(!names.includes(privilegedNamespaces.calico));
        // dev lists the OKE CertManager add-on: a second cert-manager would fight it.
        assert.ok(!names.includes(serviceNamespaces.certManager));
        assert.ok(!release(rs, "cert-manager"));
        assert.strictEqual(new Set(names).size, names.length, "no namespace declared twice");
    });

    it("labels every namespace for Pod Security, pinned to the cluster's minor version", () => {
        for (const r of ofType(rs, T.ns)) {
            const m = meta(r);
            const l = m.labels ?? {};
            const privileged = (Object.values(privilegedNamespaces) as string[]).includes(m.name);
            // kubeflow: KFP's own components and standalone runs, at kubeflow.podSecurity like the
            // pipeline namespace (its one owner is this baseline; KFP's copy is not applied).
            const expected = privileged
                ? "privileged"
                : m.name === "kubeflow"
                  ? cluster.layer.kubeflow.podSecurity
                  : "restricted";
            assert.strictEqual(l["pod-security.kubernetes.io/enforce"], expected, m.name);
            assert.strictEqual(l["pod-security.kubernetes.io/audit"], "restricted", m.name);
            assert.strictEqual(l["pod-security.kubernetes.io/warn"], "restricted", m.name);
            for (const mode of ["enforce", "audit", "warn"]) {
                assert.strictEqual(
                    l[`pod-security.kubernetes.io/${mode}-version`],
                    "v1.34",
                    `${m.name} ${mode}-version`,
                );
            }
            if (privileged) {
                assert.ok(
                    (m.annotations?.[annotations.privilegedReason] ?? "").length > 20,
                    `${m.name} must say why it is privileged`,
                );
                assert.strictEqual(l[labels.namespaceRole], "privileged");
            } else {
                assert.strictEqual(m.annotations?.[annotations.privilegedReason], undefined);
            }
        }
    });

    it("turns off token automount on every namespace's default ServiceAccount", () => {
        const patched = new Map(ofType(rs, T.saPatch).map((r) => [meta(r).namespace, r]));
        for (const n of nsNames()) {
            const p = patched.get(n);
            assert.ok(p, `no default ServiceAccount patch in ${n}`);
            assert.strictEqual(meta(p).name, "default");
            assert.strictEqual(p.inputs.automountServiceAccountToken, false);
        }
    });

    it("caps every namespace with a ResourceQuota and a LimitRange, GPUs included", () => {
        for (const n of nsNames()) {
            const q = ofType(rs, T.quota).find((r) => meta(r).namespace === n);
            assert.ok(q, `no quota in ${n}`);
            assert.ok(
                ofType(rs, T.limits).some((r) => meta(r).namespace === n),
                `no LimitRange in ${n}`,
            );
            const hard = (q.inputs.spec as { hard: Record<string, string> }).hard;
            assert.ok(hard["requests.cpu"] && hard["requests.memory"] && hard.pods, n);
            assert.ok(
                hard["requests.nvidia.com/gpu"] !== undefined,
                `${n}: GPU requests must be capped`,
            );
        }
        const hardOf = (n: string) =>
            (
                ofType(rs, T.quota).find((r) => meta(r).namespace === n)!.inputs.spec as {
                    hard: Record<string, string>;
                }
            ).hard;
        // dev has one BM.GPU.A100-v2.8 node: 8 GPUs for inference, none for the other tiers.
        assert.strictEqual(hardOf(tierNamespaces.inference)["requests.nvidia.com/pgpu"], "8");
        assert.strictEqual(hardOf(tierNamespaces.guardrails)["requests.nvidia.com/gpu"], "0");
        assert.strictEqual(hardOf("tenant-alpha")["requests.nvidia.com/pgpu"], "1");
        assert.strictEqual(hardOf("tenant-alpha")["limits.cpu"], "4");
        assert.strictEqual(hardOf("tenant-beta")["services.loadbalancers"], "0");
        assert.strictEqual(hardOf("tenant-beta")["services.nodeports"], "0");
    });

    it("ranks serving above platform above batch, with no global default", () => {
        const pcs = Object.fromEntries(ofType(rs, T.priority).map((r) => [meta(r).name, r.inputs]));
        assert.ok(pcs["slp-serving"] && pcs["slp-platform"] && pcs["slp-batch"]);
        assert.ok((pcs["slp-serving"].value as number) > (pcs["slp-platform"].value as number));
        assert.ok((pcs["slp-platform"].value as number) > (pcs["slp-batch"].value as number));
        assert.strictEqual(pcs["slp-batch"].preemptionPolicy, "Never");
        for (const pc of Object.values(pcs)) {
            assert.notStrictEqual(pc.globalDefault, true);
        }
    });

    describe("RBAC", () => {
        type Rule = { apiGroups: string[]; resources: string[]; verbs: string[] };
        const rulesOf = (name: string) =>
            ofType(rs, T.clusterRole).find((r) => meta(r).name === name)!.inputs.rules as Rule[];

        it("uses no wildcard verb, resource or API group anywhere", () => {
            const roles = [...ofType(rs, T.clusterRole), ...ofType(rs, T.role)];
            assert.ok(roles.length >= 3);
            for (const r of roles) {
                for (const rule of r.inputs.rules as Rule[]) {
                    for (const v of [...rule.apiGroups, ...rule.resources, ...rule.verbs]) {
                        assert.ok(
                            !v.includes("*"),
                            `${meta(r).name} has a wildcard: ${JSON.stringify(rule)}`,
                        );
                    }
                }
            }
        });

        it("never grants bind, escalate or impersonate", () => {
            for (const r of ofType(rs, T.clusterRole)) {
                for (const rule of r.inputs.rules as Rule[]) {
                    for (const v of ["bind", "escalate", "impersonate"]) {
                        assert.ok(!rule.verbs.includes(v), `${meta(r).name} grants ${v}`);
                    }
                }
            }
        });

        it("lets ML engineers deploy but not read secrets, exec, attach or port-forward", () => {
            const rules = rulesOf("slp-ml-engineer");
            const grants = (group: string, resource: string, verb: string) =>
                rules.some(
                    (r) =>
                        r.apiGroups.includes(group) &&
                        r.resources.includes(resource) &&
                        r.verbs.includes(verb),
                );
            assert.ok(grants("apps", "deployments", "create"));
            assert.ok(grants("serving.kserve.io", "inferenceservices", "create"));
            for (const res of ["secrets", "pods/exec", "pods/attach", "pods/portforward"]) {
                assert.ok(
                    !rules.some((r) => r.resources.includes(res)),
                    `ml engineers reach ${res}`,
                );
            }
            assert.ok(
                !grants("external-secrets.io", "externalsecrets", "create"),
                "an ExternalSecret would copy any vault secret",
            );
            assert.ok(!rules.some((r) => r.apiGroups.includes("rbac.authorization.k8s.io")));
        });

        it("lets nobody read Secrets", () => {
            for (const r of ofType(rs, T.clusterRole)) {
                for (const rule of r.inputs.rules as Rule[]) {
                    if (rule.apiGroups.includes("") && rule.resources.includes("secrets")) {
                        assert.deepStrictEqual(rule.verbs, ["delete"], meta(r).name);
                    }
                }
            }
        });

        it("gives auditors read-only access without secrets", () => {
            for (const r of rulesOf("slp-auditor")) {
                assert.deepStrictEqual([...r.verbs].sort(), ["get", "list", "watch"]);
                assert.ok(!r.resources.includes("secrets"));
            }
        });

        it("keeps admission policies out of the platform admins' write access", () => {
            for (const r of rulesOf("slp-platform-admin")) {
                if (r.apiGroups.includes("admissionregistration.k8s.io")) {
                    assert.deepStrictEqual([...r.verbs].sort(), ["get", "list", "watch"]);
                }
            }
        });

        it("binds config's subjects, ML engineers only in their namespaces", () => {
            const crbs = ofType(rs, T.clusterRoleBinding);
            const subjectsOf = (r: RecordedResource) =>
                (r.inputs.subjects as { name: string }[]).map((s) => s.name);
            const roleOf = (r: RecordedResource) => (r.inputs.roleRef as { name: string }).name;
            assert.deepStrictEqual(crbs.map(roleOf).sort(), ["slp-auditor", "slp-platform-admin"]);
            assert.ok(
                !crbs.some((r) => roleOf(r) === "cluster-admin"),
                "nothing asked for cluster-admin",
            );
            assert.deepStrictEqual(
                subjectsOf(crbs.find((r) => roleOf(r) === "slp-auditor")!).sort(),
                [auditGroup, iamUser].sort(),
            );
            const rbs = ofType(rs, T.roleBinding);
            for (const r of rbs) {
                assert.strictEqual(roleOf(r), "slp-ml-engineer");
            }
            const where = (subject: string) =>
                rbs
                    .filter((r) => subjectsOf(r).includes(subject))
                    .map((r) => meta(r).namespace)
                    .sort();
            assert.deepStrictEqual(where(mlGroup), Object.values(tierNamespaces).sort());
            assert.deepStrictEqual(where(teamGroup), ["tenant-alpha"]);
        });
    });

    describe("Kata", () => {
        it("installs the pinned kata-deploy only on Kata pools, without its own RuntimeClasses", () => {
            const r = release(rs, "kata-deploy")!;
            assert.ok(r, "kata-deploy release");
            assert.strictEqual(
                r.inputs.chart,
                "oci://ghcr.io/kata-containers/kata-deploy-charts/kata-deploy",
            );
            assert.match(String(r.inputs.version), /^\d+\.\d+\.\d+$/);
            assert.strictEqual(r.inputs.namespace, privilegedNamespaces.kata);
            const v = r.inputs.values as any;
            assert.deepStrictEqual(v.nodeSelector, { [labels.kataPool]: "true" });
            // kata-deploy 3.29.0's own keys: its RuntimeClass template is off (we own them) and
            // only the shims our classes name are installed.
            assert.strictEqual(v.env, undefined, "3.29.0 ignores env.shims/createRuntimeClasses");
            assert.strictEqual(v.runtimeClasses.enabled, false);
            assert.strictEqual(v.shims.disableAll, true);
            const enabled = Object.keys(v.shims).filter((k) => v.shims[k].enabled === true);
            assert.deepStrictEqual(enabled.sort(), ["qemu", "qemu-nvidia-gpu"]);
            // The GPU operator runs NFD on this cluster; the chart refuses to install a second one.
            assert.strictEqual(v["node-feature-discovery"].enabled, false);
            const tolerated = (v.tolerations as { key: string }[]).map((t) => t.key).sort();
            assert.deepStrictEqual(tolerated, [taints.kata.key, taints.gpu.key].sort());
        });

        it("gives each RuntimeClass overhead, the kata-deploy node label and exactly its pools' taints", () => {
            const classes = Object.fromEntries(
                ofType(rs, T.runtimeClass).map((r) => [meta(r).name, r.inputs as any]),
            );
            assert.deepStrictEqual(Object.keys(classes).sort(), [
                "kata-qemu",
                "kata-qemu-nvidia-gpu",
            ]);
            const tolerationsCover = (cls: any, pool: { gpu: boolean; kata: boolean }) =>
                poolTaints(pool).every((t) =>
                    (cls.scheduling.tolerations as any[]).some(
                        (x) =>
                            x.key === t.key &&
                            x.value === t.value &&
                            x.effect === t.effect &&
                            x.operator === "Equal",
                    ),
                );
            for (const [name, cls] of Object.entries(classes)) {
                assert.strictEqual(
                    cls.handler,
                    name,
                    "handler must match the CRI-O runtime kata-deploy writes",
                );
                assert.ok(
                    cls.overhead.podFixed.memory && cls.overhead.podFixed.cpu,
                    `${name} overhead`,
                );
                assert.deepStrictEqual(cls.scheduling.nodeSelector, {
                    [labels.kataRuntime]: "true",
                });
            }
            const cpuPool = cluster.nodePools.find((p) => p.kata && !p.gpu)!;
            const gpuPool = cluster.nodePools.find((p) => p.kata && p.gpu)!;
            assert.ok(tolerationsCover(classes["kata-qemu"], cpuPool));
            assert.ok(tolerationsCover(classes["kata-qemu-nvidia-gpu"], gpuPool));
            // CPU sandboxes must stay off the GPU nodes: they do not tolerate the GPU taint.
            assert.ok(!tolerationsCover(classes["kata-qemu"], gpuPool));
            assert.strictEqual(classes["kata-qemu-nvidia-gpu"].overhead.podFixed.memory, "10240Mi");
        });
    });

    describe("GPUs", () => {
        it("has exactly one device-plugin owner: the pinned GPU operator in sandbox mode", () => {
            const op = release(rs, "gpu-operator")!;
            assert.ok(op);
            assert.strictEqual(op.inputs.version, "v25.3.0");
            assert.strictEqual(
                (op.inputs.repositoryOpts as any).repo,
                "https://helm.ngc.nvidia.com/nvidia",
            );
            const v = op.inputs.values as any;
            assert.strictEqual(v.devicePlugin.enabled, true);
            // v25.3.0 has no sandboxWorkloads.mode (the Kata runtime comes from kata-deploy).
            assert.deepStrictEqual(v.sandboxWorkloads, {
                enabled: true,
                defaultWorkload: "vm-passthrough",
            });
            assert.strictEqual(v.dcgmExporter.enabled, true, "DCGM metrics for monitoring");
            assert.ok(
                !cluster.addons.some(
                    (a) => a.name === "NvidiaGpuPlugin" || a.name === "NvidiaGpuOperator",
                ),
            );
            assert.ok(!release(rs, "dcgm-exporter"), "the operator's exporter is the only one");
        });
    });

    describe("secrets", () => {
        it("installs External Secrets under the ServiceAccount OCI IAM trusts, with an oci-vault store using workload identity", () => {
            const eso = release(rs, "external-secrets")!;
            assert.strictEqual(eso.inputs.namespace, "external-secrets");
            assert.strictEqual((eso.inputs.values as any).serviceAccount.name, "external-secrets");
            const [store] = ofType(rs, T.store);
            assert.strictEqual(meta(store).name, "oci-vault");
            const oracle = (store.inputs.spec as any).provider.oracle;
            assert.strictEqual(oracle.principalType, "Workload");
            assert.strictEqual(oracle.vault, "ocid1.vault.oc1.iad.aaaatestvault");
            assert.strictEqual(oracle.region, "us-ashburn-1");
            const roles = (store.inputs.spec as any).conditions[0].namespaceSelector
                .matchExpressions[0].values;
            assert.ok(!roles.includes("tenant"), "tenants cannot pull platform secrets");
        });

        it("declares no Secret object at all", () => {
            assert.deepStrictEqual(ofType(rs, T.secret), []);
        });
    });

    describe("admission policies", () => {
        it("denies non-restricted pods in platform and tenant namespaces, never in privileged system namespaces", () => {
            const vap = ofType(rs, T.vap).find((r) => meta(r).name === "slp-restricted-pods")!;
            const spec = vap.inputs.spec as any;
            assert.strictEqual(spec.failurePolicy, "Fail");
            assert.deepStrictEqual(spec.matchConstraints.resourceRules[0].resources, [
                "pods",
                "pods/ephemeralcontainers",
            ]);
            const sel = spec.matchConstraints.namespaceSelector.matchExpressions[0];
            assert.strictEqual(sel.key, labels.namespaceRole);
            assert.strictEqual(sel.operator, "In");
            assert.deepStrictEqual([...sel.values].sort(), ["service", "tenant", "tier"]);
            for (const b of ofType(rs, T.vapb)) {
                assert.deepStrictEqual((b.inputs.spec as any).validationActions, ["Deny"]);
            }
            // Every namespace the policy selects by label carries that label; privileged ones do not match.
            for (const r of ofType(rs, T.ns)) {
                const role = meta(r).labels![labels.namespaceRole];
                assert.strictEqual(sel.values.includes(role), role !== "privileged", meta(r).name);
            }
        });

        it("requires a Kata RuntimeClass for tenant pods", () => {
            const vap = ofType(rs, T.vap).find((r) => meta(r).name === "slp-tenant-sandbox")!;
            const spec = vap.inputs.spec as any;
            assert.deepStrictEqual(
                spec.matchConstraints.namespaceSelector.matchExpressions[0].values,
                ["tenant"],
            );
            assert.match(
                spec.validations[0].expression,
                /runtimeClassName in \['kata-qemu', 'kata-qemu-nvidia-gpu'\]/,
            );
            const binding = ofType(rs, T.vapb).find((r) => meta(r).name === "slp-tenant-sandbox")!;
            assert.strictEqual((binding.inputs.spec as any).policyName, "slp-tenant-sandbox");
        });
    });

    it("isolates every tenant namespace: default deny both ways, same-namespace and DNS only", () => {
        for (const ns of ["tenant-alpha", "tenant-beta"]) {
            const pols = Object.fromEntries(
                ofType(rs, T.netpol)
                    .filter((r) => meta(r).namespace === ns)
                    .map((r) => [meta(r).name, r.inputs.spec as any]),
            );
            assert.deepStrictEqual(Object.keys(pols).sort(), [
                "allow-dns",
                "tenant-allow-same-namespace",
                "tenant-default-deny",
            ]);
            assert.deepStrictEqual(pols["tenant-default-deny"], {
                podSelector: {},
                policyTypes: ["Ingress", "Egress"],
            });
            // Peers are selected by podSelector alone, i.e. only within the namespace.
            for (const peer of [
                ...pols["tenant-allow-same-namespace"].ingress[0].from,
                ...pols["tenant-allow-same-namespace"].egress[0].to,
            ]) {
                assert.deepStrictEqual(peer, { podSelector: {} });
            }
            assert.strictEqual(
                pols["allow-dns"].egress[0].to[0].namespaceSelector.matchLabels[
                    "kubernetes.io/metadata.name"
                ],
                "kube-system",
            );
        }
    });

    it("installs a hardened, TLS-only, internal ingress-nginx and the platform-ca issuer", () => {
        const r = release(rs, "ingress-nginx")!;
        const c = (r.inputs.values as any).controller;
        assert.strictEqual(c.ingressClassResource.name, "nginx");
        assert.strictEqual(c.allowSnippetAnnotations, false);
        assert.strictEqual(c.config["force-ssl-redirect"], "true");
        assert.strictEqual(c.config.hsts, "true");
        assert.strictEqual(c.service.enableHttp, false);
        assert.strictEqual(
            c.service.annotations["service.beta.kubernetes.io/oci-load-balancer-internal"],
            "true",
        );
        assert.strictEqual(c.image.runAsNonRoot, true);
        assert.strictEqual(c.image.allowPrivilegeEscalation, false);
        // Metrics on a ClusterIP Service for the observability layer's own ServiceMonitor; the
        // chart's ServiceMonitor and PrometheusRule would need CRDs that arrive after the baseline.
        assert.strictEqual(c.metrics.enabled, true);
        assert.strictEqual(c.metrics.service.type, "ClusterIP");
        assert.strictEqual(c.metrics.serviceMonitor.enabled, false);
        assert.strictEqual(c.metrics.prometheusRule.enabled, false);
        assert.match(String(r.inputs.version), /^\d+\.\d+\.\d+$/);
        const issuer = ofType(rs, T.issuer).find((x) => meta(x).name === "platform-ca")!;
        assert.deepStrictEqual((issuer.inputs.spec as any).ca, { secretName: "platform-root-ca" });
    });

    it("starts chart pods only after their namespace's quota, LimitRange and the PriorityClasses exist", () => {
        for (const releaseName of [
            "external-secrets",
            "ingress-nginx",
            "kata-deploy",
            "gpu-operator",
        ]) {
            const r = release(rs, releaseName)!;
            const ns = r.inputs.namespace as string;
            const deps = new Set(r.dependencies);
            for (const t of [T.quota, T.limits]) {
                const obj = ofType(rs, t).find((x) => meta(x).namespace === ns)!;
                assert.ok(deps.has(obj.urn), `${releaseName} does not wait for ${t} in ${ns}`);
            }
            const platformPc = ofType(rs, T.priority).find((x) => meta(x).name === "slp-platform")!;
            assert.ok(
                deps.has(platformPc.urn),
                `${releaseName} does not wait for the PriorityClasses`,
            );
        }
    });

    it("pins every Helm chart and names every object", () => {
        for (const r of ofType(rs, "kubernetes:helm.sh/v3:Release")) {
            assert.ok(
                typeof r.inputs.version === "string" && r.inputs.version.length > 0,
                `${r.name} unpinned`,
            );
        }
        for (const r of rs.filter(isKubernetesObject)) {
            assert.ok(meta(r).name, `${r.type} ${r.name} has no metadata.name`);
        }
    });

    it("passes every mandatory shared security rule (the plan's and the policy pack's)", () => {
        const findings = evaluateResources(rs, { environment: "dev" });
        assert.deepStrictEqual(
            findings.filter((f) => f.severity === "mandatory"),
            [],
        );
        assert.deepStrictEqual(
            findings.filter((f) => f.severity === "advisory"),
            [],
            "not even a role that reads Secrets",
        );
    });

    it("declares objects that validate against the Kubernetes schema", () => {
        const results = rs
            .filter(isKubernetesObject)
            .map((r) => validateManifest(toManifest(r), r.type.endsWith("Patch")));
        assert.deepStrictEqual(
            results.filter((v) => v.errors.length > 0),
            [],
        );
        // The check is real: the core kinds and cert-manager's were validated against a bundled schema.
        for (const kind of [
            "Namespace",
            "ResourceQuota",
            "RuntimeClass",
            "ValidatingAdmissionPolicy",
            "ClusterRole",
            "NetworkPolicy",
            "ClusterIssuer",
        ]) {
            assert.ok(
                results.some((v) => v.object.startsWith(`${kind} `) && v.schema !== undefined),
                `no schema used for ${kind}`,
            );
        }
    });
});

describe("baseline: cluster-admin and GPU owner choices", () => {
    it("binds cluster-admin only to what config lists, marked as requested", async () => {
        const raw = devRaw();
        raw.baseline = { rbac: { clusterAdmins: [{ kind: "User", name: iamUser }] } };
        const rs = await recordBaseline("bl-ca", parse(raw).clusters[0], fakeCloud("us-ashburn-1"));
        const ca = ofType(rs, T.clusterRoleBinding).filter(
            (r) => (r.inputs.roleRef as any).name === "cluster-admin",
        );
        assert.strictEqual(ca.length, 1);
        assert.deepStrictEqual(
            (ca[0].inputs.subjects as any[]).map((s) => s.name),
            [iamUser],
        );
        assert.strictEqual(
            meta(ca[0]).annotations?.[exceptionAnnotations.requestedByConfig],
            "true",
        );
    });

    it("uses OKE's device plugin and a standalone DCGM exporter on a runc GPU cluster, never the operator", async () => {
        const raw = devRaw();
        const c = raw.clusters[0];
        c.name = "gpu-runc";
        c.nodePools = [
            c.nodePools[0],
            { name: "gpu", role: "gpu", shape: "VM.GPU.A10.1", size: 2 },
        ];
        const cluster = parse(raw).clusters[0];
        assert.strictEqual(cluster.layer.baseline.gpu.devicePluginOwner, "oke-addon");
        const rs = await recordBaseline("bl-runc", cluster, fakeCloud("us-ashburn-1"));
        assert.ok(!release(rs, "gpu-operator"));
        assert.ok(!release(rs, "kata-deploy"), "no Kata pools, no kata-deploy");
        assert.deepStrictEqual(ofType(rs, T.runtimeClass), []);
        const dcgm = release(rs, "dcgm-exporter")!;
        assert.ok(dcgm);
        const affinity = (dcgm.inputs.values as any).affinity.nodeAffinity
            .requiredDuringSchedulingIgnoredDuringExecution;
        assert.deepStrictEqual(affinity.nodeSelectorTerms[0].matchExpressions[0], {
            key: labels.kataPool,
            operator: "DoesNotExist",
        });
    });

    it("refuses the GPU operator next to OKE's GPU add-on before anything is declared, naming the key", () => {
        const raw = devRaw();
        raw.clusters[0].addons = [{ name: "CertManager" }, { name: "NvidiaGpuPlugin" }];
        assert.throws(
            () => parse(raw),
            (e: Error) =>
                /clusters\[0\]\.baseline\.gpu\.devicePluginOwner|baseline\.gpu\.devicePluginOwner: got "gpu-operator"; expected oke-addon, or remove the NvidiaGpuPlugin add-on/.test(
                    e.message,
                ),
        );
    });

    it("installs cert-manager from its pinned chart when the cluster has no CertManager add-on", async () => {
        const raw = devRaw();
        raw.clusters[0].addons = [];
        const rs = await recordBaseline("bl-cm", parse(raw).clusters[0], fakeCloud("us-ashburn-1"));
        const cm = release(rs, "cert-manager")!;
        assert.ok(cm);
        assert.strictEqual((cm.inputs.values as any).crds.enabled, true);
        assert.strictEqual((cm.inputs.repositoryOpts as any).repo, "https://charts.jetstack.io");
        assert.ok(ofType(rs, T.ns).some((r) => meta(r).name === serviceNamespaces.certManager));
    });
});
