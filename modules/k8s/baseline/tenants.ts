/**
 * Network isolation of tenant namespaces: deny everything in both directions, then allow traffic
 * inside the namespace and DNS. Tenants therefore cannot reach each other or the platform. Quotas,
 * Pod Security and RBAC of tenant namespaces come with the other baseline pieces; the Kata sandbox
 * is enforced by the `slp-tenant-sandbox` admission policy.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { workloadPorts } from "../../constants/ports";

/** NetworkPolicy names in tenant namespaces (platform namespaces have their own, from NetworkSecurity). */
export const tenantPolicyNames = {
    defaultDeny: "tenant-default-deny",
    sameNamespace: "tenant-allow-same-namespace",
    dns: "allow-dns",
} as const;

/** The NetworkPolicy specs of one tenant namespace, by name. */
export function tenantNetworkPolicies(): Record<
    string,
    k8s.types.input.networking.v1.NetworkPolicySpec
> {
    return {
        [tenantPolicyNames.defaultDeny]: { podSelector: {}, policyTypes: ["Ingress", "Egress"] },
        [tenantPolicyNames.sameNamespace]: {
            podSelector: {},
            policyTypes: ["Ingress", "Egress"],
            ingress: [{ from: [{ podSelector: {} }] }],
            egress: [{ to: [{ podSelector: {} }] }],
        },
        [tenantPolicyNames.dns]: {
            podSelector: {},
            policyTypes: ["Egress"],
            egress: [
                {
                    to: [
                        {
                            namespaceSelector: {
                                matchLabels: { "kubernetes.io/metadata.name": "kube-system" },
                            },
                            podSelector: { matchLabels: { "k8s-app": "kube-dns" } },
                        },
                    ],
                    ports: [
                        { protocol: "UDP", port: workloadPorts.dns },
                        { protocol: "TCP", port: workloadPorts.dns },
                    ],
                },
            ],
        },
    };
}

/** Arguments for {@link TenantIsolation}. */
export interface TenantIsolationArgs {
    /** Tenant namespaces with their Namespace objects. */
    readonly namespaces: Readonly<Record<string, k8s.core.v1.Namespace>>;
}

/** Default-deny plus same-namespace and DNS allowances in every tenant namespace. */
export class TenantIsolation extends pulumi.ComponentResource {
    constructor(name: string, args: TenantIsolationArgs, opts?: pulumi.ComponentResourceOptions) {
        super("secure-llm-platform:baseline:TenantIsolation", name, {}, opts);
        const policies: pulumi.Output<string>[] = [];
        for (const [namespace, ns] of Object.entries(args.namespaces)) {
            for (const [policyName, spec] of Object.entries(tenantNetworkPolicies())) {
                const np = new k8s.networking.v1.NetworkPolicy(
                    `${name}-${namespace}-${policyName}`,
                    { metadata: { name: policyName, namespace }, spec },
                    { parent: this, dependsOn: [ns] },
                );
                policies.push(pulumi.interpolate`${namespace}/${np.metadata.name}`);
            }
        }
        this.registerOutputs({ networkPolicies: policies });
    }
}
