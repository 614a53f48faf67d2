/**
 * The authored Calico policy-only install on OKE VCN-native (issue 13): the rendered objects
 * against the OKE page's edits of Calico v3.31.5's calico-policy-only.yaml, the RBAC it grants,
 * which clusters get it, its CRD manifest's hash check, and its flows in the intent model.
 */
import * as assert from "assert";
import * as crypto from "crypto";
import { calicoImages } from "../../modules/constants/images";
import { exceptionAnnotations } from "../../modules/constants/labels";
import { privilegedNamespaces } from "../../modules/constants/namespaces";
import { NetworkSecurity } from "../../modules/k8s/network";
import {
    calicoCrdManifest,
    calicoHostNetworkFlows,
    calicoNodeEnv,
    calicoPolicyOnly,
    calicoPolicyOnlyObjects,
    loadPinnedManifest,
    offlinePlaceholder,
} from "../../modules/k8s/network/calico-policy-only";
import { buildIntent } from "../../modules/k8s/network/intent";
import { calicoInstallMode } from "../../modules/k8s/network/render-calico";
import { podSpecViolations } from "../../modules/k8s/workload";
import { recordedResources, resetRecords, settle } from "../../tools/plan/mocks";
import { cloudSubnets, clusterIntentInputs, fakeCloud } from "../support/stacks";
import { okeCluster } from "./fixtures";

type Any = Record<string, any>;

const digest = `sha256:${"a".repeat(64)}`;
const objects = calicoPolicyOnlyObjects({
    namespace: privilegedNamespaces.calicoSystem,
    images: {
        node: { ...calicoImages.node, digest },
        kubeControllers: { ...calicoImages.kubeControllers, digest },
    },
    iptablesBackend: "NFT",
}) as Any[];
const find = (kind: string, name: string) =>
    objects.find((o) => o.kind === kind && o.metadata.name === name)!;
const daemonSet = find("DaemonSet", "calico-node");
const nodePod = daemonSet.spec.template.spec;
const nodeContainer = nodePod.containers[0];
const deployment = find("Deployment", "calico-kube-controllers");
const kcPod = deployment.spec.template.spec;

describe("Calico policy-only on OKE VCN-native: rendered objects", () => {
    it("renders exactly the two accounts, their roles and bindings, calico-node and kube-controllers (no Typha, no CNI plugin account)", () => {
        assert.deepStrictEqual(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort(), [
            "ClusterRole/calico-kube-controllers",
            "ClusterRole/calico-node",
            "ClusterRoleBinding/calico-kube-controllers",
            "ClusterRoleBinding/calico-node",
            "DaemonSet/calico-node",
            "Deployment/calico-kube-controllers",
            "ServiceAccount/calico-kube-controllers",
            "ServiceAccount/calico-node",
        ]);
        for (const o of objects.filter((x) => x.metadata.namespace !== undefined)) {
            assert.strictEqual(o.metadata.namespace, "calico-system");
        }
    });

    it("sets calico-node's env exactly as the OKE page's VCN-native edit of the upstream manifest", () => {
        const env = Object.fromEntries(
            (nodeContainer.env as Any[]).map((e) => [e.name, e.value ?? e.valueFrom]),
        );
        assert.deepStrictEqual(env, {
            DATASTORE_TYPE: "kubernetes",
            USE_POD_CIDR: "true",
            WAIT_FOR_DATASTORE: "true",
            NODENAME: { fieldRef: { fieldPath: "spec.nodeName" } },
            CALICO_NETWORKING_BACKEND: "none",
            CLUSTER_TYPE: "k8s",
            CALICO_MANAGE_CNI: "false",
            CALICO_DISABLE_FILE_LOGGING: "true",
            FELIX_DEFAULTENDPOINTTOHOSTACTION: "ACCEPT",
            FELIX_IPV6SUPPORT: "false",
            FELIX_HEALTHENABLED: "true",
            FELIX_INTERFACEPREFIX: "oci",
            NO_DEFAULT_POOLS: "true",
            FELIX_CHAININSERTMODE: "Append",
            FELIX_IPTABLESMANGLEALLOWACTION: "Return",
            FELIX_IPTABLESBACKEND: "NFT",
        });
        assert.strictEqual(
            nodeContainer.envFrom,
            undefined,
            "no kubernetes-services-endpoint envFrom",
        );
        assert.ok(!("FELIX_TYPHAK8SSERVICENAME" in env), "no Typha");
        const legacy = calicoNodeEnv("Legacy").find((e) => e.name === "FELIX_IPTABLESBACKEND");
        assert.deepStrictEqual(legacy, { name: "FELIX_IPTABLESBACKEND", value: "Legacy" });
    });

    it("installs no CNI: no init containers and no CNI host paths", () => {
        assert.strictEqual(nodePod.initContainers, undefined);
        const paths = (nodePod.volumes as Any[]).map((v) => v.hostPath?.path);
        for (const cni of ["/opt/cni/bin", "/etc/cni/net.d", "/var/log/calico/cni", "/proc"]) {
            assert.ok(!paths.includes(cni), `${cni} mounted`);
        }
        assert.deepStrictEqual(paths.sort(), [
            "/lib/modules",
            "/run/xtables.lock",
            "/sys/fs/bpf",
            "/var/lib/calico",
            "/var/run/calico",
            "/var/run/nodeagent",
        ]);
        const mounts = Object.fromEntries(
            (nodeContainer.volumeMounts as Any[]).map((m) => [m.name, m.readOnly]),
        );
        assert.strictEqual(mounts["lib-modules"], true);
        assert.deepStrictEqual(
            Object.keys(mounts).sort(),
            (nodePod.volumes as Any[]).map((v) => v.name).sort(),
            "every volume mounted, nothing else",
        );
    });

    it("runs calico-node as a system-node-critical, host-network, privileged pod with nothing more", () => {
        assert.strictEqual(nodePod.hostNetwork, true);
        assert.strictEqual(nodePod.hostPID, undefined);
        assert.strictEqual(nodePod.hostIPC, undefined);
        assert.strictEqual(nodePod.priorityClassName, "system-node-critical");
        assert.deepStrictEqual(nodePod.securityContext, {
            seccompProfile: { type: "RuntimeDefault" },
        });
        assert.deepStrictEqual(nodeContainer.securityContext, { privileged: true });
        assert.deepStrictEqual(
            (nodePod.tolerations as Any[]).map(
                (t) => `${t.key ?? ""}:${t.effect ?? ""}:${t.operator}`,
            ),
            [":NoSchedule:Exists", "CriticalAddonsOnly::Exists", ":NoExecute:Exists"],
        );
        assert.match(nodeContainer.image, /^quay\.io\/calico\/node:v3\.31\.5@sha256:[0-9a-f]{64}$/);
        assert.deepStrictEqual(nodeContainer.livenessProbe.exec.command, [
            "/bin/calico-node",
            "-felix-live",
        ]);
        assert.deepStrictEqual(nodeContainer.readinessProbe.exec.command, [
            "/bin/calico-node",
            "-felix-ready",
        ]);
        assert.ok(nodeContainer.resources.limits.cpu && nodeContainer.resources.limits.memory);
    });

    it("runs calico-kube-controllers under the restricted profile and the platform's hardening rules", () => {
        // The API token is the one reviewed exception, stated on the pod template.
        assert.deepStrictEqual(
            podSpecViolations(kcPod).filter((v) => !/automountServiceAccountToken/.test(v)),
            [],
        );
        assert.ok(
            deployment.spec.template.metadata.annotations[exceptionAnnotations.needsApiToken],
        );
        assert.strictEqual(kcPod.hostNetwork, undefined);
        assert.strictEqual(kcPod.priorityClassName, "system-cluster-critical");
        const c = kcPod.containers[0];
        assert.deepStrictEqual(Object.fromEntries((c.env as Any[]).map((e) => [e.name, e.value])), {
            ENABLED_CONTROLLERS: "node",
            DATASTORE_TYPE: "kubernetes",
        });
        assert.strictEqual(c.securityContext.readOnlyRootFilesystem, true);
        assert.deepStrictEqual(c.volumeMounts, [{ name: "status", mountPath: "/status" }]);
        assert.strictEqual(deployment.spec.replicas, 1);
    });

    it("refuses an image that is not pinned by digest", () => {
        assert.throws(
            () =>
                calicoPolicyOnlyObjects({
                    namespace: "calico-system",
                    images: {
                        node: { ...calicoImages.node, digest: "latest" },
                        kubeControllers: { ...calicoImages.kubeControllers, digest },
                    },
                    iptablesBackend: "NFT",
                }),
            /not pinned by digest/,
        );
    });
});

describe("Calico policy-only: RBAC", () => {
    const rules = (name: string) => find("ClusterRole", name).rules as Any[];
    const grants = (name: string, group: string, resource: string) =>
        rules(name)
            .filter((r) => r.apiGroups.includes(group) && r.resources.includes(resource))
            .flatMap((r) => r.verbs as string[]);

    it("grants no wildcard, no secrets, no configmaps and no token minting", () => {
        for (const name of ["calico-node", "calico-kube-controllers"]) {
            for (const r of rules(name)) {
                for (const x of [...r.apiGroups, ...r.resources, ...r.verbs]) {
                    assert.notStrictEqual(x, "*", `${name}: wildcard`);
                }
                assert.ok(!r.resources.includes("secrets"), `${name}: secrets`);
                assert.ok(!r.resources.includes("configmaps"), `${name}: configmaps`);
                assert.ok(!r.resources.includes("serviceaccounts/token"), `${name}: tokens`);
                assert.ok(!r.verbs.includes("escalate") && !r.verbs.includes("bind"));
            }
        }
    });

    it("lets calico-node read what Felix enforces and write only its own state", () => {
        assert.deepStrictEqual(
            grants("calico-node", "networking.k8s.io", "networkpolicies").sort(),
            ["list", "watch"],
        );
        for (const r of ["globalnetworkpolicies", "networkpolicies", "tiers", "hostendpoints"]) {
            assert.ok(
                ["get", "list", "watch"].every((v) =>
                    grants("calico-node", "crd.projectcalico.org", r).includes(v),
                ),
                r,
            );
        }
        // Writes: its node's status, Felix config and cluster information, node status, tiers.
        const writes = rules("calico-node")
            .filter((r) => r.verbs.some((v: string) => !["get", "list", "watch"].includes(v)))
            .flatMap((r) => (r.resources as string[]).map((res) => `${r.apiGroups[0]}/${res}`))
            .sort();
        assert.deepStrictEqual(writes, [
            "/nodes/status",
            "crd.projectcalico.org/caliconodestatuses",
            "crd.projectcalico.org/clusterinformations",
            "crd.projectcalico.org/felixconfigurations",
            "crd.projectcalico.org/tiers",
        ]);
        assert.deepStrictEqual(grants("calico-node", "", "pods/status"), []);
        assert.deepStrictEqual(grants("calico-node", "crd.projectcalico.org", "ippools").sort(), [
            "get",
            "list",
            "watch",
        ]);
    });

    it("gives kube-controllers the node controller's rules only (no Services)", () => {
        assert.deepStrictEqual(grants("calico-kube-controllers", "", "services"), []);
        assert.deepStrictEqual(grants("calico-kube-controllers", "", "namespaces"), []);
        assert.ok(
            grants("calico-kube-controllers", "crd.projectcalico.org", "ipamblocks").includes(
                "delete",
            ),
        );
        assert.deepStrictEqual(grants("calico-kube-controllers", "", "pods").sort(), [
            "get",
            "list",
            "watch",
        ]);
    });

    it("binds each role to its own account in calico-system only", () => {
        for (const name of ["calico-node", "calico-kube-controllers"]) {
            const b = find("ClusterRoleBinding", name);
            assert.deepStrictEqual(b.roleRef, {
                apiGroup: "rbac.authorization.k8s.io",
                kind: "ClusterRole",
                name,
            });
            assert.deepStrictEqual(b.subjects, [
                { kind: "ServiceAccount", name, namespace: "calico-system" },
            ]);
        }
    });
});

describe("Calico: which install a cluster gets", () => {
    it("policy-only on OKE VCN-native; the operator on flannel and existing clusters; none when off", () => {
        const mode = (target: "oke" | "existing", podNetworking?: string, installCalico = true) =>
            calicoInstallMode({ target, podNetworking, installCalico });
        assert.strictEqual(mode("oke", "vcn-native"), "policy-only");
        assert.strictEqual(mode("oke", "flannel"), "operator");
        assert.strictEqual(mode("existing"), "operator");
        assert.strictEqual(mode("oke", "vcn-native", false), "none");
    });

    it("declares the component, not the tigera-operator chart, on an OKE VCN-native cluster", async () => {
        resetRecords();
        const cluster = okeCluster("proxy");
        new NetworkSecurity("calico-vcn", {
            cluster,
            environment: "dev",
            cloud: { ...fakeCloud(cluster.region), ...cloudSubnets(cluster)! },
        });
        await settle();
        const rs = [...recordedResources()];
        assert.ok(!rs.some((r) => r.type === "kubernetes:helm.sh/v3:Release"));
        const crds = rs.find((r) => r.type === "kubernetes:yaml/v2:ConfigGroup")!;
        assert.ok(crds, "no CRD ConfigGroup");
        // Under the mock runtime the manifest is named, never fetched.
        assert.strictEqual(crds.inputs.yaml, offlinePlaceholder(calicoCrdManifest));
        const ds = rs.find((r) => r.type === "kubernetes:apps/v1:DaemonSet")!;
        assert.ok(ds.dependencies.includes(crds.urn), "calico-node waits for the CRDs");
    });

    it("keeps the operator (and its warning) on an OKE flannel cluster", async () => {
        resetRecords();
        const cluster = okeCluster("proxy");
        const flannel = {
            ...cluster,
            network: { ...cluster.network!, podNetworking: "flannel" as const },
        };
        new NetworkSecurity("calico-flannel", {
            cluster: flannel,
            environment: "dev",
            cloud: { ...fakeCloud(cluster.region), ...cloudSubnets(cluster)! },
        });
        await settle();
        const rs = [...recordedResources()];
        assert.strictEqual(rs.filter((r) => r.type === "kubernetes:helm.sh/v3:Release").length, 1);
        assert.ok(!rs.some((r) => r.type === "secure-llm-platform:network:CalicoPolicyOnly"));
    });
});

describe("Calico policy-only: the CRD manifest fetched at deploy time", () => {
    const text = "kind: CustomResourceDefinition\nmetadata:\n  name: tiers.crd.projectcalico.org\n";
    const bytes = new TextEncoder().encode(text);
    const pin = {
        url: "https://example.invalid/crds.yaml",
        sha256: crypto.createHash("sha256").update(bytes).digest("hex"),
        crds: ["tiers.crd.projectcalico.org"],
    };

    it("returns the text when the bytes hash to the pin", async () => {
        assert.strictEqual(await loadPinnedManifest(pin, async () => bytes), text);
    });

    it("refuses other bytes, and a manifest without a CRD it must hold", async () => {
        await assert.rejects(
            loadPinnedManifest(pin, async () => new TextEncoder().encode(`${text}#\n`)),
            /SHA-256 [0-9a-f]{64}, expected/,
        );
        const other = { ...pin, crds: [...pin.crds, "ippools.crd.projectcalico.org"] };
        await assert.rejects(
            loadPinnedManifest(other, async () => bytes),
            /no CRD ippools/,
        );
    });

    it("pins Calico v3.31.5's crds.yaml by tag and SHA-256, with its 24 CRDs", () => {
        assert.match(
            calicoCrdManifest.url,
            /\/projectcalico\/calico\/v3\.31\.5\/manifests\/crds\.yaml$/,
        );
        assert.match(calicoCrdManifest.sha256, /^[0-9a-f]{64}$/);
        assert.strictEqual(calicoCrdManifest.crds.length, 24);
    });
});

describe("Calico policy-only: flows", () => {
    it("polices calico-kube-controllers with egress to the API server only; calico-node's host-network flow is listed", () => {
        const intent = buildIntent(clusterIntentInputs(okeCluster("proxy")));
        const kc = intent.workloads.find((w) => w.id === calicoPolicyOnly.kubeControllers)!;
        assert.ok(kc, "no calico-kube-controllers workload");
        assert.strictEqual(kc.namespace, "calico-system");
        assert.ok(intent.platformNamespaces.includes("calico-system"), "calico-system not policed");
        const egress = intent.cidrEgress.filter((e) => e.from === kc.id);
        assert.strictEqual(egress.length, 1);
        assert.deepStrictEqual(egress[0].cidrs, intent.apiServer.cidrs);
        assert.deepStrictEqual(egress[0].ports, [intent.apiServer.port]);
        assert.ok(!intent.flows.some((f) => f.from === kc.id || f.to === kc.id));
        assert.ok(!(kc.id in intent.egress), "no domains");
        assert.deepStrictEqual(
            calicoHostNetworkFlows.map((f) => `${f.namespace}/${f.from}->${f.to}`),
            ["calico-system/calico-node->api-server"],
        );
    });

    it("has no Calico workload where the operator or nothing installs Calico", () => {
        const c = okeCluster("cilium");
        const intent = buildIntent(clusterIntentInputs(c));
        assert.ok(!intent.workloads.some((w) => w.id === calicoPolicyOnly.kubeControllers));
    });
});
