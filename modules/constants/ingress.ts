/** Ingress names shared by the baseline (which installs the controller and issuer) and the gateway. */

/** IngressClass of the ingress-nginx controller the baseline installs. */
export const ingressClassName = "nginx";

/** cert-manager ClusterIssuer the baseline creates; signs the gateway's TLS certificate. */
export const clusterIssuerName = "platform-ca";

/** Helm release name of the ingress-nginx controller (the chart names its objects after it). */
export const ingressReleaseName = "ingress-nginx";

/**
 * The controller's Prometheus endpoint, as the pinned chart renders it with `controller.metrics`
 * enabled: container port `metrics` (10254) and the Service `<release>-controller-metrics`, labelled
 * with the chart's selector labels plus `app.kubernetes.io/component: controller`
 * (kubernetes/ingress-nginx:charts/ingress-nginx/templates/controller-service-metrics.yaml).
 */
export const ingressControllerMetrics = {
    port: 10254,
    portName: "metrics",
    serviceName: `${ingressReleaseName}-controller-metrics`,
    serviceLabels: {
        "app.kubernetes.io/name": "ingress-nginx",
        "app.kubernetes.io/instance": ingressReleaseName,
        "app.kubernetes.io/component": "controller",
    },
} as const;

/**
 * Buckets, in seconds, of the controller's request-duration histograms (`--time-buckets`). The
 * default (Prometheus DefBuckets) stops at 10 s, below an LLM answer; these reach the gateway's
 * 300 s proxy read timeout so a p95 over them is meaningful.
 */
export const ingressTimeBucketsSeconds = [
    0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 45, 60, 90, 120, 180, 300,
] as const;
