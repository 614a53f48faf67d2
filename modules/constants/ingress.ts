/** Ingress names shared by the baseline (which installs the controller and issuer) and the gateway. */

/** IngressClass of the ingress-nginx controller the baseline installs. */
export const ingressClassName = "nginx";

/** cert-manager ClusterIssuer the baseline creates; signs the gateway's TLS certificate. */
export const clusterIssuerName = "platform-ca";
