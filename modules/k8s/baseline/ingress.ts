/**
 * Ingress and TLS: a hardened ingress-nginx controller (class `nginx`, TLS only, internal load
 * balancer unless config says public) and cert-manager with the `platform-ca` ClusterIssuer.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { IngressConfig } from "../../config/baseline";
import { withChartImages } from "../../constants/chart-images";
import { charts } from "../../constants/charts";
import {
    clusterIssuerName,
    ingressClassName,
    ingressControllerMetrics,
    ingressReleaseName,
    ingressTimeBucketsSeconds,
} from "../../constants/ingress";
import {
    exceptionAnnotations,
    labels,
    ociInternalLoadBalancerAnnotations,
} from "../../constants/labels";
import { serviceNamespaces } from "../../constants/namespaces";
import { priorityClasses } from "../../constants/scheduling";

const restrictedContainer = {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    runAsNonRoot: true,
    capabilities: { drop: ["ALL"] },
    seccompProfile: { type: "RuntimeDefault" },
};
const restrictedPod = { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } };
const smallResources = {
    requests: { cpu: "50m", memory: "128Mi", "ephemeral-storage": "64Mi" },
    limits: { cpu: "500m", memory: "512Mi", "ephemeral-storage": "256Mi" },
};

/**
 * OCI cloud-controller annotations that attach the load balancer to the cloud layer's NSG and stop
 * the controller from writing security rules: mode `None` means it edits neither security lists
 * nor NSGs, so the listener, NodePort and health-check rules stay the ones the cloud layer
 * declares (without the mode the controller writes listener rules into the default security list
 * every subnet shares, which Pulumi declares empty). Names and values from oci-cloud-controller-
 * manager docs/load-balancer-annotations.md ("oci-network-security-groups uses
 * oci.oraclecloud.com/ as prefix"; modes "SL-All", "SL-Frontend", "NSG", "None") and OKE
 * "Specifying Security Rule Management Options for Load Balancers",
 * https://docs.oracle.com/en-us/iaas/Content/ContEng/Tasks/contengconfiguringloadbalancersnetworkloadbalancers-subtopic.htm.
 * Test: "attaches the OKE load balancer to the cloud layer's NSG and leaves rules to Pulumi" in
 * test/oci/oke-cluster.test.ts.
 */
export const ociLoadBalancerNsgAnnotations = {
    nsgIds: "oci.oraclecloud.com/oci-network-security-groups",
    ruleManagementMode: "oci.oraclecloud.com/security-rule-management-mode",
} as const;

/**
 * Annotations of the controller's LoadBalancer Service. On OKE, `loadBalancerNsgId` is the cloud
 * layer's load-balancer NSG. Defaults to none (existing clusters).
 */
export function loadBalancerAnnotations(
    ingress: IngressConfig,
    loadBalancerNsgId?: pulumi.Input<string>,
): Record<string, pulumi.Input<string>> {
    const flexible = {
        "service.beta.kubernetes.io/oci-load-balancer-shape": "flexible",
        "service.beta.kubernetes.io/oci-load-balancer-shape-flex-min": "10",
        "service.beta.kubernetes.io/oci-load-balancer-shape-flex-max": "100",
    };
    const nsg: Record<string, pulumi.Input<string>> = loadBalancerNsgId === undefined
        ? {}
        : {
              [ociLoadBalancerNsgAnnotations.nsgIds]: loadBalancerNsgId,
              [ociLoadBalancerNsgAnnotations.ruleManagementMode]: "None",
          };
    return ingress.public
        ? { ...flexible, ...nsg, [exceptionAnnotations.publicByConfig]: "true" }
        : { ...flexible, ...nsg, [ociInternalLoadBalancerAnnotations.loadBalancer]: "true" };
}

/** Helm values of ingress-nginx; `loadBalancerNsgId` as for {@link loadBalancerAnnotations}. */
export function ingressNginxValues(
    ingress: IngressConfig,
    loadBalancerNsgId?: pulumi.Input<string>,
): Record<string, unknown> {
    return withChartImages("ingress-nginx", {
        controller: {
            ingressClass: ingressClassName,
            ingressClassResource: {
                name: ingressClassName,
                enabled: true,
                default: false,
                controllerValue: "k8s.io/ingress-nginx",
            },
            // Snippets let any Ingress author inject nginx configuration (CVE-2021-25742, CVE-2025-1974).
            allowSnippetAnnotations: false,
            config: {
                "allow-snippet-annotations": "false",
                "annotations-risk-level": "High",
                "ssl-redirect": "true",
                "force-ssl-redirect": "true",
                hsts: "true",
                "hsts-include-subdomains": "true",
                "hsts-max-age": "31536000",
                "ssl-protocols": "TLSv1.2 TLSv1.3",
                "server-tokens": "false",
            },
            // nginx rewrites its configuration under /etc/nginx at run time: the root filesystem
            // stays writable there (the chart's own default); everything else is restricted.
            image: {
                runAsNonRoot: true,
                runAsUser: 101,
                allowPrivilegeEscalation: false,
                seccompProfile: { type: "RuntimeDefault" },
                readOnlyRootFilesystem: false,
            },
            podSecurityContext: restrictedPod,
            replicaCount: 2,
            minAvailable: 1,
            priorityClassName: priorityClasses.platform,
            resources: {
                requests: { cpu: "200m", memory: "256Mi", "ephemeral-storage": "256Mi" },
                limits: { cpu: "2", memory: "1Gi", "ephemeral-storage": "1Gi" },
            },
            topologySpreadConstraints: [
                {
                    maxSkew: 1,
                    topologyKey: "kubernetes.io/hostname",
                    whenUnsatisfiable: "ScheduleAnyway",
                    labelSelector: {
                        matchLabels: {
                            [labels.name]: "ingress-nginx",
                            [labels.component]: "controller",
                        },
                    },
                },
            ],
            service: {
                // TLS only; plain HTTP exists solely to answer ACME HTTP-01 challenges (and redirect).
                enableHttp: ingress.acme !== undefined,
                annotations: loadBalancerAnnotations(ingress, loadBalancerNsgId),
                externalTrafficPolicy: "Local",
            },
            // Prometheus endpoint for the gateway tier's client-facing latency and 5xx alerts. The
            // observability layer brings its own ServiceMonitor: the chart's would need the
            // monitoring CRDs, which arrive after the baseline.
            metrics: {
                enabled: true,
                port: ingressControllerMetrics.port,
                portName: ingressControllerMetrics.portName,
                service: {
                    type: "ClusterIP",
                    servicePort: ingressControllerMetrics.port,
                },
                serviceMonitor: { enabled: false },
                prometheusRule: { enabled: false },
            },
            extraArgs: { "time-buckets": ingressTimeBucketsSeconds.join(",") },
            admissionWebhooks: {
                enabled: true,
                createSecretJob: {
                    securityContext: restrictedContainer,
                    resources: smallResources,
                },
                patchWebhookJob: {
                    securityContext: restrictedContainer,
                    resources: smallResources,
                },
                patch: { securityContext: { ...restrictedPod, runAsUser: 65532 } },
            },
        },
        defaultBackend: { enabled: false },
    });
}

/**
 * Helm values of cert-manager. `proxyEnv` (the egress proxy of an ACME issuer under the proxy
 * engine) goes to the chart's own `https_proxy`/`no_proxy` keys, which it sets on the controller.
 * Images from the chart image catalog (modules/constants/chart-images.ts).
 */
export function certManagerValues(
    proxyEnv: readonly { name: string; value: string }[] = [],
): Record<string, unknown> {
    const env = (name: string) => proxyEnv.find((e) => e.name === name)?.value;
    const hardened = {
        securityContext: restrictedPod,
        containerSecurityContext: restrictedContainer,
        resources: smallResources,
    };
    return withChartImages("cert-manager", {
        crds: { enabled: true, keep: true },
        global: {
            // The chart reads the PriorityClass of all its pods from `global` (a top-level key
            // fails its values.schema.json, so `helm install` refuses the release).
            priorityClassName: priorityClasses.platform,
            // Leader-election leases (and the Role/RoleBinding that grant them, templates/
            // rbac.yaml and cainjector-rbac.yaml) in cert-manager's own namespace instead of the
            // chart's default kube-system, which the platform keeps free of workloads' objects
            // (`--leader-election-namespace`, templates/deployment.yaml, cainjector-deployment.yaml).
            leaderElection: { namespace: serviceNamespaces.certManager },
        },
        replicaCount: 2,
        podDisruptionBudget: { enabled: true, minAvailable: 1 },
        ...hardened,
        webhook: {
            ...hardened,
            replicaCount: 2,
            podDisruptionBudget: { enabled: true, minAvailable: 1 },
        },
        cainjector: { ...hardened },
        startupapicheck: { ...hardened },
        prometheus: { enabled: true, servicemonitor: { enabled: false } },
        ...(proxyEnv.length > 0
            ? {
                  http_proxy: env("HTTP_PROXY"),
                  https_proxy: env("HTTPS_PROXY"),
                  no_proxy: env("NO_PROXY"),
              }
            : {}),
    });
}

/** The `platform-ca` ClusterIssuer spec: a private CA by default, ACME when configured. */
export function platformIssuerSpec(
    ingress: IngressConfig,
    caSecretName: string,
): Record<string, unknown> {
    if (ingress.acme !== undefined) {
        return {
            acme: {
                email: ingress.acme.email,
                server: ingress.acme.server,
                privateKeySecretRef: { name: "platform-acme-account" },
                solvers: [{ http01: { ingress: { ingressClassName } } }],
            },
        };
    }
    return { ca: { secretName: caSecretName } };
}

/** Arguments for {@link IngressTls}. */
export interface IngressTlsArgs {
    /** Ingress settings from config. */
    readonly ingress: IngressConfig;
    /** Install cert-manager from Helm; false when the OKE CertManager add-on provides it. */
    readonly installCertManager: boolean;
    /** Cluster name, for the CA's subject. */
    readonly clusterName: string;
    /** cert-manager's egress proxy settings (ACME under the proxy engine). Defaults to none. */
    readonly proxyEnv?: readonly { name: string; value: string }[];
    /**
     * What the chart's pods need first: their namespace with its quota and LimitRange, and the
     * PriorityClasses. Defaults to none.
     */
    readonly after?: readonly pulumi.Resource[];
    /** The OKE cloud layer's load-balancer NSG the Service's load balancer joins. Defaults to none. */
    readonly loadBalancerNsgId?: pulumi.Input<string>;
}

/** ingress-nginx, cert-manager and the platform's ClusterIssuer. */
export class IngressTls extends pulumi.ComponentResource {
    constructor(name: string, args: IngressTlsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("secure-llm-platform:baseline:IngressTls", name, {}, opts);
        const after = [...(args.after ?? [])];
        const certDeps: pulumi.Resource[] = [];
        if (args.installCertManager) {
            certDeps.push(
                new k8s.helm.v3.Release(
                    `${name}-cert-manager`,
                    {
                        name: "cert-manager",
                        chart: charts.certManager.chart,
                        version: charts.certManager.version,
                        repositoryOpts: { repo: charts.certManager.repo },
                        namespace: serviceNamespaces.certManager,
                        values: certManagerValues(args.proxyEnv),
                        atomic: true,
                    },
                    { parent: this, dependsOn: after },
                ),
            );
        }
        new k8s.helm.v3.Release(
            `${name}-ingress-nginx`,
            {
                name: ingressReleaseName,
                chart: charts.ingressNginx.chart,
                version: charts.ingressNginx.version,
                repositoryOpts: { repo: charts.ingressNginx.repo },
                namespace: serviceNamespaces.ingress,
                values: ingressNginxValues(args.ingress, args.loadBalancerNsgId),
                atomic: true,
            },
            { parent: this, dependsOn: after },
        );

        const caSecretName = "platform-root-ca";
        const issuerDeps = [...certDeps];
        if (args.ingress.acme === undefined) {
            const selfSigned = new k8s.apiextensions.CustomResource(
                `${name}-selfsigned`,
                {
                    apiVersion: "cert-manager.io/v1",
                    kind: "ClusterIssuer",
                    metadata: { name: "platform-selfsigned" },
                    spec: { selfSigned: {} },
                },
                { parent: this, dependsOn: certDeps },
            );
            // The root CA's key never leaves the cluster; no egress is needed to issue certificates.
            issuerDeps.push(
                new k8s.apiextensions.CustomResource(
                    `${name}-root-ca`,
                    {
                        apiVersion: "cert-manager.io/v1",
                        kind: "Certificate",
                        metadata: { name: caSecretName, namespace: serviceNamespaces.certManager },
                        spec: {
                            isCA: true,
                            commonName: `secure-llm-platform ${args.clusterName} root CA`,
                            secretName: caSecretName,
                            duration: "87600h",
                            renewBefore: "720h",
                            privateKey: { algorithm: "ECDSA", size: 384, rotationPolicy: "Always" },
                            issuerRef: {
                                name: "platform-selfsigned",
                                kind: "ClusterIssuer",
                                group: "cert-manager.io",
                            },
                        },
                    },
                    { parent: this, dependsOn: [selfSigned] },
                ),
            );
        }
        new k8s.apiextensions.CustomResource(
            `${name}-issuer`,
            {
                apiVersion: "cert-manager.io/v1",
                kind: "ClusterIssuer",
                metadata: { name: clusterIssuerName },
                spec: platformIssuerSpec(args.ingress, caSecretName),
            },
            { parent: this, dependsOn: issuerDeps },
        );
        this.registerOutputs({});
    }
}
