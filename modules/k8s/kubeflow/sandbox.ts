/**
 * The Kata sandbox of sandboxed pipeline steps (the fine-tune step), as data.
 *
 * KFP 2.16.0 cannot set `runtimeClassName`: kfp-kubernetes' `KubernetesExecutorConfig` (KFP
 * 2.16.0 `kubernetes_platform/proto/kubernetes_executor_config.proto`) has node selectors,
 * tolerations, labels, volumes, security context and timeouts but no RuntimeClass, and the
 * backend's driver builds each step's pod spec patch from that config only
 * (`backend/src/v2/driver/k8s.go`). Argo's side cannot target one step either: KFP compiles every
 * container task onto one shared executor template (`system-container-impl`,
 * `backend/src/v2/compiler/argocompiler/container.go`) whose `podSpecPatch` is the driver's
 * output, and the workflow controller's `workflowDefaults` apply to every Workflow it runs.
 * The MutatingAdmissionPolicy API is beta and off by default in Kubernetes 1.34 (`kube-apiserver
 * -h` of v1.34.2: "MutatingAdmissionPolicy=true|false (BETA - default=false)"), and OKE exposes
 * no API server feature gates. So the class is set by admission, with the one mutating mechanism
 * every 1.34 control plane serves (admissionregistration.k8s.io/v1), and checked by a policy:
 *
 * - {@link sandboxWebhooks}: the MutatingWebhookConfiguration `slp-pipeline-sandbox-runtime`
 *   sends the creation of each sandbox-labelled Pod in the pipeline namespaces (and nothing else:
 *   namespaceSelector + objectSelector) to our webhook (images/sandbox-webhook/webhook.py), which
 *   adds `spec.runtimeClassName` when the pod names no class, refuses a pod that names another,
 *   and patches nothing else. `failurePolicy: Fail`: with the webhook down, sandboxed pods are
 *   refused and every other pod is admitted. Served by {@link sandboxWebhookPodArgs} (2 replicas,
 *   PDB) in its own namespace, TLS from cert-manager ({@link sandboxCertificates}) with the CA
 *   injected into `caBundle` by cert-manager's cainjector (`cert-manager.io/inject-ca-from`,
 *   https://cert-manager.io/docs/concepts/ca-injector/); only the API server may reach it (the
 *   network intent's API-server → sandbox-webhook ingress).
 * - {@link sandboxGuardSpec}: the ValidatingAdmissionPolicy `slp-pipeline-sandbox` refuses a
 *   sandbox-labelled Pod whose `runtimeClassName` is not the Kata GPU class, whatever admitted it
 *   (validation runs after every mutation): the fail-closed guard.
 *
 * The webhook sets only the class: the RuntimeClass admission plugin runs before the webhooks,
 * and a webhook's patch makes the API server run every in-tree mutating plugin once more
 * (kubernetes/enhancements, KEP "Admission Webhooks to GA", section "Mutating Plugin ordering"),
 * so the RuntimeClass plugin fills in the class's overhead and scheduling (observed on the real
 * kube-apiserver v1.34.2, test/real/apiserver/pipeline-sandbox.test.ts): the overhead keeps one
 * home, the RuntimeClass.
 */
import { PinnedImage, placeholderDigest, sandboxWebhookImage } from "../../constants/images";
import { serviceNamespaces } from "../../constants/namespaces";
import { workloadPorts } from "../../constants/ports";
import { sandboxWebhook } from "../../constants/sandbox";
import { priorityClasses } from "../../constants/scheduling";
import type { Workload, WorkloadId } from "../catalog";
import type { HardenedWorkloadArgs } from "../workload";
import { sandboxLabel } from "./namespace";

/** Name of the validating policy (and its binding). */
export const sandboxGuardName = "slp-pipeline-sandbox";
/** Name of the MutatingWebhookConfiguration. */
export const sandboxWebhookConfigName = "slp-pipeline-sandbox-runtime";
/** Name of its one webhook (a fully qualified name, as the API requires). */
export const sandboxWebhookName = "runtime-class.pipeline-sandbox.secure-llm-platform.io";
/** Path the webhook serves. */
export const sandboxWebhookPath = "/mutate";

/** Secret with the webhook's serving certificate (cert-manager writes it). */
export const sandboxWebhookTlsSecret = "sandbox-webhook-tls";
/** The serving Certificate, whose CA cainjector copies into the webhook configuration. */
export const sandboxWebhookCertificate = "sandbox-webhook-tls";
const caSecret = "sandbox-webhook-ca";
const selfSignedIssuer = "sandbox-webhook-selfsigned";
const caIssuer = "sandbox-webhook-ca";
const tlsDir = "/var/run/secrets/sandbox-webhook";

/**
 * Namespaces where pipeline steps run: the pipeline namespace (runs in `full` mode) and `kubeflow`
 * (standalone KFP runs every pipeline there).
 */
export function pipelineNamespaces(profileNamespace: string): string[] {
    return [...new Set([profileNamespace, serviceNamespaces.kubeflow])];
}

const podsOnCreate = {
    resourceRules: [
        { apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["pods"] },
    ],
};

/** Only the sandbox-labelled pods of the pipeline namespaces. */
export function sandboxMatchResources(namespaces: readonly string[]) {
    return {
        namespaceSelector: {
            matchExpressions: [
                {
                    key: "kubernetes.io/metadata.name",
                    operator: "In",
                    values: [...namespaces],
                },
            ],
        },
        objectSelector: { matchExpressions: [{ key: sandboxLabel, operator: "Exists" }] },
    };
}

/** The validating policy: a sandbox-labelled Pod runs under `runtimeClass`, or is refused. */
export function sandboxGuardSpec(runtimeClass: string) {
    return {
        failurePolicy: "Fail",
        matchConstraints: podsOnCreate,
        validations: [
            {
                expression: `has(object.spec.runtimeClassName) && object.spec.runtimeClassName == '${runtimeClass}'`,
                message: `sandboxed pipeline steps (label ${sandboxLabel}) must run under RuntimeClass ${runtimeClass}; the ${sandboxWebhookConfigName} webhook sets it on pods that name no class`,
                reason: "Forbidden",
            },
        ],
    };
}

/** Where the API server calls the webhook: its Service (a URL only in the real suite). */
export type WebhookClientConfig =
    | {
          readonly service: {
              readonly namespace: string;
              readonly name: string;
              readonly port: number;
              readonly path: string;
          };
      }
    | { readonly url: string; readonly caBundle: string };

/** The webhook's Service, as the cluster's API server calls it. */
export function sandboxWebhookService(): WebhookClientConfig {
    return {
        service: {
            namespace: sandboxWebhook.namespace,
            name: sandboxWebhook.id,
            port: workloadPorts.sandboxWebhook,
            path: sandboxWebhookPath,
        },
    };
}

/**
 * The webhooks of the MutatingWebhookConfiguration: pod creations only, only sandbox-labelled pods
 * of `namespaces`, `failurePolicy: Fail`, no side effects (so dry runs are sent too), called again
 * when a later webhook changes the pod (`IfNeeded`; the guard validates the final pod anyway).
 */
export function sandboxWebhooks(opts: {
    readonly namespaces: readonly string[];
    readonly clientConfig: WebhookClientConfig;
}) {
    return [
        {
            name: sandboxWebhookName,
            admissionReviewVersions: ["v1"],
            clientConfig: opts.clientConfig,
            rules: [
                {
                    apiGroups: [""],
                    apiVersions: ["v1"],
                    operations: ["CREATE"],
                    resources: ["pods"],
                    scope: "Namespaced",
                },
            ],
            ...sandboxMatchResources(opts.namespaces),
            failurePolicy: "Fail",
            matchPolicy: "Equivalent",
            sideEffects: "None",
            timeoutSeconds: 5,
            reinvocationPolicy: "IfNeeded",
        },
    ];
}

/** The annotation that has cert-manager's cainjector fill in every webhook's `caBundle`. */
export function sandboxCaInjection(): Record<string, string> {
    return {
        "cert-manager.io/inject-ca-from": `${sandboxWebhook.namespace}/${sandboxWebhookCertificate}`,
    };
}

/** A cert-manager object to declare in the webhook's namespace. */
export interface CertManagerObject {
    readonly role: string;
    readonly kind: "Issuer" | "Certificate";
    readonly name: string;
    readonly spec: Record<string, unknown>;
}

/**
 * The webhook's own CA and serving certificate, in its namespace only: a self-signed bootstrap
 * Issuer signs the CA once, the CA Issuer signs the serving certificate for the Service's DNS names
 * (what the API server checks), rotated by cert-manager; the CA's key never leaves the namespace.
 */
export function sandboxCertificates(): CertManagerObject[] {
    const key = { algorithm: "ECDSA", size: 256, rotationPolicy: "Always" };
    const svc = `${sandboxWebhook.id}.${sandboxWebhook.namespace}.svc`;
    return [
        { role: "selfsigned", kind: "Issuer", name: selfSignedIssuer, spec: { selfSigned: {} } },
        {
            role: "ca",
            kind: "Certificate",
            name: caSecret,
            spec: {
                isCA: true,
                commonName: "secure-llm-platform pipeline sandbox webhook CA",
                secretName: caSecret,
                duration: "87600h",
                renewBefore: "720h",
                privateKey: key,
                issuerRef: { name: selfSignedIssuer, kind: "Issuer" },
            },
        },
        {
            role: "ca-issuer",
            kind: "Issuer",
            name: caIssuer,
            spec: { ca: { secretName: caSecret } },
        },
        {
            role: "serving",
            kind: "Certificate",
            name: sandboxWebhookCertificate,
            spec: {
                secretName: sandboxWebhookTlsSecret,
                commonName: svc,
                dnsNames: [svc, `${svc}.cluster.local`],
                usages: ["server auth", "digital signature"],
                duration: "2160h",
                renewBefore: "720h",
                privateKey: key,
                issuerRef: { name: caIssuer, kind: "Issuer" },
            },
        },
    ];
}

/** The webhook as a workload (not in the catalog: it belongs to Kubeflow's part of the platform). */
export function sandboxWebhookWorkload(): Workload {
    return {
        id: sandboxWebhook.id as WorkloadId,
        namespace: sandboxWebhook.namespace,
        component: "mlops",
        podLabels: sandboxWebhook.podLabels,
        ports: [{ name: "https", port: workloadPorts.sandboxWebhook, protocol: "TCP" }],
        serviceHost: `${sandboxWebhook.id}.${sandboxWebhook.namespace}.svc.cluster.local`,
    };
}

/** The webhook's container arguments: the class it sets and the label it acts on come from here. */
export function sandboxWebhookArgs(
    runtimeClass: string,
    files: { readonly cert: string; readonly key: string } = {
        cert: `${tlsDir}/tls.crt`,
        key: `${tlsDir}/tls.key`,
    },
): string[] {
    return [
        "--runtime-class",
        runtimeClass,
        "--label",
        sandboxLabel,
        "--cert",
        files.cert,
        "--key",
        files.key,
        "--port",
        String(workloadPorts.sandboxWebhook),
        "--health-port",
        String(workloadPorts.sandboxWebhookHealth),
    ];
}

/** The webhook's pods, through the hardened workload builder. */
export function sandboxWebhookPodArgs(runtimeClass: string): HardenedWorkloadArgs {
    const image = sandboxWebhookImage;
    return {
        workload: sandboxWebhookWorkload(),
        priorityClassName: priorityClasses.platform,
        containers: [
            {
                name: "webhook",
                image: { repository: image.repository, tag: image.tag, digest: image.digest },
                args: sandboxWebhookArgs(runtimeClass),
                ports: [
                    { name: "https", containerPort: workloadPorts.sandboxWebhook },
                    { name: "health", containerPort: workloadPorts.sandboxWebhookHealth },
                ],
                resources: {
                    requests: { cpu: "50m", memory: "64Mi", ephemeralStorage: "16Mi" },
                    limits: { cpu: "500m", memory: "128Mi", ephemeralStorage: "64Mi" },
                },
                probes: {
                    readiness: { path: "/healthz", port: "health", periodSeconds: 5 },
                    liveness: { path: "/healthz", port: "health" },
                },
                mounts: [{ name: "tls", mountPath: tlsDir }],
            },
        ],
        volumes: [{ name: "tls", secret: { secretName: sandboxWebhookTlsSecret } }],
    };
}

/**
 * What the plan should say about the sandbox on this cluster: an API server the network intent
 * knows no CIDR of cannot reach the webhook (every sandboxed step is then refused), and a
 * placeholder image cannot run.
 */
export function sandboxWarnings(
    apiServerCidrs: readonly string[],
    image: PinnedImage = sandboxWebhookImage,
): string[] {
    const out: string[] = [];
    if (apiServerCidrs.length === 0) {
        out.push(
            "kubeflow: no API server CIDR is known (networkPolicy.apiServerCidrs), so no NetworkPolicy admits the API server to the pipeline sandbox webhook: the fine-tune step will be refused (fail closed) until it is set",
        );
    }
    if (image.digest === placeholderDigest) {
        out.push(
            `pipeline sandbox webhook image ${image.repository}:${image.tag}: placeholder digest of an image we build (images/sandbox-webhook/Dockerfile): build and push it, then set sandboxWebhookImage in modules/constants/images.ts`,
        );
    }
    return out;
}
