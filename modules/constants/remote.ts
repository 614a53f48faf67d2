/** Names shared by the two ends of remote inference (issue 16): the serving and the calling cluster. */

/** Host name in the entry's server certificate; the uplink verifies it (no DNS record is needed). */
export function entryServerName(servingCluster: string): string {
    return `inference-entry.${servingCluster}.internal`;
}

/** Subject common name of a calling cluster's client certificate; the entry admits only these. */
export function clientCommonName(callingCluster: string): string {
    return `guardrails.${callingCluster}`;
}

/** OCI Vault secret that carries a calling cluster's client certificate bundle (JSON of the Secret). */
export function clientVaultSecretName(servingCluster: string, callingCluster: string): string {
    return `inference-client-${servingCluster}-${callingCluster}`;
}
