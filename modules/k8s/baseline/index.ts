/** Namespaces, Pod Security, quotas, RBAC, Kata, GPU stack, External Secrets, admission policies and ingress (issue 3). */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { ClusterLayerArgs } from "../args";
import { buildIntent, intentInputs, proxyEnv } from "../network/intent";
import { tierNamespaces } from "../../constants/namespaces";
import { AdmissionPolicies } from "./admission";
import { GpuStack } from "./gpu";
import { IngressTls } from "./ingress";
import { KataRuntime } from "./kata";
import { Namespaces } from "./namespaces";
import { BaselinePlan, planBaseline } from "./plan";
import { PriorityClasses } from "./priority";
import { PlatformRbac } from "./rbac";
import { ExternalSecrets } from "./secrets";
import { TenantIsolation } from "./tenants";

export { planBaseline, tenantNamespace } from "./plan";
export type { BaselinePlan, NamespacePlan, NamespaceRole } from "./plan";

/**
 * The in-cluster foundation every cluster gets, OKE or existing: namespaces with Pod Security
 * labels, quotas and token-less default ServiceAccounts; PriorityClasses; RBAC for people; the
 * Kata runtime and RuntimeClasses; the GPU stack with one device-plugin owner; External Secrets;
 * admission policies; ingress with TLS; isolated tenant namespaces.
 */
export class Baseline extends pulumi.ComponentResource {
    /** What was decided for this cluster. */
    public readonly plan: BaselinePlan;
    /** Every namespace the baseline created, by name; dependents `dependsOn` theirs. */
    public readonly namespaces: Readonly<Record<string, k8s.core.v1.Namespace>>;
    /** Kata RuntimeClasses the baseline created (empty on clusters whose Kata install owns them). */
    public readonly runtimeClasses: readonly k8s.node.v1.RuntimeClass[];
    /** The `oci-vault` ClusterSecretStore, when External Secrets is installed. */
    public readonly secretStore?: k8s.apiextensions.CustomResource;

    constructor(name: string, args: ClusterLayerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("secure-llm-platform:baseline:Baseline", name, {}, opts);
        const cluster = args.cluster;
        const cfg = cluster.layer.baseline;
        const plan = planBaseline(cluster);
        this.plan = plan;
        // Controllers whose policies send them through an egress proxy get its settings.
        let intent: ReturnType<typeof buildIntent>;
        try {
            intent = buildIntent(intentInputs(cluster, args.cloud));
        } catch (e) {
            throw new pulumi.ResourceError(
                `cluster ${cluster.name}: ${(e as Error).message}`,
                this,
            );
        }
        if (
            cluster.target === "existing" &&
            cluster.layer.observability.enabled &&
            cluster.layer.networkPolicy.nodeCidrs.length === 0
        ) {
            pulumi.log.warn(
                `cluster ${cluster.name}: under default-deny Prometheus cannot scrape the kubelets and node exporters; ` +
                    `set clusters[${cluster.name}].networkPolicy.nodeCidrs to the CIDR blocks of the nodes`,
                this,
            );
        }
        const child = { parent: this };

        const priority = new PriorityClasses(`${name}-priority`, {}, child);
        const namespaces = new Namespaces(
            `${name}-ns`,
            { namespaces: plan.namespaces, podSecurityVersion: plan.podSecurityVersion },
            child,
        );
        this.namespaces = namespaces.byName;
        const ns = (n: string) => namespaces.byName[n];
        // Charts start pods: their namespaces' quotas and LimitRange defaults, and the
        // PriorityClasses they name, must exist first or admission rejects the pods.
        const ready: pulumi.Resource[] = [namespaces, priority];

        new AdmissionPolicies(
            `${name}-admission`,
            { tenantRuntimeClasses: plan.kataRuntimeClasses, hasTenants: cfg.tenants.length > 0 },
            child,
        );
        new PlatformRbac(
            `${name}-rbac`,
            {
                rbac: cfg.rbac,
                tenants: cfg.tenants,
                mlEngineerNamespaces: Object.values(tierNamespaces).filter(
                    (n) => ns(n) !== undefined,
                ),
                namespaces: namespaces.byName,
            },
            child,
        );

        const kata = new KataRuntime(
            `${name}-kata`,
            {
                classes: plan.kataRuntimeClasses,
                install: plan.installKataDeploy,
                after: ready,
            },
            child,
        );
        this.runtimeClasses = kata.runtimeClasses;

        if (plan.installGpuOperator || plan.installDcgmExporter) {
            new GpuStack(
                `${name}-gpu`,
                {
                    capabilities: cluster.capabilities,
                    installOperator: plan.installGpuOperator,
                    installDcgmExporter: plan.installDcgmExporter,
                    after: ready,
                },
                // The operator's sandbox plugin needs the Kata runtime on the GPU nodes first.
                {
                    parent: this,
                    dependsOn: kata.runtimeClasses.length > 0 ? [kata] : [],
                },
            );
        }

        if (plan.installExternalSecrets) {
            const eso = new ExternalSecrets(
                `${name}-secrets`,
                {
                    vaultId: args.cloud?.vaultId,
                    region: args.cloud?.region,
                    existingClusterAuth: cfg.secrets.existingClusterAuth,
                    proxyEnv: proxyEnv(intent, "external-secrets"),
                    after: ready,
                },
                child,
            );
            this.secretStore = eso.store;
        } else {
            pulumi.log.warn(
                `cluster ${cluster.name}: External Secrets is not installed, so no ExternalSecret (and no tier that needs a secret) can work there; ` +
                    "set baseline.secrets.existingClusterAuth (an OCI API key in a Secret created out of band) to enable it",
                this,
            );
        }

        new IngressTls(
            `${name}-ingress`,
            {
                ingress: cfg.ingress,
                installCertManager: plan.installCertManager,
                clusterName: cluster.name,
                proxyEnv: proxyEnv(intent, "cert-manager"),
                after: ready,
                loadBalancerNsgId: args.cloud?.loadBalancerNsgId,
            },
            child,
        );

        const tenantNamespaces = Object.fromEntries(
            plan.namespaces
                .filter((n) => n.role === "tenant")
                .map((n) => [n.name, namespaces.byName[n.name]]),
        );
        if (Object.keys(tenantNamespaces).length > 0) {
            new TenantIsolation(`${name}-tenants`, { namespaces: tenantNamespaces }, child);
        }

        this.registerOutputs({});
    }
}
