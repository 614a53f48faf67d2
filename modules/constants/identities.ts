/**
 * Kubernetes identities that OCI IAM trusts through OKE workload identity.
 * The cloud layer writes IAM statements for exactly these subjects; the cluster layer must run the
 * workloads under the same namespace and ServiceAccount names, or OCI denies their requests.
 */
import { serviceNamespaces, tierNamespaces } from "./namespaces";

/** A Kubernetes ServiceAccount, as OKE workload identity names it in IAM conditions. */
export interface WorkloadIdentitySubject {
    /** Namespace of the ServiceAccount (`request.principal.namespace`). */
    readonly namespace: string;
    /** ServiceAccount name (`request.principal.service_account`). */
    readonly serviceAccount: string;
}

/** Subjects that receive OCI permissions, by purpose. */
export const workloadIdentities = {
    /** The inference tier's model loader: decrypts with the model key and reads the model bucket. */
    modelLoader: { namespace: tierNamespaces.inference, serviceAccount: "inference" },
    /** External Secrets: reads secret bundles of the cluster's vault. */
    externalSecrets: {
        namespace: serviceNamespaces.externalSecrets,
        serviceAccount: "external-secrets",
    },
} as const satisfies Record<string, WorkloadIdentitySubject>;
