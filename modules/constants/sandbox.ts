/** The pipeline sandbox's admission webhook as the network and the Kubeflow component name it. */
import { labels, partOfValue } from "./labels";
import { serviceNamespaces } from "./namespaces";

/** Workload id, labels and namespace of the webhook (modules/k8s/kubeflow/sandbox.ts). */
export const sandboxWebhook = {
    id: "sandbox-webhook",
    namespace: serviceNamespaces.sandboxAdmission,
    podLabels: {
        [labels.name]: "sandbox-webhook",
        [labels.partOf]: partOfValue,
        [labels.component]: "mlops",
    },
} as const;
