/** External Secrets names shared by the baseline (which creates the store) and its consumers. */

/** ClusterSecretStore backed by the cluster's OCI Vault; every ExternalSecret reads from it. */
export const clusterSecretStoreName = "oci-vault";

/** API version of the External Secrets objects the program authors. */
export const externalSecretsApiVersion = "external-secrets.io/v1";
