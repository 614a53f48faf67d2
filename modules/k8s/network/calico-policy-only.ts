/**
 * Calico policy-only on OKE with VCN-native pod networking, authored (issue 13): what OKE's
 * "Example: Installing Calico and Setting Up Network Policies"
 * (docs.oracle.com/en-us/iaas/Content/ContEng/Tasks/contengsettingupcalico.htm, section
 * "Installing Calico alongside the OCI VCN-Native Pod Networking CNI plugin") makes of Calico's
 * `manifests/calico-policy-only.yaml`, written as our own objects from projectcalico/calico
 * v3.31.5 (commit 2e4da40144aac869e1ed2cc220b6c4b62f32efdd), not copied from it.
 *
 * From the upstream manifest, as the OKE page edits it:
 * - calico-node DaemonSet: no `initContainers` (no CNI install: the OCI VCN-Native CNI plugin owns
 *   the pods' interfaces and addresses; in v3.31.5 that also drops `ebpf-bootstrap`, which only
 *   the eBPF data plane needs), no `FELIX_TYPHAK8SSERVICENAME`, no `envFrom`
 *   (`kubernetes-services-endpoint`, for eBPF), no `cni-bin-dir`, `cni-net-dir`, `cni-log-dir`
 *   volumes or mounts, plus `FELIX_INTERFACEPREFIX=oci`, `NO_DEFAULT_POOLS=true`,
 *   `FELIX_CHAININSERTMODE=Append`, `FELIX_IPTABLESMANGLEALLOWACTION=Return` and
 *   `FELIX_IPTABLESBACKEND=NFT` (Oracle Linux 8 nodes);
 * - no Typha: the page removes calico-node's Typha setting, so a Typha Deployment would serve no
 *   one (Oracle's own terraform-oci-oke Calico script, before its operator rewrite, drops Typha on
 *   VCN-native too); calico-node reads the API server directly;
 * - calico-kube-controllers Deployment, ServiceAccounts and ClusterRoles as upstream, trimmed below.
 *
 * What cannot be checked here: calico-node needs a Linux node with iptables/nftables and a
 * container runtime, neither of which exists on this machine, so Felix never ran against these
 * objects; the real API server suite admits them (test/real/apiserver).
 */
import * as crypto from "crypto";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import {
    chartImageLockFile,
    defaultChartImageLock,
    lockedImage,
} from "../../constants/chart-images";
import { calicoImages, placeholderDigest } from "../../constants/images";
import { exceptionAnnotations, labels, partOfValue } from "../../constants/labels";
import { privilegedNamespaces } from "../../constants/namespaces";
import {
    restrictedContainerSecurityContext,
    restrictedPodSecurityContext,
} from "../../security/contexts";
import { ImageRef, imageReference } from "../workload";
import type { K8sObject } from "./render-k8s";

/** Names of the install's objects (upstream's, so Calico's docs and tools find them). */
export const calicoPolicyOnly = {
    namespace: privilegedNamespaces.calicoSystem,
    node: "calico-node",
    kubeControllers: "calico-kube-controllers",
} as const;

/** The iptables backend Felix programs: `NFT` on Oracle Linux 8 nodes (the OKE page), else `Legacy`. */
export type IptablesBackend = "NFT" | "Legacy";

/**
 * The OKE page sets `NFT` for Oracle Linux 8 worker images. The program selects Oracle Linux OKE
 * images (modules/oci/images.ts) without fixing the major version; Oracle Linux 8 is what the
 * page names, Oracle Linux 9 was not checked here (Oracle's terraform-oci-oke chose NFT for 8.x
 * and 9.x), and an Oracle Linux 7 image would need `Legacy`.
 */
export const okeIptablesBackend: IptablesBackend = "NFT";

type EnvVar =
    | { readonly name: string; readonly value: string }
    | {
          readonly name: string;
          readonly valueFrom: { readonly fieldRef: { readonly fieldPath: string } };
      };

/**
 * calico-node's environment: upstream's policy-only container env (v3.31.5) without the Typha
 * setting, plus the OKE page's VCN-native settings. `CALICO_MANAGE_CNI=false` stays as upstream
 * writes it for a non-Calico CNI (no CNI credentials to manage).
 */
export function calicoNodeEnv(backend: IptablesBackend): EnvVar[] {
    return [
        // Upstream policy-only manifest.
        { name: "DATASTORE_TYPE", value: "kubernetes" },
        { name: "USE_POD_CIDR", value: "true" },
        { name: "WAIT_FOR_DATASTORE", value: "true" },
        { name: "NODENAME", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } },
        { name: "CALICO_NETWORKING_BACKEND", value: "none" },
        { name: "CLUSTER_TYPE", value: "k8s" },
        { name: "CALICO_MANAGE_CNI", value: "false" },
        { name: "CALICO_DISABLE_FILE_LOGGING", value: "true" },
        { name: "FELIX_DEFAULTENDPOINTTOHOSTACTION", value: "ACCEPT" },
        { name: "FELIX_IPV6SUPPORT", value: "false" },
        { name: "FELIX_HEALTHENABLED", value: "true" },
        // OKE page: Calico alongside the OCI VCN-Native Pod Networking CNI plugin.
        { name: "FELIX_INTERFACEPREFIX", value: "oci" },
        { name: "NO_DEFAULT_POOLS", value: "true" },
        { name: "FELIX_CHAININSERTMODE", value: "Append" },
        { name: "FELIX_IPTABLESMANGLEALLOWACTION", value: "Return" },
        { name: "FELIX_IPTABLESBACKEND", value: backend },
    ];
}

type Rule = {
    readonly apiGroups: readonly string[];
    readonly resources: readonly string[];
    readonly verbs: readonly string[];
};

const calico = "crd.projectcalico.org";

/**
 * calico-node's ClusterRole: upstream's (v3.31.5 `calico-node-rbac.yaml`) without what only the
 * Calico CNI plugin or other setups use:
 * - `serviceaccounts/token` create (tokens for the `calico-cni-plugin` account) and
 *   `pods/status` patch ("The CNI plugin patches pods/status"): there is no Calico CNI plugin;
 * - `configmaps` get (pod CIDR detection on kubeadm and Rancher): node startup treats Forbidden as
 *   "not on kubeadm" (node/pkg/lifecycle/startup/startup.go) and OKE is neither;
 * - `ippools` create/update: `NO_DEFAULT_POOLS=true`, so calico-node creates no pool;
 * - `bgpconfigurations`/`bgppeers` create/update ("only required for upgrade from v2.6").
 */
export const calicoNodeRules: readonly Rule[] = [
    { apiGroups: [""], resources: ["pods", "nodes", "namespaces"], verbs: ["get"] },
    { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["watch", "list"] },
    { apiGroups: [""], resources: ["endpoints", "services"], verbs: ["watch", "list", "get"] },
    { apiGroups: [""], resources: ["nodes/status"], verbs: ["patch", "update"] },
    { apiGroups: ["networking.k8s.io"], resources: ["networkpolicies"], verbs: ["watch", "list"] },
    {
        apiGroups: ["policy.networking.k8s.io"],
        resources: ["adminnetworkpolicies", "baselineadminnetworkpolicies"],
        verbs: ["watch", "list"],
    },
    {
        apiGroups: [""],
        resources: ["pods", "namespaces", "serviceaccounts"],
        verbs: ["list", "watch"],
    },
    {
        apiGroups: [calico],
        resources: [
            "globalfelixconfigs",
            "felixconfigurations",
            "bgppeers",
            "bgpfilters",
            "globalbgpconfigs",
            "bgpconfigurations",
            "ippools",
            "ipreservations",
            "ipamblocks",
            "globalnetworkpolicies",
            "stagedglobalnetworkpolicies",
            "networkpolicies",
            "stagednetworkpolicies",
            "stagedkubernetesnetworkpolicies",
            "globalnetworksets",
            "networksets",
            "clusterinformations",
            "hostendpoints",
            "blockaffinities",
            "caliconodestatuses",
            "tiers",
        ],
        verbs: ["get", "list", "watch"],
    },
    // "Calico creates some tiers on startup" and keeps its config and cluster information.
    { apiGroups: [calico], resources: ["tiers"], verbs: ["create"] },
    {
        apiGroups: [calico],
        resources: ["felixconfigurations", "clusterinformations"],
        verbs: ["create", "update"],
    },
    { apiGroups: [calico], resources: ["caliconodestatuses"], verbs: ["update"] },
    { apiGroups: [""], resources: ["nodes"], verbs: ["get", "list", "watch"] },
];

/**
 * The controllers calico-kube-controllers runs: `node` only, as in the v3.25.1 manifest the OKE
 * page was written against. v3.31.5's manifest adds `loadbalancer` (Calico IPAM for Services of
 * type LoadBalancer), which OKE's cloud controller owns and which has no pool here.
 */
export const kubeControllersEnabled = "node";

/**
 * calico-kube-controllers' ClusterRole: upstream's without the `loadbalancer` controller's rules
 * (`services`/`services/status`, and `namespaces`, "watched for LoadBalancer IP allocation").
 */
export const kubeControllersRules: readonly Rule[] = [
    { apiGroups: [""], resources: ["nodes"], verbs: ["watch", "list", "get"] },
    { apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"] },
    { apiGroups: [calico], resources: ["ipreservations"], verbs: ["list"] },
    {
        apiGroups: [calico],
        resources: ["blockaffinities", "ipamblocks", "ipamhandles", "ipamconfigs", "tiers"],
        verbs: ["get", "list", "create", "update", "delete", "watch"],
    },
    { apiGroups: [calico], resources: ["ippools"], verbs: ["list", "watch"] },
    {
        apiGroups: [calico],
        resources: ["hostendpoints"],
        verbs: ["get", "list", "create", "update", "delete", "watch"],
    },
    {
        apiGroups: [calico],
        resources: ["clusterinformations"],
        verbs: ["get", "list", "create", "update", "watch"],
    },
    {
        apiGroups: [calico],
        resources: ["kubecontrollersconfigurations"],
        verbs: ["get", "list", "create", "update", "watch"],
    },
];

/** UID of calico-kube-controllers (any fixed non-root id: its status file goes to an emptyDir). */
export const kubeControllersUid = 10999;

/**
 * Why each host path of calico-node is mounted (the OKE page's list without the CNI ones):
 * a privileged host-network pod is a node-level component, so its mounts are the review surface.
 */
export const calicoNodeHostPaths = {
    "lib-modules": {
        path: "/lib/modules",
        mountPath: "/lib/modules",
        readOnly: true,
        why: "kernel modules for iptables/ipset feature detection (read-only)",
    },
    "xtables-lock": {
        path: "/run/xtables.lock",
        mountPath: "/run/xtables.lock",
        type: "FileOrCreate",
        readOnly: false,
        why: "the host's iptables lock, shared with kube-proxy",
    },
    "var-run-calico": {
        path: "/var/run/calico",
        mountPath: "/var/run/calico",
        type: "DirectoryOrCreate",
        readOnly: false,
        why: "Felix's runtime state and status",
    },
    "var-lib-calico": {
        path: "/var/lib/calico",
        mountPath: "/var/lib/calico",
        type: "DirectoryOrCreate",
        readOnly: false,
        why: "the node name calico-node records for its restarts",
    },
    policysync: {
        path: "/var/run/nodeagent",
        mountPath: "/var/run/nodeagent",
        type: "DirectoryOrCreate",
        readOnly: false,
        why: "per-pod policy sync sockets (kept as the OKE page keeps it)",
    },
    bpffs: {
        path: "/sys/fs/bpf",
        mountPath: "/sys/fs/bpf",
        type: "Directory",
        readOnly: false,
        why: "the BPF filesystem of the eBPF data plane (unused with iptables; kept as the OKE page keeps it)",
    },
} as const;

/** Inputs of {@link calicoPolicyOnlyObjects}. */
export interface CalicoPolicyOnlyOptions {
    /** Namespace of calico-node and calico-kube-controllers. */
    readonly namespace: string;
    readonly images: { readonly node: ImageRef; readonly kubeControllers: ImageRef };
    readonly iptablesBackend: IptablesBackend;
}

const managed = { [labels.managedBy]: "pulumi", [labels.partOf]: partOfValue };

/** Labels of a component's pods: upstream's `k8s-app` and ours. */
export function calicoPodLabels(name: string): Record<string, string> {
    return { "k8s-app": name, [labels.name]: name };
}

/**
 * Every object of the install but its CRDs (pure): ServiceAccounts, ClusterRoles and their
 * bindings, the calico-node DaemonSet and the calico-kube-controllers Deployment.
 */
export function calicoPolicyOnlyObjects(o: CalicoPolicyOnlyOptions): K8sObject[] {
    const ns = o.namespace;
    const { node, kubeControllers } = calicoPolicyOnly;
    const out: K8sObject[] = [];
    for (const [name, rules] of [
        [node, calicoNodeRules],
        [kubeControllers, kubeControllersRules],
    ] as const) {
        out.push(
            {
                apiVersion: "v1",
                kind: "ServiceAccount",
                metadata: { name, namespace: ns, labels: { ...managed } },
            },
            {
                apiVersion: "rbac.authorization.k8s.io/v1",
                kind: "ClusterRole",
                metadata: { name, labels: { ...managed } },
                rules: rules.map((r) => ({
                    apiGroups: [...r.apiGroups],
                    resources: [...r.resources],
                    verbs: [...r.verbs],
                })),
            },
            {
                apiVersion: "rbac.authorization.k8s.io/v1",
                kind: "ClusterRoleBinding",
                metadata: { name, labels: { ...managed } },
                roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name },
                subjects: [{ kind: "ServiceAccount", name, namespace: ns }],
            },
        );
    }
    const hostPaths = Object.entries(calicoNodeHostPaths);
    out.push({
        apiVersion: "apps/v1",
        kind: "DaemonSet",
        metadata: { name: node, namespace: ns, labels: { ...managed, ...calicoPodLabels(node) } },
        spec: {
            selector: { matchLabels: { "k8s-app": node } },
            updateStrategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 1 } },
            template: {
                metadata: {
                    labels: { ...managed, ...calicoPodLabels(node) },
                    annotations: {
                        [exceptionAnnotations.needsApiToken]:
                            "Felix watches policies, pods and its Calico resources on the API server",
                    },
                },
                spec: {
                    nodeSelector: { "kubernetes.io/os": "linux" },
                    // Felix programs the host's own iptables: it must share the node's network.
                    hostNetwork: true,
                    // Every node, whatever its taints (GPU and Kata pools included): a node
                    // without calico-node enforces no NetworkPolicy.
                    tolerations: [
                        { effect: "NoSchedule", operator: "Exists" },
                        { key: "CriticalAddonsOnly", operator: "Exists" },
                        { effect: "NoExecute", operator: "Exists" },
                    ],
                    serviceAccountName: node,
                    // Felix watches the API server with its account's token.
                    automountServiceAccountToken: true,
                    securityContext: { seccompProfile: { type: "RuntimeDefault" } },
                    // Upstream: "Minimize downtime during a rolling upgrade or deletion".
                    terminationGracePeriodSeconds: 0,
                    priorityClassName: "system-node-critical",
                    containers: [
                        {
                            name: node,
                            image: imageReference(o.images.node),
                            imagePullPolicy: "IfNotPresent",
                            env: calicoNodeEnv(o.iptablesBackend),
                            // Felix writes iptables/nftables rules, routes and sysctls in the
                            // host's network namespace (/proc/sys is read-only to unprivileged
                            // containers): privileged, as upstream and the tigera-operator run it.
                            securityContext: { privileged: true },
                            // Upstream requests 250m CPU and sets no limit; the limits are
                            // generous caps (the platform requires limits), not measured needs.
                            resources: {
                                requests: {
                                    cpu: "250m",
                                    memory: "256Mi",
                                    "ephemeral-storage": "64Mi",
                                },
                                limits: { cpu: "2", memory: "1Gi", "ephemeral-storage": "1Gi" },
                            },
                            lifecycle: {
                                preStop: { exec: { command: ["/bin/calico-node", "-shutdown"] } },
                            },
                            livenessProbe: {
                                exec: { command: ["/bin/calico-node", "-felix-live"] },
                                periodSeconds: 10,
                                initialDelaySeconds: 10,
                                failureThreshold: 6,
                                timeoutSeconds: 10,
                            },
                            readinessProbe: {
                                exec: { command: ["/bin/calico-node", "-felix-ready"] },
                                periodSeconds: 10,
                                timeoutSeconds: 10,
                            },
                            volumeMounts: hostPaths.map(([name, h]) => ({
                                name,
                                mountPath: h.mountPath,
                                readOnly: h.readOnly,
                            })),
                        },
                    ],
                    volumes: hostPaths.map(([name, h]) => ({
                        name,
                        hostPath: "type" in h ? { path: h.path, type: h.type } : { path: h.path },
                    })),
                },
            },
        },
    });
    out.push({
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: {
            name: kubeControllers,
            namespace: ns,
            labels: { ...managed, ...calicoPodLabels(kubeControllers) },
        },
        spec: {
            // "The controllers can only have a single active instance."
            replicas: 1,
            selector: { matchLabels: { "k8s-app": kubeControllers } },
            strategy: { type: "Recreate" },
            template: {
                metadata: {
                    labels: { ...managed, ...calicoPodLabels(kubeControllers) },
                    annotations: {
                        [exceptionAnnotations.needsApiToken]:
                            "the node controller watches nodes and pods and cleans up Calico's per-node data",
                    },
                },
                spec: {
                    nodeSelector: { "kubernetes.io/os": "linux" },
                    tolerations: [
                        { key: "CriticalAddonsOnly", operator: "Exists" },
                        { key: "node-role.kubernetes.io/control-plane", effect: "NoSchedule" },
                    ],
                    serviceAccountName: kubeControllers,
                    automountServiceAccountToken: true,
                    priorityClassName: "system-cluster-critical",
                    securityContext: restrictedPodSecurityContext(kubeControllersUid),
                    containers: [
                        {
                            name: kubeControllers,
                            image: imageReference(o.images.kubeControllers),
                            imagePullPolicy: "IfNotPresent",
                            env: [
                                { name: "ENABLED_CONTROLLERS", value: kubeControllersEnabled },
                                { name: "DATASTORE_TYPE", value: "kubernetes" },
                            ],
                            securityContext: restrictedContainerSecurityContext(kubeControllersUid),
                            resources: {
                                requests: {
                                    cpu: "50m",
                                    memory: "64Mi",
                                    "ephemeral-storage": "16Mi",
                                },
                                limits: {
                                    cpu: "500m",
                                    memory: "256Mi",
                                    "ephemeral-storage": "64Mi",
                                },
                            },
                            // check-status reads /status/status.json, which kube-controllers
                            // writes (kube-controllers/pkg/status): an emptyDir under a read-only root.
                            livenessProbe: {
                                exec: { command: ["/usr/bin/check-status", "-l"] },
                                periodSeconds: 10,
                                initialDelaySeconds: 10,
                                failureThreshold: 6,
                                timeoutSeconds: 10,
                            },
                            readinessProbe: {
                                exec: { command: ["/usr/bin/check-status", "-r"] },
                                periodSeconds: 10,
                            },
                            volumeMounts: [{ name: "status", mountPath: "/status" }],
                        },
                    ],
                    volumes: [{ name: "status", emptyDir: { sizeLimit: "1Mi" } }],
                },
            },
        },
    });
    return out;
}

/** A connection a host-network component opens; NetworkPolicy does not apply to it. */
export interface HostNetworkFlow {
    readonly from: string;
    readonly namespace: string;
    readonly to: string;
    readonly port: "api-server" | number;
    readonly purpose: string;
}

/**
 * calico-node's connections (host network, so outside NetworkPolicy: the workers' NSG governs
 * them). No Typha, so none to TCP 5473; its health endpoint (9099) listens on localhost only and
 * the probes exec into the container. calico-kube-controllers is a pod-network pod: its API
 * server egress is in the intent model (intent.ts) like every other policed pod's.
 */
export const calicoHostNetworkFlows: readonly HostNetworkFlow[] = [
    {
        from: calicoPolicyOnly.node,
        namespace: calicoPolicyOnly.namespace,
        to: "api-server",
        port: "api-server",
        purpose: "Felix watches policies, pods, namespaces and its Calico resources",
    },
];

/** An upstream file the program fetches at deploy time, by URL and SHA-256 of its bytes. */
export interface PinnedManifest {
    readonly url: string;
    readonly sha256: string;
    /** The CRD names it must contain. */
    readonly crds: readonly string[];
}

const calicoCrdKinds = [
    "bgpconfigurations",
    "bgpfilters",
    "bgppeers",
    "blockaffinities",
    "caliconodestatuses",
    "clusterinformations",
    "felixconfigurations",
    "globalnetworkpolicies",
    "globalnetworksets",
    "hostendpoints",
    "ipamblocks",
    "ipamconfigs",
    "ipamhandles",
    "ippools",
    "ipreservations",
    "kubecontrollersconfigurations",
    "networkpolicies",
    "networksets",
    "stagedglobalnetworkpolicies",
    "stagedkubernetesnetworkpolicies",
    "stagednetworkpolicies",
    "tiers",
];

/**
 * The CRDs calico-node needs with the Kubernetes datastore: Calico v3.31.5's
 * `manifests/crds.yaml` (the 22 `crd.projectcalico.org` CRDs and the two
 * `policy.networking.k8s.io` AdminNetworkPolicy CRDs calico-node watches; the same 24 the
 * policy-only manifest carries). Not committed (Calico's file): fetched at deploy time from the
 * tag and refused unless its SHA-256 is this one, computed from the tag's blob in a snapshot of
 * projectcalico/calico at v3.31.5 (commit 2e4da40144aac869e1ed2cc220b6c4b62f32efdd); its 24 CRDs
 * are object-for-object the ones of the charts folder the tests apply (checked when pinned).
 */
export const calicoCrdManifest: PinnedManifest = {
    url: "https://raw.githubusercontent.com/projectcalico/calico/v3.31.5/manifests/crds.yaml",
    sha256: "1d6d5e523f92ee1e8227a48c016229c668f94035431b82f19139affeb45dbeff",
    crds: [
        ...calicoCrdKinds.map((k) => `${k}.crd.projectcalico.org`),
        "adminnetworkpolicies.policy.networking.k8s.io",
        "baselineadminnetworkpolicies.policy.networking.k8s.io",
    ],
};

/** Fetches a URL's bytes. */
export type ManifestFetcher = (url: string) => Promise<Uint8Array>;

async function httpsFetch(url: string): Promise<Uint8Array> {
    const res = await fetch(url, { signal: AbortSignal.timeout(60_000) });
    if (!res.ok) {
        throw new Error(`GET ${url}: HTTP ${res.status}`);
    }
    return new Uint8Array(await res.arrayBuffer());
}

/**
 * How the program reads pinned manifests. The offline plan and the tests (mock runtime, no
 * network) set {@link offlineManifests}: the manifest is then not fetched, and its ConfigGroup
 * carries a comment naming the URL and hash instead (the real API server suite applies the same
 * CRDs from the charts folder).
 */
export const manifestSource: { fetch: ManifestFetcher; offline: boolean } = {
    fetch: httpsFetch,
    offline: false,
};

/** Switches {@link manifestSource} to offline (tools/plan/mocks.ts). */
export function offlineManifests(): void {
    manifestSource.offline = true;
}

/** The text the offline plan records instead of a pinned manifest. */
export function offlinePlaceholder(m: PinnedManifest): string {
    return `# resolved at deploy time: ${m.url} (sha256 ${m.sha256}, ${m.crds.length} CRDs)\n`;
}

/** The manifest's text after its SHA-256 and CRD names are checked; throws otherwise. */
export async function loadPinnedManifest(
    m: PinnedManifest,
    fetcher: ManifestFetcher = manifestSource.fetch,
): Promise<string> {
    const bytes = await fetcher(m.url);
    const got = crypto.createHash("sha256").update(bytes).digest("hex");
    if (got !== m.sha256) {
        throw new Error(
            `${m.url}: SHA-256 ${got}, expected ${m.sha256}; refusing to apply a manifest that is not the pinned one`,
        );
    }
    const text = Buffer.from(bytes).toString("utf8");
    const missing = m.crds.filter((n) => !text.includes(`name: ${n}\n`));
    if (missing.length > 0) {
        throw new Error(`${m.url}: no CRD ${missing.join(", ")}`);
    }
    return text;
}

/** Args of {@link CalicoPolicyOnly}. */
export interface CalicoPolicyOnlyArgs {
    /** Namespace of calico-node and calico-kube-controllers; default `calico-system` (the baseline creates it, privileged). */
    readonly namespace?: string;
    /** calico-node and calico-kube-controllers images; default {@link calicoImages}. */
    readonly images?: CalicoPolicyOnlyOptions["images"];
    /** Felix's iptables backend; default {@link okeIptablesBackend}. */
    readonly iptablesBackend?: IptablesBackend;
    /** Where the CRDs come from; default {@link calicoCrdManifest}, fetched and hash-checked at deploy time. */
    readonly crds?: PinnedManifest;
}

/** Calico policy-only (calico-node, calico-kube-controllers, RBAC, CRDs) on an OKE VCN-native cluster. */
export class CalicoPolicyOnly extends pulumi.ComponentResource {
    constructor(name: string, args: CalicoPolicyOnlyArgs, opts?: pulumi.ComponentResourceOptions) {
        super("secure-llm-platform:network:CalicoPolicyOnly", name, {}, opts);
        const lock = defaultChartImageLock();
        const images = args.images ?? {
            node: lockedImage(calicoImages.node, lock),
            kubeControllers: lockedImage(calicoImages.kubeControllers, lock),
        };
        for (const [role, image] of Object.entries(images)) {
            if (image.digest === placeholderDigest) {
                pulumi.log.warn(
                    `Calico ${role} image ${image.repository}:${image.tag}: no digest yet (not readable here): run npm run images:mirror -- --stack <stack> --write-lock and commit ${chartImageLockFile} before deploying`,
                    this,
                );
            }
        }
        const crds = args.crds ?? calicoCrdManifest;
        const crdGroup = new k8s.yaml.v2.ConfigGroup(
            `${name}-crds`,
            {
                yaml: manifestSource.offline
                    ? offlinePlaceholder(crds)
                    : pulumi.output(loadPinnedManifest(crds)),
            },
            { parent: this },
        );
        const objects = calicoPolicyOnlyObjects({
            namespace: args.namespace ?? calicoPolicyOnly.namespace,
            images,
            iptablesBackend: args.iptablesBackend ?? okeIptablesBackend,
        });
        const rbac: pulumi.Resource[] = [];
        const child = { parent: this };
        for (const o of objects) {
            const id = `${name}-${o.kind.toLowerCase()}-${o.metadata.name}`;
            const { apiVersion: _a, kind: _k, ...body } = o;
            void _a;
            void _k;
            switch (o.kind) {
                case "ServiceAccount":
                    rbac.push(new k8s.core.v1.ServiceAccount(id, body, child));
                    break;
                case "ClusterRole":
                    rbac.push(new k8s.rbac.v1.ClusterRole(id, body, child));
                    break;
                case "ClusterRoleBinding":
                    rbac.push(
                        new k8s.rbac.v1.ClusterRoleBinding(
                            id,
                            body as unknown as k8s.rbac.v1.ClusterRoleBindingArgs,
                            child,
                        ),
                    );
                    break;
                case "DaemonSet":
                    new k8s.apps.v1.DaemonSet(id, body as unknown as k8s.apps.v1.DaemonSetArgs, {
                        parent: this,
                        dependsOn: [crdGroup, ...rbac],
                    });
                    break;
                case "Deployment":
                    new k8s.apps.v1.Deployment(id, body as unknown as k8s.apps.v1.DeploymentArgs, {
                        parent: this,
                        dependsOn: [crdGroup, ...rbac],
                    });
                    break;
                default:
                    throw new Error(`CalicoPolicyOnly: no resource type for ${o.kind}`);
            }
        }
        this.registerOutputs({});
    }
}
