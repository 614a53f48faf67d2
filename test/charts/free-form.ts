/** Values maps the pinned charts leave free-form (used by the chart values suites). */

/**
 * Maps the charts leave free-form, by chart: each entry is a values path whose keys are not the
 * chart's (Kubernetes API fields, labels, annotations, program flags, ini sections), with where the
 * chart says so. Everything else we set must be a key of the chart's values.yaml.
 */
export const freeForm: Readonly<Record<string, readonly { path: string; why: string }[]>> = {
    "cert-manager-v1.18.2": [
        ...["", "webhook.", "cainjector.", "startupapicheck."].flatMap((c) => [
            { path: `${c}containerSecurityContext.**`, why: "a container SecurityContext, toYaml" },
            { path: `${c}resources.**`, why: "ResourceRequirements, toYaml" },
        ]),
        ...["", "webhook."].map((c) => ({
            path: `${c}podDisruptionBudget.minAvailable`,
            why: "commented in values.yaml, read by templates/*poddisruptionbudget.yaml and in the schema",
        })),
        ...["", "webhook.", "cainjector.", "startupapicheck.", "acmesolver."].flatMap((c) =>
            ["tag", "digest"].map((k) => ({
                path: `${c}image.${k}`,
                why: "commented in values.yaml (+docs:property), read by the `image` helper of templates/_helpers.tpl and in the schema",
            })),
        ),
    ],
    "external-secrets-0.19.2": ["", "webhook.", "certController."].flatMap((c) => [
        {
            path: `${c}podSecurityContext.**`,
            why: "a PodSecurityContext (the chart drops `enabled`)",
        },
        { path: `${c}securityContext.**`, why: "a container SecurityContext, toYaml" },
        { path: `${c}resources.**`, why: "ResourceRequirements, toYaml" },
    ]),
    "ingress-nginx-4.14.1": [
        { path: "controller.config.**", why: "data of the controller's ConfigMap: nginx settings" },
        ...["controller.image", "controller.admissionWebhooks.patch.image"].map((c) => ({
            path: `${c}.repository`,
            why: "commented in values.yaml (the full image URL instead of registry/image), read by controller-deployment.yaml and job-patch/*.yaml",
        })),
        { path: "controller.extraArgs.**", why: "controller flags, one per key" },
        { path: "controller.podSecurityContext.**", why: "a PodSecurityContext, toYaml" },
        { path: "controller.resources.**", why: "ResourceRequirements, toYaml" },
        { path: "controller.service.annotations.**", why: "Service annotations" },
        { path: "controller.admissionWebhooks.*.resources.**", why: "ResourceRequirements" },
        {
            path: "controller.admissionWebhooks.patch.securityContext.**",
            why: "the patch Jobs' PodSecurityContext, toYaml",
        },
    ],
    "kata-deploy-3.29.0": [{ path: "nodeSelector.**", why: "the DaemonSet's nodeSelector" }],
    "gpu-operator-v25.3.0": [
        ...["operator", "validator"].map((c) => ({
            path: `${c}.version`,
            why: "commented in values.yaml (default the chart's appVersion), read by templates/_helpers.tpl gpu-operator.fullimage and clusterpolicy.yaml",
        })),
        {
            path: "node-feature-discovery.image",
            why: "the image keys of the node-feature-discovery v0.17.2 subchart (its values.yaml: image.repository, image.tag), whose data the charts folder does not hold",
        },
    ],
    "kube-prometheus-stack-82.16.0": [
        ...[
            "alertmanager.alertmanagerSpec",
            "prometheus.prometheusSpec",
            "prometheusOperator",
            "grafana",
            "kube-state-metrics",
            "prometheus-node-exporter",
        ].map((c) => ({ path: `${c}.resources.**`, why: "ResourceRequirements" })),
        { path: "alertmanager.alertmanagerSpec.storage.**", why: "the Alertmanager CR's storage" },
        { path: "prometheus.prometheusSpec.storageSpec.**", why: "the Prometheus CR's storage" },
        ...[
            "prometheusOperator.containerSecurityContext",
            "prometheusOperator.admissionWebhooks.patch.securityContext",
            "grafana.securityContext",
            "grafana.containerSecurityContext",
            "grafana.sidecar.securityContext",
            "kube-state-metrics.containerSecurityContext",
        ].map((path) => ({ path: `${path}.**`, why: "a (pod) SecurityContext, toYaml" })),
        { path: "grafana.[grafana.ini].**", why: "sections and keys of grafana.ini" },
        {
            path: "grafana.persistence.storageClassName",
            why: "commented in grafana's values.yaml, read by its templates/pvc.yaml",
        },
    ],
};
