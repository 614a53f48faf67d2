/**
 * External Secrets Operator and the `oci-vault` ClusterSecretStore. Every secret the platform needs
 * arrives as an `ExternalSecret` against this store; nothing is written as a literal.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { ExistingClusterSecretsAuth } from "../../config/baseline";
import { withChartImages } from "../../constants/chart-images";
import { charts } from "../../constants/charts";
import { workloadIdentities } from "../../constants/identities";
import { labels } from "../../constants/labels";
import { priorityClasses } from "../../constants/scheduling";
import { clusterSecretStoreName } from "../../constants/secrets";

const identity = workloadIdentities.externalSecrets;

const containerSecurityContext = {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    runAsNonRoot: true,
    runAsUser: 10001,
    runAsGroup: 10001,
    capabilities: { drop: ["ALL"] },
    seccompProfile: { type: "RuntimeDefault" },
};

const resources = {
    requests: { cpu: "50m", memory: "128Mi", "ephemeral-storage": "64Mi" },
    limits: { cpu: "500m", memory: "512Mi", "ephemeral-storage": "256Mi" },
};

/**
 * Helm values of External Secrets: hardened pods, the ServiceAccount OCI IAM trusts, and for the
 * controller (the only component that calls OCI Vault) the egress proxy its network policy sends
 * it through (`proxyEnv`, empty under FQDN engines).
 */
export function externalSecretsValues(
    proxyEnv: readonly { name: string; value: string }[] = [],
): Record<string, unknown> {
    const hardened = {
        securityContext: containerSecurityContext,
        podSecurityContext: {
            enabled: true,
            runAsNonRoot: true,
            fsGroup: 10001,
            seccompProfile: { type: "RuntimeDefault" },
        },
        resources,
        priorityClassName: priorityClasses.platform,
        replicaCount: 2,
        podDisruptionBudget: { enabled: true, minAvailable: 1 },
    };
    return withChartImages("external-secrets", {
        installCRDs: true,
        leaderElect: true,
        // OKE workload identity names this exact namespace and ServiceAccount in the IAM policy.
        serviceAccount: { create: true, name: identity.serviceAccount },
        serviceMonitor: { enabled: false },
        ...hardened,
        ...(proxyEnv.length > 0 ? { extraEnv: proxyEnv.map((e) => ({ ...e })) } : {}),
        webhook: { ...hardened },
        certController: { ...hardened },
    });
}

/** Namespace roles allowed to use the store: platform namespaces, never tenants. */
export const storeNamespaceRoles = ["tier", "service"] as const;

/** The `spec.provider.oracle` of the store. */
export function oracleProvider(
    auth:
        | { kind: "workload"; vaultId: pulumi.Input<string>; region: string }
        | { kind: "api-key"; existing: ExistingClusterSecretsAuth },
): Record<string, unknown> {
    if (auth.kind === "workload") {
        return {
            vault: auth.vaultId,
            region: auth.region,
            principalType: "Workload",
            serviceAccountRef: { name: identity.serviceAccount, namespace: identity.namespace },
        };
    }
    const e = auth.existing;
    const ref = (key: string) => ({ name: e.secretName, namespace: identity.namespace, key });
    return {
        vault: e.vaultId,
        region: e.region,
        principalType: "UserPrincipal",
        auth: {
            user: e.userOcid,
            tenancy: e.tenancyOcid,
            secretRef: { privatekey: ref("privateKey"), fingerprint: ref("fingerprint") },
        },
    };
}

/** Arguments for {@link ExternalSecrets}. */
export interface ExternalSecretsArgs {
    /** OKE: the cluster's vault OCID, reached through workload identity. */
    readonly vaultId?: pulumi.Input<string>;
    /** OKE: the vault's region. */
    readonly region?: string;
    /** Existing clusters: API-key auth from a Secret created out of band. */
    readonly existingClusterAuth?: ExistingClusterSecretsAuth;
    /** HTTPS_PROXY/NO_PROXY of the controller under the proxy egress engine. Defaults to none. */
    readonly proxyEnv?: readonly { name: string; value: string }[];
    /**
     * What the chart's pods need first: their namespace with its quota and LimitRange, and the
     * PriorityClasses. Defaults to none.
     */
    readonly after?: readonly pulumi.Resource[];
}

/** External Secrets Operator and its OCI Vault store. */
export class ExternalSecrets extends pulumi.ComponentResource {
    /** The `oci-vault` ClusterSecretStore. */
    public readonly store: k8s.apiextensions.CustomResource;

    constructor(name: string, args: ExternalSecretsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("secure-llm-platform:baseline:ExternalSecrets", name, {}, opts);
        let provider: Record<string, unknown>;
        if (args.existingClusterAuth !== undefined) {
            provider = oracleProvider({ kind: "api-key", existing: args.existingClusterAuth });
        } else if (args.vaultId !== undefined && args.region !== undefined) {
            provider = oracleProvider({
                kind: "workload",
                vaultId: args.vaultId,
                region: args.region,
            });
        } else {
            throw new pulumi.ResourceError(
                "External Secrets needs a vault: an OKE cluster's cloud layer provides it, an existing cluster needs baseline.secrets.existingClusterAuth (or baseline.secrets.enabled: false)",
                this,
            );
        }
        const release = new k8s.helm.v3.Release(
            `${name}-eso`,
            {
                name: "external-secrets",
                chart: charts.externalSecrets.chart,
                version: charts.externalSecrets.version,
                repositoryOpts: { repo: charts.externalSecrets.repo },
                namespace: identity.namespace,
                values: externalSecretsValues(args.proxyEnv),
                atomic: true,
            },
            { parent: this, dependsOn: [...(args.after ?? [])] },
        );
        this.store = new k8s.apiextensions.CustomResource(
            `${name}-store`,
            {
                apiVersion: "external-secrets.io/v1",
                kind: "ClusterSecretStore",
                metadata: { name: clusterSecretStoreName },
                spec: {
                    provider: { oracle: provider },
                    // Tenants cannot pull platform secrets through the shared store.
                    conditions: [
                        {
                            namespaceSelector: {
                                matchExpressions: [
                                    {
                                        key: labels.namespaceRole,
                                        operator: "In",
                                        values: [...storeNamespaceRoles],
                                    },
                                ],
                            },
                        },
                    ],
                },
            },
            { parent: this, dependsOn: [release] },
        );
        this.registerOutputs({ store: this.store.metadata.name });
    }
}
