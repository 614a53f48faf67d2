/**
 * Pods that break one rule each: every check of the Pod Security `restricted` profile (with the
 * reason Pod Security admission gives, from kubernetes/pod-security-admission policy/check_*.go at
 * the pinned release) and every rule of the platform's ValidatingAdmissionPolicies (with the message
 * the policy renders).
 */
import { restrictedPodValidations } from "../../../modules/k8s/baseline/cel";

type Pod = Record<string, any>;

/** A pod that meets `restricted` and every platform policy except the tenant sandbox. */
export function compliantPod(name: string): Pod {
    return {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name, labels: { app: name } },
        spec: {
            automountServiceAccountToken: false,
            securityContext: {
                runAsNonRoot: true,
                runAsUser: 10001,
                runAsGroup: 10001,
                fsGroup: 10001,
                seccompProfile: { type: "RuntimeDefault" },
            },
            containers: [
                {
                    name: "app",
                    image: `registry.example/app@sha256:${"0".repeat(64)}`,
                    resources: {
                        requests: { cpu: "10m", memory: "16Mi" },
                        limits: { cpu: "100m", memory: "64Mi" },
                    },
                    securityContext: {
                        allowPrivilegeEscalation: false,
                        readOnlyRootFilesystem: true,
                        capabilities: { drop: ["ALL"] },
                    },
                },
            ],
        },
    };
}

/** One violation: how to break the pod, and who must refuse it with which words. */
export interface Violation {
    readonly id: string;
    readonly mutate: (p: Pod) => void;
    /** The Pod Security check's forbidden reason (restricted:v1.34). */
    readonly podSecurity: string;
    /**
     * A fragment of the platform policy's message, or `null` where the rule is left to Pod Security
     * admission by the policy (the admission-policy owner decides which; see docs/real-apiserver.md).
     */
    readonly policy: string | null;
    /** The first Pod Security version (minor of v1.NN) with this check. Defaults to every version. */
    readonly sinceMinor?: number;
}

const app = (p: Pod) => p.spec.containers[0];
const sc = (p: Pod) => app(p).securityContext;

/** The message of one of the restricted policy's validations, as the API server reports it. */
function policyMessage(id: string): string {
    const v = restrictedPodValidations.find((x) => x.id === id);
    if (v === undefined) {
        throw new Error(`the restricted policy has no validation ${id}`);
    }
    return v.message;
}

/** One pod per restricted check, plus the platform policy's own rules. */
export const violations: readonly Violation[] = [
    {
        id: "hostNetwork",
        mutate: (p) => (p.spec.hostNetwork = true),
        podSecurity: "host namespaces",
        policy: policyMessage("hostNamespaces"),
    },
    {
        id: "hostPID",
        mutate: (p) => (p.spec.hostPID = true),
        podSecurity: "host namespaces",
        policy: policyMessage("hostNamespaces"),
    },
    {
        id: "hostIPC",
        mutate: (p) => (p.spec.hostIPC = true),
        podSecurity: "host namespaces",
        policy: policyMessage("hostNamespaces"),
    },
    {
        id: "privileged",
        mutate: (p) => {
            // The API server rejects privileged with allowPrivilegeEscalation false as invalid.
            sc(p).privileged = true;
            delete sc(p).allowPrivilegeEscalation;
        },
        podSecurity: "privileged",
        policy: policyMessage("privileged"),
    },
    {
        id: "capabilities add SYS_ADMIN",
        mutate: (p) => (sc(p).capabilities.add = ["SYS_ADMIN"]),
        // The restricted check replaces the baseline one ("non-default capabilities") in the message.
        podSecurity: "unrestricted capabilities",
        policy: policyMessage("capabilitiesAdd"),
    },
    {
        id: "capabilities not dropped",
        mutate: (p) => delete sc(p).capabilities,
        podSecurity: "unrestricted capabilities",
        policy: policyMessage("capabilitiesDrop"),
    },
    {
        id: "hostPath volume",
        mutate: (p) => (p.spec.volumes = [{ name: "h", hostPath: { path: "/etc" } }]),
        // The restricted check replaces the baseline one ("hostPath volumes") in the message.
        podSecurity: "restricted volume types",
        policy: policyMessage("hostPath"),
    },
    {
        id: "nfs volume",
        mutate: (p) => (p.spec.volumes = [{ name: "n", nfs: { server: "10.0.0.1", path: "/" } }]),
        podSecurity: "restricted volume types",
        policy: policyMessage("volumeTypes"),
    },
    {
        id: "hostPort",
        mutate: (p) => (app(p).ports = [{ containerPort: 8080, hostPort: 8080 }]),
        podSecurity: "hostPort",
        policy: policyMessage("hostPorts"),
    },
    {
        id: "allowPrivilegeEscalation unset",
        mutate: (p) => delete sc(p).allowPrivilegeEscalation,
        podSecurity: "allowPrivilegeEscalation != false",
        policy: policyMessage("allowPrivilegeEscalation"),
    },
    {
        id: "runAsNonRoot unset",
        mutate: (p) => delete p.spec.securityContext.runAsNonRoot,
        podSecurity: "runAsNonRoot != true",
        policy: policyMessage("runAsNonRoot"),
    },
    {
        id: "runAsUser 0",
        mutate: (p) => (sc(p).runAsUser = 0),
        podSecurity: "runAsUser=0",
        policy: policyMessage("runAsUser"),
    },
    {
        id: "seccomp unset",
        mutate: (p) => delete p.spec.securityContext.seccompProfile,
        podSecurity: "seccompProfile",
        policy: policyMessage("seccompContainers"),
    },
    {
        id: "seccomp Unconfined",
        mutate: (p) => (sc(p).seccompProfile = { type: "Unconfined" }),
        podSecurity: "seccompProfile",
        policy: policyMessage("seccompContainers"),
    },
    {
        id: "AppArmor Unconfined",
        mutate: (p) => (sc(p).appArmorProfile = { type: "Unconfined" }),
        podSecurity: "forbidden AppArmor profile",
        policy: policyMessage("appArmorProfile"),
    },
    {
        id: "SELinux type spc_t",
        mutate: (p) => (sc(p).seLinuxOptions = { type: "spc_t" }),
        podSecurity: "seLinuxOptions",
        policy: policyMessage("seLinuxOptions"),
    },
    {
        id: "procMount Unmasked",
        mutate: (p) => {
            // The API server accepts Unmasked only for pods in a user namespace.
            p.spec.hostUsers = false;
            sc(p).procMount = "Unmasked";
        },
        podSecurity: "procMount",
        policy: policyMessage("procMount"),
    },
    {
        id: "unsafe sysctl",
        mutate: (p) =>
            (p.spec.securityContext.sysctls = [{ name: "kernel.msgmax", value: "65536" }]),
        podSecurity: "forbidden sysctls",
        policy: policyMessage("sysctls"),
    },
    {
        id: "Windows hostProcess",
        mutate: (p) => {
            // Validation requires hostNetwork with hostProcess; Pod Security names both.
            p.spec.hostNetwork = true;
            p.spec.securityContext.windowsOptions = { hostProcess: true };
            sc(p).windowsOptions = { hostProcess: true };
        },
        podSecurity: "hostProcess",
        policy: policyMessage("hostNamespaces"),
    },
    {
        id: "probe host",
        mutate: (p) =>
            (app(p).livenessProbe = { httpGet: { host: "169.254.169.254", path: "/", port: 80 } }),
        podSecurity: "probe or lifecycle host",
        policy: policyMessage("hostProbesAndHostLifecycle"),
        // policy/check_hostProbesAndhostLifecycle.go: MinimumVersion 1.34.
        sinceMinor: 34,
    },
];
