/**
 * What the pinned Helm charts create in a cluster with the values we give them (pure): their
 * pods with the Pod Security level each meets, the objects others could collide with (cluster-
 * scoped ones, webhooks, CRDs, objects outside the release namespace), the pods operators start
 * from the custom resources the charts create, and the network flows all of them need.
 *
 * CI cannot fetch charts, so this is data, read from each chart's templates at the pinned version
 * (paths below) and checked by rendering the chart sources with `helm template` and our values
 * (see docs/charts.md). Where a template's output depends on a value we set, the switch is
 * mirrored here, so a values change that brings a pod or an object back shows up in the tests.
 */
import { charts, kubePrometheusStackChart, tigeraOperatorChart } from "../constants/charts";

/** Pod Security Standards levels, weakest last. */
export type PodSecurityLevel = "restricted" | "baseline" | "privileged";

/** Ranks levels: a pod fits a namespace when its rank is at most the namespace's. */
export const levelRank: Readonly<Record<PodSecurityLevel, number>> = {
    restricted: 0,
    baseline: 1,
    privileged: 2,
};

/** One pod template a chart (or the operator it installs) creates. */
export interface ChartPod {
    readonly kind: "Deployment" | "DaemonSet" | "StatefulSet" | "Job" | "Pod";
    readonly name: string;
    readonly namespace: string;
    /** The level its pod spec meets with our values. */
    readonly level: PodSecurityLevel;
    /** What keeps it from `restricted`, when it is not. */
    readonly why?: string;
    /** Helm hook it runs under (`pre-install`, `post-delete`, …), if any. */
    readonly hook?: string;
    /** Labels that select its pods. */
    readonly podLabels: Readonly<Record<string, string>>;
    /** The chart template (or operator source) it comes from. */
    readonly source: string;
    /** Started by an operator from a custom resource at run time, not rendered by Helm. */
    readonly operatorMade?: boolean;
}

/** A flow a chart's pods need; `peer` is another pod of the chart, `kube-apiserver`, a scrape target or `egress-proxy`. */
export interface ChartFlow {
    readonly from: string;
    readonly to: string;
    /** TCP port. */
    readonly port: number | "api-server";
    readonly purpose: string;
}

/** An object of a chart others may collide with. */
export interface ChartObject {
    readonly kind: string;
    readonly name: string;
    /** Empty for cluster-scoped objects. */
    readonly namespace: string;
}

/** What one release creates. */
export interface ChartContents {
    readonly chart: string;
    readonly version: string;
    readonly release: string;
    readonly namespace: string;
    readonly pods: readonly ChartPod[];
    readonly objects: readonly ChartObject[];
    readonly flows: readonly ChartFlow[];
}

/** A Helm release as the program declares it (the inputs of a `helm.v3.Release`). */
export interface ReleaseInputs {
    readonly name: string;
    readonly chart: string;
    readonly version: string;
    readonly namespace: string;
    readonly values: Readonly<Record<string, unknown>>;
}

type Values = Readonly<Record<string, unknown>>;

const get = (v: unknown, ...path: string[]): unknown =>
    path.reduce<unknown>(
        (o, k) =>
            typeof o === "object" && o !== null ? (o as Record<string, unknown>)[k] : undefined,
        v,
    );
/** Helm's `if .Values.x` over a default: unset takes the chart default. */
const on = (values: Values, def: boolean, ...path: string[]): boolean => {
    const v = get(values, ...path);
    return v === undefined ? def : v === true;
};

const apiServer = "kube-apiserver";

function kataDeploy(r: ReleaseInputs): ChartContents {
    const ns = r.namespace;
    const shims = get(r.values, "shims") as
        | Record<string, { enabled?: boolean | null }>
        | undefined;
    const disableAll = get(shims, "disableAll") === true;
    // templates/runtimeclasses.yaml: one RuntimeClass kata-<shim> per enabled shim (a null
    // `enabled` follows disableAll), when runtimeClasses.enabled (default true).
    const chartShims = [
        "clh",
        "cloud-hypervisor",
        "dragonball",
        "fc",
        "qemu",
        "qemu-runtime-rs",
        "qemu-nvidia-gpu",
        "qemu-nvidia-gpu-snp",
        "qemu-nvidia-gpu-tdx",
        "qemu-snp",
        "qemu-snp-runtime-rs",
        "qemu-tdx",
        "qemu-tdx-runtime-rs",
        "qemu-coco-dev",
        "qemu-coco-dev-runtime-rs",
    ];
    const enabled = chartShims.filter((s) => {
        const e = shims?.[s]?.enabled;
        return e === true || (e !== false && !disableAll);
    });
    const objects: ChartObject[] = [
        { kind: "ClusterRole", name: "kata-deploy-role", namespace: "" },
        { kind: "ClusterRoleBinding", name: "kata-deploy-rb", namespace: "" },
        { kind: "ServiceAccount", name: "kata-deploy-sa", namespace: ns },
    ];
    if (on(r.values, true, "runtimeClasses", "enabled")) {
        objects.push(
            ...enabled.map((s) => ({ kind: "RuntimeClass", name: `kata-${s}`, namespace: "" })),
        );
        if (on(r.values, false, "runtimeClasses", "createDefault")) {
            objects.push({ kind: "RuntimeClass", name: "kata", namespace: "" });
        }
    }
    return {
        chart: "kata-deploy",
        version: r.version,
        release: r.name,
        namespace: ns,
        pods: [
            {
                kind: "DaemonSet",
                name: "kata-deploy",
                namespace: ns,
                level: "privileged",
                why: "privileged container, hostPID, hostPath / and the CRI-O config: installs the runtime on the host",
                podLabels: { name: "kata-deploy" },
                source: "tools/packaging/kata-deploy/helm-chart/kata-deploy/templates/kata-deploy.yaml",
            },
            {
                kind: "Job",
                name: "kata-deploy-rb-cleanup",
                namespace: ns,
                level: "baseline",
                why: "no securityContext (runs as the image's user, no seccomp profile)",
                hook: "post-delete",
                podLabels: {},
                source: "tools/packaging/kata-deploy/helm-chart/kata-deploy/templates/kata-cleanup-rbac-job.yaml",
            },
        ],
        objects,
        flows: [
            {
                from: "kata-deploy",
                to: apiServer,
                port: "api-server",
                purpose: "label nodes, read RuntimeClasses",
            },
        ],
    };
}

function externalSecrets(r: ReleaseInputs): ChartContents {
    const ns = r.namespace;
    const src = (f: string) => `deploy/charts/external-secrets/templates/${f}`;
    const pod = (name: string, label: string, file: string): ChartPod => ({
        kind: "Deployment",
        name,
        namespace: ns,
        level: "restricted",
        podLabels: { "app.kubernetes.io/name": label, "app.kubernetes.io/instance": r.name },
        source: src(file),
    });
    const proxied = (get(r.values, "extraEnv") as { name: string }[] | undefined)?.some(
        (e) => e.name === "HTTPS_PROXY",
    );
    return {
        chart: "external-secrets",
        version: r.version,
        release: r.name,
        namespace: ns,
        pods: [
            pod("external-secrets", "external-secrets", "deployment.yaml"),
            pod("external-secrets-webhook", "external-secrets-webhook", "webhook-deployment.yaml"),
            pod(
                "external-secrets-cert-controller",
                "external-secrets-cert-controller",
                "cert-controller-deployment.yaml",
            ),
        ],
        objects: [
            { kind: "ValidatingWebhookConfiguration", name: "secretstore-validate", namespace: "" },
            {
                kind: "ValidatingWebhookConfiguration",
                name: "externalsecret-validate",
                namespace: "",
            },
            ...(on(r.values, true, "installCRDs")
                ? [
                      {
                          kind: "CustomResourceDefinition",
                          name: "*.external-secrets.io",
                          namespace: "",
                      },
                  ]
                : []),
        ],
        flows: [
            {
                from: "external-secrets",
                to: apiServer,
                port: "api-server",
                purpose: "watch and write Secrets",
            },
            {
                from: "external-secrets-webhook",
                to: apiServer,
                port: "api-server",
                purpose: "read its certificate",
            },
            {
                from: "external-secrets-cert-controller",
                to: apiServer,
                port: "api-server",
                purpose: "rotate the webhook certificate",
            },
            {
                from: apiServer,
                to: "external-secrets-webhook",
                port: 10250,
                purpose: "admission webhook",
            },
            ...(proxied
                ? [
                      {
                          from: "external-secrets",
                          to: "egress-proxy",
                          port: 3128,
                          purpose: "OCI Vault secrets (HTTPS_PROXY)",
                      },
                  ]
                : [
                      {
                          from: "external-secrets",
                          to: "oci-vault",
                          port: 443,
                          purpose: "OCI Vault secrets (FQDN rule)",
                      },
                  ]),
        ],
    };
}

function ingressNginx(r: ReleaseInputs): ChartContents {
    const ns = r.namespace;
    const src = (f: string) => `charts/ingress-nginx/templates/${f}`;
    const base = {
        "app.kubernetes.io/name": "ingress-nginx",
        "app.kubernetes.io/instance": r.name,
    };
    const webhooks = on(r.values, true, "controller", "admissionWebhooks", "enabled");
    const job = (name: string, hook: string, file: string): ChartPod => ({
        kind: "Job",
        name,
        namespace: ns,
        level: "restricted",
        hook,
        podLabels: { ...base, "app.kubernetes.io/component": "admission-webhook" },
        source: src(`admission-webhooks/job-patch/${file}`),
    });
    return {
        chart: "ingress-nginx",
        version: r.version,
        release: r.name,
        namespace: ns,
        pods: [
            {
                kind: "Deployment",
                name: `${r.name}-controller`,
                namespace: ns,
                level: "restricted",
                podLabels: { ...base, "app.kubernetes.io/component": "controller" },
                source: src("controller-deployment.yaml"),
            },
            ...(webhooks
                ? [
                      job(
                          `${r.name}-admission-create`,
                          "pre-install,pre-upgrade",
                          "job-createSecret.yaml",
                      ),
                      job(
                          `${r.name}-admission-patch`,
                          "post-install,post-upgrade",
                          "job-patchWebhook.yaml",
                      ),
                  ]
                : []),
        ],
        objects: [
            {
                kind: "IngressClass",
                name: String(
                    get(r.values, "controller", "ingressClassResource", "name") ?? "nginx",
                ),
                namespace: "",
            },
            ...(webhooks
                ? [
                      {
                          kind: "ValidatingWebhookConfiguration",
                          name: `${r.name}-admission`,
                          namespace: "",
                      },
                  ]
                : []),
        ],
        flows: [
            {
                from: `${r.name}-controller`,
                to: apiServer,
                port: "api-server",
                purpose: "watch Ingresses, Services, Endpoints",
            },
            ...(webhooks
                ? [
                      {
                          from: apiServer,
                          to: `${r.name}-controller`,
                          port: 8443,
                          purpose: "admission webhook",
                      },
                      {
                          from: `${r.name}-admission-create`,
                          to: apiServer,
                          port: "api-server" as const,
                          purpose: "create the webhook certificate",
                      },
                  ]
                : []),
            { from: "prometheus", to: `${r.name}-controller`, port: 10254, purpose: "scrape" },
        ],
    };
}

function certManager(r: ReleaseInputs): ChartContents {
    const ns = r.namespace;
    const leaseNs = String(get(r.values, "global", "leaderElection", "namespace") ?? "kube-system");
    const src = (f: string) => `deploy/charts/cert-manager/templates/${f}`;
    const pod = (
        name: string,
        label: string,
        file: string,
        kind: ChartPod["kind"] = "Deployment",
        hook?: string,
    ): ChartPod => ({
        kind,
        name,
        namespace: ns,
        level: "restricted",
        hook,
        podLabels: { "app.kubernetes.io/name": label, "app.kubernetes.io/instance": r.name },
        source: src(file),
    });
    return {
        chart: "cert-manager",
        version: r.version,
        release: r.name,
        namespace: ns,
        pods: [
            pod("cert-manager", "cert-manager", "deployment.yaml"),
            pod("cert-manager-cainjector", "cainjector", "cainjector-deployment.yaml"),
            pod("cert-manager-webhook", "webhook", "webhook-deployment.yaml"),
            pod(
                "cert-manager-startupapicheck",
                "startupapicheck",
                "startupapicheck-job.yaml",
                "Job",
                "post-install",
            ),
        ],
        objects: [
            { kind: "MutatingWebhookConfiguration", name: "cert-manager-webhook", namespace: "" },
            // In global.leaderElection.namespace, default kube-system (templates/rbac.yaml,
            // cainjector-rbac.yaml).
            ...["cert-manager", "cert-manager-cainjector"].flatMap((n) => [
                { kind: "Role", name: `${n}:leaderelection`, namespace: leaseNs },
                { kind: "RoleBinding", name: `${n}:leaderelection`, namespace: leaseNs },
            ]),
            { kind: "ValidatingWebhookConfiguration", name: "cert-manager-webhook", namespace: "" },
            ...(on(r.values, false, "crds", "enabled")
                ? [{ kind: "CustomResourceDefinition", name: "*.cert-manager.io", namespace: "" }]
                : []),
        ],
        flows: [
            ...[
                "cert-manager",
                "cert-manager-cainjector",
                "cert-manager-webhook",
                "cert-manager-startupapicheck",
            ].map((from) => ({
                from,
                to: apiServer,
                port: "api-server" as const,
                purpose: "controller / webhook client",
            })),
            {
                from: apiServer,
                to: "cert-manager-webhook",
                port: 10250,
                purpose: "admission webhook",
            },
            ...(get(r.values, "https_proxy") !== undefined
                ? [
                      {
                          from: "cert-manager",
                          to: "egress-proxy",
                          port: 3128,
                          purpose: "ACME directory (https_proxy)",
                      },
                  ]
                : []),
        ],
    };
}

function gpuOperator(r: ReleaseInputs): ChartContents {
    const ns = r.namespace;
    const nfd = on(r.values, true, "nfd", "enabled");
    const nfdPod = (
        kind: ChartPod["kind"],
        role: string,
        level: PodSecurityLevel,
        why: string,
        hook?: string,
    ): ChartPod => ({
        kind,
        name: `${r.name}-node-feature-discovery-${role}`,
        namespace: ns,
        level,
        why,
        hook,
        podLabels: { "app.kubernetes.io/name": "node-feature-discovery", role },
        source: `deployments/gpu-operator/charts/node-feature-discovery/templates/${role === "worker" ? "worker" : role === "prune" ? "prune-job" : role}.yaml`,
    });
    // The ClusterPolicy's operands (driver and toolkit off by our values): device plugin(s),
    // validator, DCGM exporter, feature discovery, MIG manager, sandbox plugin and VFIO manager.
    const operand = (name: string, why: string): ChartPod => ({
        kind: "DaemonSet",
        name,
        namespace: ns,
        level: "privileged",
        why,
        podLabels: { app: name },
        source: "github.com/NVIDIA/gpu-operator assets/ (operands of the ClusterPolicy)",
        operatorMade: true,
    });
    return {
        chart: "gpu-operator",
        version: r.version,
        release: r.name,
        namespace: ns,
        pods: [
            {
                kind: "Deployment",
                name: "gpu-operator",
                namespace: ns,
                level: "privileged",
                why: "hostPath /etc/os-release, no restricted securityContext",
                podLabels: { app: "gpu-operator" },
                source: "deployments/gpu-operator/templates/operator.yaml",
            },
            {
                kind: "Job",
                name: "gpu-operator-upgrade-crd",
                namespace: ns,
                level: "baseline",
                why: "no securityContext",
                hook: "pre-upgrade",
                podLabels: {},
                source: "deployments/gpu-operator/templates/upgrade_crd.yaml",
            },
            ...(nfd
                ? [
                      nfdPod("Deployment", "master", "baseline", "no seccomp profile"),
                      nfdPod("Deployment", "gc", "baseline", "no seccomp profile"),
                      nfdPod(
                          "DaemonSet",
                          "worker",
                          "privileged",
                          "hostPath /boot, /sys, /usr/lib, /etc/os-release",
                      ),
                      nfdPod("Job", "prune", "baseline", "no seccomp profile", "post-delete"),
                  ]
                : []),
            operand(
                "nvidia-device-plugin-daemonset",
                "device access, hostPath to the kubelet device-plugin socket",
            ),
            operand("nvidia-operator-validator", "privileged validation of the driver and toolkit"),
            operand(
                "nvidia-dcgm-exporter",
                "hostPath to the kubelet pod-resources socket, SYS_ADMIN",
            ),
            operand("gpu-feature-discovery", "hostPath to the node's feature files"),
            ...(on(r.values, false, "sandboxDevicePlugin", "enabled")
                ? [
                      operand(
                          "nvidia-sandbox-device-plugin-daemonset",
                          "VFIO device access for Kata passthrough",
                      ),
                  ]
                : []),
            ...(on(r.values, false, "vfioManager", "enabled")
                ? [operand("nvidia-vfio-manager", "binds GPUs to vfio-pci on the host")]
                : []),
        ],
        objects: [
            { kind: "ClusterPolicy", name: "cluster-policy", namespace: "" },
            { kind: "CustomResourceDefinition", name: "*.nvidia.com", namespace: "" },
            {
                kind: "RuntimeClass",
                name: String(get(r.values, "operator", "runtimeClass") ?? "nvidia"),
                namespace: "",
            },
        ],
        flows: [
            {
                from: "gpu-operator",
                to: apiServer,
                port: "api-server",
                purpose: "reconcile the ClusterPolicy",
            },
        ],
    };
}

function tigeraOperator(r: ReleaseInputs): ChartContents {
    const ns = r.namespace;
    const cr = (kind: string, key: string) =>
        on(r.values, true, key, "enabled") ? [{ kind, name: "default", namespace: "" }] : [];
    return {
        chart: "tigera-operator",
        version: r.version,
        release: r.name,
        namespace: ns,
        pods: [
            {
                kind: "Deployment",
                name: "tigera-operator",
                namespace: ns,
                level: "privileged",
                why: "hostNetwork, hostPath /var/lib/calico",
                podLabels: { name: "tigera-operator" },
                source: "charts/tigera-operator/templates/tigera-operator/02-tigera-operator.yaml",
            },
            {
                kind: "Job",
                name: "tigera-operator-uninstall",
                namespace: ns,
                level: "privileged",
                why: "hostNetwork",
                hook: "pre-delete",
                podLabels: {},
                source: "charts/tigera-operator/templates/tigera-operator/00-uninstall.yaml",
            },
            ...(on(r.values, true, "installation", "enabled")
                ? [
                      {
                          kind: "DaemonSet" as const,
                          name: "calico-node",
                          namespace: "calico-system",
                          level: "privileged" as const,
                          why: "programs the host's iptables: privileged, hostNetwork",
                          podLabels: { "k8s-app": "calico-node" },
                          source: "github.com/tigera/operator pkg/render/node.go (from the Installation)",
                          operatorMade: true,
                      },
                      {
                          kind: "Deployment" as const,
                          name: "calico-kube-controllers",
                          namespace: "calico-system",
                          level: "restricted" as const,
                          podLabels: { "k8s-app": "calico-kube-controllers" },
                          source: "github.com/tigera/operator pkg/render/kubecontrollers (from the Installation)",
                          operatorMade: true,
                      },
                  ]
                : []),
        ],
        objects: [
            ...cr("Installation", "installation"),
            ...cr("APIServer", "apiServer"),
            ...cr("Goldmane", "goldmane"),
            ...cr("Whisker", "whisker"),
            { kind: "Namespace", name: "calico-system", namespace: "" },
            { kind: "CustomResourceDefinition", name: "*.projectcalico.org", namespace: "" },
        ],
        flows: [
            {
                from: "tigera-operator",
                to: apiServer,
                port: "api-server",
                purpose: "reconcile the Installation",
            },
            {
                from: "calico-node",
                to: apiServer,
                port: "api-server",
                purpose: "read policies (host network)",
            },
        ],
    };
}

function kubePrometheusStack(r: ReleaseInputs): ChartContents {
    const ns = r.namespace;
    const full = String(get(r.values, "fullnameOverride") ?? r.name);
    const nodeNs = String(get(r.values, "prometheus-node-exporter", "namespaceOverride") ?? ns);
    const src = (f: string) => `charts/kube-prometheus-stack/${f}`;
    const grafana = on(r.values, true, "grafana", "enabled");
    const chownRoot =
        grafana &&
        on(r.values, false, "grafana", "persistence", "enabled") &&
        on(r.values, true, "grafana", "initChownData", "enabled");
    const pods: ChartPod[] = [
        {
            kind: "Deployment",
            name: `${full}-operator`,
            namespace: ns,
            level: "restricted",
            podLabels: { app: `${r.name}-operator`, release: r.name },
            source: src("templates/prometheus-operator/deployment.yaml"),
        },
        ...["create", "patch"].map(
            (j): ChartPod => ({
                kind: "Job",
                name: `${full}-admission-${j}`,
                namespace: ns,
                level: "restricted",
                hook: j === "create" ? "pre-install,pre-upgrade" : "post-install,post-upgrade",
                podLabels: { app: `${r.name}-admission-${j}` },
                source: src(
                    `templates/prometheus-operator/admission-webhooks/job-patch/job-${j === "create" ? "createSecret" : "patchWebhook"}.yaml`,
                ),
            }),
        ),
        {
            kind: "Deployment",
            name: `${r.name}-kube-state-metrics`,
            namespace: ns,
            level: "restricted",
            podLabels: { "app.kubernetes.io/name": "kube-state-metrics" },
            source: "charts/kube-state-metrics/templates/deployment.yaml",
        },
        {
            kind: "DaemonSet",
            name: `${r.name}-prometheus-node-exporter`,
            namespace: nodeNs,
            level: "privileged",
            why: "hostNetwork, hostPID, read-only hostPath /proc, /sys and /",
            podLabels: { "app.kubernetes.io/name": "prometheus-node-exporter" },
            source: "charts/prometheus-node-exporter/templates/daemonset.yaml",
        },
        {
            kind: "StatefulSet",
            name: `prometheus-${full}-prometheus`,
            namespace: ns,
            level: "restricted",
            podLabels: { "app.kubernetes.io/name": "prometheus" },
            source: "prometheus-operator pkg/prometheus/statefulset.go (from the Prometheus CR; pod securityContext from prometheusSpec.securityContext)",
            operatorMade: true,
        },
        {
            kind: "StatefulSet",
            name: `alertmanager-${full}-alertmanager`,
            namespace: ns,
            level: "restricted",
            podLabels: { "app.kubernetes.io/name": "alertmanager" },
            source: "prometheus-operator pkg/alertmanager/statefulset.go (from the Alertmanager CR; pod securityContext from alertmanagerSpec.securityContext)",
            operatorMade: true,
        },
    ];
    if (grafana) {
        pods.push({
            kind: "Deployment",
            name: `${r.name}-grafana`,
            namespace: ns,
            level: chownRoot ? "baseline" : "restricted",
            why: chownRoot
                ? "init-chown-data runs as root with CHOWN (initChownData.enabled)"
                : undefined,
            podLabels: { "app.kubernetes.io/name": "grafana" },
            source: "charts/grafana/templates/deployment.yaml, _pod.tpl",
        });
        if (on(r.values, true, "grafana", "testFramework", "enabled")) {
            pods.push({
                kind: "Pod",
                name: `${r.name}-grafana-test`,
                namespace: ns,
                level: "baseline",
                why: "no securityContext",
                hook: "test",
                podLabels: {},
                source: "charts/grafana/templates/tests/test.yaml",
            });
        }
    }
    return {
        chart: "kube-prometheus-stack",
        version: r.version,
        release: r.name,
        namespace: ns,
        pods,
        objects: [
            { kind: "Prometheus", name: `${full}-prometheus`, namespace: ns },
            { kind: "Alertmanager", name: `${full}-alertmanager`, namespace: ns },
            { kind: "MutatingWebhookConfiguration", name: `${full}-admission`, namespace: "" },
            { kind: "ValidatingWebhookConfiguration", name: `${full}-admission`, namespace: "" },
            { kind: "Service", name: `${full}-coredns`, namespace: "kube-system" },
            ...["ServiceAccount", "Service", "ServiceMonitor"].map((kind) => ({
                kind,
                name: `${r.name}-prometheus-node-exporter`,
                namespace: nodeNs,
            })),
            { kind: "CustomResourceDefinition", name: "*.monitoring.coreos.com", namespace: "" },
        ],
        flows: [
            {
                from: "prometheus",
                to: "kubelet",
                port: 10250,
                purpose: "scrape kubelets and cAdvisor (node addresses)",
            },
            {
                from: "prometheus",
                to: "node-exporter",
                port: 9100,
                purpose: "scrape node exporters (host network)",
            },
            { from: "prometheus", to: "kube-dns", port: 9153, purpose: "scrape CoreDNS" },
            {
                from: "prometheus",
                to: apiServer,
                port: "api-server",
                purpose: "scrape the API server, discover targets",
            },
            {
                from: apiServer,
                to: `${full}-operator`,
                port: 10250,
                purpose: "admission webhook for PrometheusRules",
            },
            { from: `${full}-operator`, to: apiServer, port: "api-server", purpose: "reconcile" },
            ...(grafana
                ? [
                      {
                          from: `${r.name}-grafana`,
                          to: apiServer,
                          port: "api-server" as const,
                          purpose: "dashboard sidecar watches ConfigMaps",
                      },
                  ]
                : []),
        ],
    };
}

const byChart: Readonly<Record<string, (r: ReleaseInputs) => ChartContents>> = {
    [charts.kataDeploy.chart]: kataDeploy,
    [charts.externalSecrets.chart]: externalSecrets,
    [charts.ingressNginx.chart]: ingressNginx,
    [charts.certManager.chart]: certManager,
    [charts.gpuOperator.chart]: gpuOperator,
    [tigeraOperatorChart.chart]: tigeraOperator,
    [kubePrometheusStackChart.chart]: kubePrometheusStack,
};

/** Pins the catalog was read from; a pin change must revisit the catalog. */
export const catalogedVersions: Readonly<Record<string, string>> = {
    [charts.kataDeploy.chart]: charts.kataDeploy.version,
    [charts.externalSecrets.chart]: charts.externalSecrets.version,
    [charts.ingressNginx.chart]: charts.ingressNginx.version,
    [charts.certManager.chart]: charts.certManager.version,
    [charts.gpuOperator.chart]: charts.gpuOperator.version,
    [tigeraOperatorChart.chart]: tigeraOperatorChart.version,
    [kubePrometheusStackChart.chart]: kubePrometheusStackChart.version,
};

/** What a release creates, or undefined for a chart the catalog does not describe. */
export function chartContents(r: ReleaseInputs): ChartContents | undefined {
    const f = byChart[r.chart];
    if (f === undefined || catalogedVersions[r.chart] !== r.version) return undefined;
    return f(r);
}
