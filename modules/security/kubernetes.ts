/**
 * Rules over Kubernetes objects: Pod Security Standards `restricted`, the
 * NSA/CISA and CIS §5 extras (§9.2, scanner thresholds from §9.3), RBAC, namespaces and Services.
 */
import {
    annotations as platformAnnotations,
    exceptionAnnotations,
    ociInternalLoadBalancerAnnotations,
} from "../constants/labels";
import { privilegedNamespaces as platformPrivilegedNamespaces } from "../constants/namespaces";
import { ContainerView, kubernetesKind, objectRef, PodView, podView } from "./pods";
import type { ResourceDescription, Rule, RuleContext, Severity } from "./types";
import { get, isNonEmptyString, isRecord, isSet, isUnknown, list, stringMap } from "./values";

/** Lowest UID/GID the scanners accept (kube-score/kubesec > 10000, Checkov ≥ 10000). */
export const minimumId = 10001;

/** Capabilities PSS baseline lets a container add. */
const baselineCapabilities = new Set([
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
]);

/** Sysctls PSS baseline allows (pod-security-admission `check_sysctls.go`, up to v1.32). */
export const safeSysctls: ReadonlySet<string> = new Set([
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
    "net.ipv4.tcp_rmem",
    "net.ipv4.tcp_wmem",
]);

/** SELinux types PSS baseline allows besides none (`check_seLinuxOptions.go`, v1.31+). */
export const allowedSeLinuxTypes: ReadonlySet<string> = new Set([
    "container_t",
    "container_init_t",
    "container_kvm_t",
    "container_engine_t",
]);

/** Volume sources PSS restricted allows. */
export const restrictedVolumeSources: ReadonlySet<string> = new Set([
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "image",
    "persistentVolumeClaim",
    "projected",
    "secret",
]);

/** Seccomp profile types PSS restricted requires. */
export const secureSeccompTypes: ReadonlySet<string> = new Set(["RuntimeDefault", "Localhost"]);

/** AppArmor profile types PSS baseline allows in `securityContext.appArmorProfile.type`. */
export const allowedAppArmorTypes: ReadonlySet<string> = new Set(["RuntimeDefault", "Localhost"]);

/**
 * The AppArmor annotations PSS baseline restricts, and the values it allows: empty,
 * `runtime/default` or `localhost/<profile>` (pod-security-admission `check_appArmorProfile.go`,
 * `allowedProfile`).
 */
export const appArmorAnnotation = {
    prefix: "container.apparmor.security.beta.kubernetes.io/",
    allowedValues: ["", "runtime/default"],
    allowedValuePrefix: "localhost/",
} as const;

/** True for an AppArmor annotation value PSS baseline allows. */
export function isAllowedAppArmorAnnotation(value: string): boolean {
    return (
        (appArmorAnnotation.allowedValues as readonly string[]).includes(value) ||
        value.startsWith(appArmorAnnotation.allowedValuePrefix)
    );
}

/** The only capability PSS restricted lets a container add. */
export const allowedCapabilities = ["NET_BIND_SERVICE"] as const;
export type AllowedCapability = (typeof allowedCapabilities)[number];

/** `sha256:` and 64 lower-case hex digits: an image digest. */
export const digestPattern = /^sha256:[0-9a-f]{64}$/;

function forKinds(...kinds: string[]): (type: string) => boolean {
    return (type) => kinds.includes(kubernetesKind(type) ?? "");
}

const isWorkload = forKinds(
    "Pod",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "ReplicationController",
    "Job",
    "CronJob",
);

/** The namespaces whose workloads are exempt from pod hardening in this context. */
function privilegedNamespaceSet(ctx: RuleContext): ReadonlySet<string> {
    return new Set(ctx.privilegedNamespaces ?? Object.values(platformPrivilegedNamespaces));
}

/** A workload rule over the pod view; `hardening` rules skip privileged system namespaces. */
function podRule(
    id: string,
    severity: Severity,
    description: string,
    hardening: boolean,
    check: (pod: PodView, ctx: RuleContext) => string[],
): Rule {
    return {
        id,
        severity,
        description,
        appliesTo: isWorkload,
        check(r: ResourceDescription, ctx: RuleContext): string[] {
            const pod = podView(r.type, r.name, r.inputs);
            if (pod === undefined || isUnknown(pod.spec)) {
                return [];
            }
            if (
                hardening &&
                pod.namespace !== undefined &&
                privilegedNamespaceSet(ctx).has(pod.namespace)
            ) {
                return [];
            }
            return check(pod, ctx);
        },
    };
}

/** A set appArmorProfile type outside {@link allowedAppArmorTypes} (e.g. Unconfined). */
function isDisallowedAppArmorType(type: unknown): boolean {
    return typeof type === "string" && !allowedAppArmorTypes.has(type);
}

/** The container's value when set, else the pod's (PSS semantics for securityContext fields). */
function effective(c: unknown, pod: unknown, field: string, sub?: string): unknown {
    const path = sub === undefined ? [field] : [field, sub];
    const own = get(c, "securityContext", ...path);
    return own !== undefined ? own : get(pod, "securityContext", ...path);
}

function seLinuxViolations(opts: unknown, where: string, ref: string): string[] {
    if (!isRecord(opts)) {
        return [];
    }
    const out: string[] = [];
    const type = opts.type;
    if (typeof type === "string" && type !== "" && !allowedSeLinuxTypes.has(type)) {
        out.push(
            `${ref}: ${where}.seLinuxOptions.type "${type}" is not a container type (PSS baseline seLinuxOptions)`,
        );
    }
    for (const f of ["user", "role"]) {
        if (typeof opts[f] === "string" && opts[f] !== "") {
            out.push(
                `${ref}: ${where}.seLinuxOptions.${f} must be empty (PSS baseline seLinuxOptions)`,
            );
        }
    }
    return out;
}

function hostFieldViolations(c: ContainerView, ref: string): string[] {
    const out: string[] = [];
    const handlers: [string, unknown][] = [
        ["livenessProbe", get(c.container, "livenessProbe")],
        ["readinessProbe", get(c.container, "readinessProbe")],
        ["startupProbe", get(c.container, "startupProbe")],
        ["lifecycle.postStart", get(c.container, "lifecycle", "postStart")],
        ["lifecycle.preStop", get(c.container, "lifecycle", "preStop")],
    ];
    for (const [where, h] of handlers) {
        for (const kind of ["httpGet", "tcpSocket"]) {
            const host = get(h, kind, "host");
            if (typeof host === "string" && host !== "") {
                out.push(
                    `${ref}: ${c.path}.${where}.${kind}.host (${c.label}) must be empty (PSS baseline hostProbesAndHostLifecycle)`,
                );
            }
        }
    }
    return out;
}

/** Every PSS baseline and restricted control over one pod spec. */
export function podSecurityViolations(pod: PodView): string[] {
    const { ref, spec, specPath } = pod;
    const out: string[] = [];
    for (const host of ["hostNetwork", "hostPID", "hostIPC"]) {
        if (get(spec, host) === true) {
            out.push(
                `${ref}: ${specPath}.${host} must be unset or false (PSS baseline hostNamespaces)`,
            );
        }
    }
    list(get(spec, "volumes")).forEach((v, i) => {
        if (!isRecord(v)) {
            return;
        }
        const where = `${specPath}.volumes[${i}] ("${String(v.name)}")`;
        if (v.hostPath !== undefined) {
            out.push(`${ref}: ${where} is a hostPath volume (PSS baseline hostPathVolumes)`);
        }
        for (const source of Object.keys(v)) {
            if (
                source !== "name" &&
                source !== "hostPath" &&
                !restrictedVolumeSources.has(source)
            ) {
                out.push(
                    `${ref}: ${where} uses volume source ${source} (PSS restricted restrictedVolumes)`,
                );
            }
        }
    });
    const psc = `${specPath}.securityContext`;
    if (get(spec, "securityContext", "runAsNonRoot") === false) {
        out.push(`${ref}: ${psc}.runAsNonRoot must not be false (PSS restricted runAsNonRoot)`);
    }
    if (get(spec, "securityContext", "runAsUser") === 0) {
        out.push(`${ref}: ${psc}.runAsUser must not be 0 (PSS restricted runAsUser)`);
    }
    if (get(spec, "securityContext", "seccompProfile", "type") === "Unconfined") {
        out.push(
            `${ref}: ${psc}.seccompProfile.type must not be Unconfined (PSS baseline seccompProfile)`,
        );
    }
    if (isDisallowedAppArmorType(get(spec, "securityContext", "appArmorProfile", "type"))) {
        out.push(
            `${ref}: ${psc}.appArmorProfile.type must be RuntimeDefault or Localhost (PSS baseline appArmorProfile)`,
        );
    }
    if (get(spec, "securityContext", "windowsOptions", "hostProcess") === true) {
        out.push(
            `${ref}: ${psc}.windowsOptions.hostProcess must not be true (PSS baseline windowsHostProcess)`,
        );
    }
    out.push(...seLinuxViolations(get(spec, "securityContext", "seLinuxOptions"), psc, ref));
    list(get(spec, "securityContext", "sysctls")).forEach((s, i) => {
        const n = get(s, "name");
        if (typeof n === "string" && !safeSysctls.has(n)) {
            out.push(
                `${ref}: ${psc}.sysctls[${i}] "${n}" is not a safe sysctl (PSS baseline sysctls)`,
            );
        }
    });
    for (const [key, value] of Object.entries(pod.annotations)) {
        if (
            key.startsWith(appArmorAnnotation.prefix) &&
            typeof value === "string" &&
            !isAllowedAppArmorAnnotation(value)
        ) {
            out.push(
                `${ref}: annotation ${key} must be empty, runtime/default or localhost/* (PSS baseline appArmorProfile)`,
            );
        }
    }
    for (const c of pod.containers) {
        out.push(...containerSecurityViolations(c, pod));
    }
    return out;
}

function containerSecurityViolations(c: ContainerView, pod: PodView): string[] {
    const { ref, spec } = pod;
    const sc = get(c.container, "securityContext");
    if (isUnknown(c.container) || isUnknown(sc)) {
        return [];
    }
    const at = (f: string) => `${ref}: ${c.path}.securityContext.${f} (${c.label})`;
    const out: string[] = [];
    if (get(sc, "privileged") === true) {
        out.push(`${at("privileged")} must not be true (PSS baseline privileged)`);
    }
    if (
        get(sc, "allowPrivilegeEscalation") !== false &&
        !isUnknown(get(sc, "allowPrivilegeEscalation"))
    ) {
        out.push(
            `${at("allowPrivilegeEscalation")} must be false (PSS restricted allowPrivilegeEscalation)`,
        );
    }
    const runAsNonRoot = effective(c.container, spec, "runAsNonRoot");
    if (get(sc, "runAsNonRoot") === false || (runAsNonRoot !== true && !isUnknown(runAsNonRoot))) {
        out.push(
            `${at("runAsNonRoot")} must be true here or in the pod securityContext (PSS restricted runAsNonRoot)`,
        );
    }
    if (get(sc, "runAsUser") === 0) {
        out.push(`${at("runAsUser")} must not be 0 (PSS restricted runAsUser)`);
    }
    const ownSeccomp = get(sc, "seccompProfile", "type");
    const seccomp = effective(c.container, spec, "seccompProfile", "type");
    if (
        ownSeccomp === "Unconfined" ||
        (!isUnknown(seccomp) && !secureSeccompTypes.has(String(seccomp)))
    ) {
        out.push(
            `${at("seccompProfile.type")} must be RuntimeDefault or Localhost here or in the pod securityContext (PSS restricted seccompProfile)`,
        );
    }
    if (isDisallowedAppArmorType(get(sc, "appArmorProfile", "type"))) {
        out.push(
            `${at("appArmorProfile.type")} must be RuntimeDefault or Localhost (PSS baseline appArmorProfile)`,
        );
    }
    const procMount = get(sc, "procMount");
    if (typeof procMount === "string" && procMount !== "Default") {
        out.push(`${at("procMount")} must be Default (PSS baseline procMount)`);
    }
    if (get(sc, "windowsOptions", "hostProcess") === true) {
        out.push(
            `${at("windowsOptions.hostProcess")} must not be true (PSS baseline windowsHostProcess)`,
        );
    }
    out.push(...seLinuxViolations(get(sc, "seLinuxOptions"), `${c.path}.securityContext`, ref));
    const drop = get(sc, "capabilities", "drop");
    if (!isUnknown(drop) && !list(drop).some((d) => d === "ALL" || isUnknown(d))) {
        out.push(`${at("capabilities.drop")} must include ALL (PSS restricted capabilities)`);
    }
    for (const cap of list(get(sc, "capabilities", "add"))) {
        if (typeof cap === "string" && !(allowedCapabilities as readonly string[]).includes(cap)) {
            const level = baselineCapabilities.has(cap) ? "restricted" : "baseline";
            out.push(
                `${at("capabilities.add")} adds ${cap}; only ${allowedCapabilities.join(", ")} is allowed (PSS ${level} capabilities)`,
            );
        }
    }
    list(get(c.container, "ports")).forEach((p, i) => {
        const hostPort = get(p, "hostPort");
        if (typeof hostPort === "number" && hostPort !== 0) {
            out.push(
                `${ref}: ${c.path}.ports[${i}].hostPort (${c.label}) must be unset or 0 (PSS baseline hostPorts)`,
            );
        }
    });
    out.push(...hostFieldViolations(c, ref));
    return out;
}

/**
 * NSA/CISA and CIS extras PSS restricted does not require: read-only root, high fixed UID/GID,
 * and size-limited emptyDirs (the writable places a read-only root leaves must not fill the node).
 */
export function hardeningViolations(pod: PodView): string[] {
    const out: string[] = [];
    list(get(pod.spec, "volumes")).forEach((v, i) => {
        const dir = get(v, "emptyDir");
        if (isRecord(dir) && !isSet(dir.sizeLimit)) {
            out.push(
                `${pod.ref}: ${pod.specPath}.volumes[${i}] ("${String(get(v, "name"))}") is an emptyDir without sizeLimit; bound it so it cannot fill the node's disk (NSA/CISA resource exhaustion)`,
            );
        }
    });
    for (const c of pod.containers) {
        if (isUnknown(c.container) || isUnknown(get(c.container, "securityContext"))) {
            continue;
        }
        const at = (f: string) => `${pod.ref}: ${c.path}.securityContext.${f} (${c.label})`;
        const ro = get(c.container, "securityContext", "readOnlyRootFilesystem");
        if (ro !== true && !isUnknown(ro)) {
            out.push(
                `${at("readOnlyRootFilesystem")} must be true (NSA C-0017); mount an emptyDir where the process writes`,
            );
        }
        for (const field of ["runAsUser", "runAsGroup"]) {
            const v = effective(c.container, pod.spec, field);
            if (!isUnknown(v) && !(Number.isInteger(v) && (v as number) >= minimumId)) {
                out.push(
                    `${at(field)} must be a fixed id ≥ ${minimumId}, here or in the pod securityContext (CIS 5.2, Checkov CKV_K8S_40); got ${v === undefined ? "unset" : String(v)}`,
                );
            }
        }
    }
    return out;
}

/** Pod-level `automountServiceAccountToken: false` unless a non-empty exemption says why. */
export function tokenViolations(pod: PodView): string[] {
    const automount = get(pod.spec, "automountServiceAccountToken");
    if (automount === false || isUnknown(automount)) {
        return [];
    }
    const reason = pod.annotations[exceptionAnnotations.needsApiToken];
    if (isNonEmptyString(reason)) {
        return [];
    }
    const hint =
        reason === undefined
            ? `or annotate the pod template with ${exceptionAnnotations.needsApiToken}: "<why>"`
            : `and the ${exceptionAnnotations.needsApiToken} annotation is empty: it must say why`;
    return [
        `${pod.ref}: ${pod.specPath}.automountServiceAccountToken must be false (NSA C-0034, CIS 5.1.6, Checkov CKV_K8S_38), ${hint}`,
    ];
}

function resourceViolations(pod: PodView, names: readonly string[], standard: string): string[] {
    const out: string[] = [];
    for (const c of pod.containers) {
        if (c.list === "ephemeralContainers" || isUnknown(c.container)) {
            continue;
        }
        for (const kind of ["requests", "limits"]) {
            for (const n of names) {
                if (!isSet(get(c.container, "resources", kind, n))) {
                    out.push(
                        `${pod.ref}: ${c.path}.resources.${kind}.${n} (${c.label}) must be set (${standard})`,
                    );
                }
            }
        }
    }
    return out;
}

const jobKinds = new Set(["Job", "CronJob"]);

/** Pods that run to completion (Jobs, or `restartPolicy` Never/OnFailure) serve nothing to probe. */
function probeViolations(pod: PodView): string[] {
    const restart = get(pod.spec, "restartPolicy");
    if (jobKinds.has(pod.kind) || restart === "Never" || restart === "OnFailure") {
        return [];
    }
    const out: string[] = [];
    for (const c of pod.containers) {
        if (c.list !== "containers" || isUnknown(c.container)) {
            continue;
        }
        for (const probe of ["livenessProbe", "readinessProbe"]) {
            if (!isSet(get(c.container, probe))) {
                out.push(`${pod.ref}: ${c.path}.${probe} (${c.label}) should be set`);
            }
        }
    }
    return out;
}

/** Env var names that hold credentials when given a literal value. */
const secretLikeName =
    /(^|_)(SECRET|PASSWORD|PASSWD|PASS|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIALS?)(_|$)/i;
/** Names that point at a mounted file rather than holding the secret. */
const pointerName = /_(FILE|PATH|DIR|FILENAME|MOUNT|NAME|URL|ENDPOINT|ID)$/i;

/** True when an env var name says it carries a credential. */
export function looksLikeSecretName(name: string): boolean {
    return secretLikeName.test(name) && !pointerName.test(name);
}

/** Secrets must reach pods as mounted files, never through env (CIS 5.4.1, NSA C-0012). */
export function envSecretViolations(pod: PodView): string[] {
    const out: string[] = [];
    for (const c of pod.containers) {
        list(get(c.container, "env")).forEach((e, i) => {
            const name = get(e, "name");
            const where = `${pod.ref}: ${c.path}.env[${i}]${typeof name === "string" ? ` (${name})` : ""} (${c.label})`;
            if (isSet(get(e, "valueFrom", "secretKeyRef"))) {
                out.push(
                    `${where} reads a Secret through valueFrom.secretKeyRef; mount it as a file instead (CIS 5.4.1, Checkov CKV_K8S_35)`,
                );
            } else if (typeof name === "string" && looksLikeSecretName(name)) {
                if (isSet(get(e, "valueFrom", "configMapKeyRef"))) {
                    out.push(
                        `${where} looks like a credential read from a ConfigMap; keep it in a Secret mounted as a file (NSA C-0012)`,
                    );
                } else if (isNonEmptyString(get(e, "value")) && !isUnknown(get(e, "value"))) {
                    out.push(
                        `${where} looks like a credential given as a literal value; mount it from a Secret file (NSA C-0012)`,
                    );
                }
            }
        });
        list(get(c.container, "envFrom")).forEach((e, i) => {
            if (isSet(get(e, "secretRef"))) {
                out.push(
                    `${pod.ref}: ${c.path}.envFrom[${i}].secretRef (${c.label}) loads a Secret into env; mount it as files instead (CIS 5.4.1)`,
                );
            }
        });
    }
    return out;
}

const digestPinned = new RegExp(`@${digestPattern.source.slice(1)}`);

/** The registry host of an image reference (`docker.io` when the reference names none). */
export function imageRegistry(image: string): string {
    const first = image.split("/")[0];
    return image.includes("/") &&
        (first.includes(".") || first.includes(":") || first === "localhost")
        ? first
        : "docker.io";
}

/** True when the image comes from one of the allowed registries or registry/path prefixes. */
export function isFromAllowedRegistry(image: string, allowed: readonly string[]): boolean {
    const ref =
        imageRegistry(image) === "docker.io" && !image.startsWith("docker.io/")
            ? `docker.io/${image}`
            : image;
    return allowed.some((a) => ref.startsWith(`${a.replace(/\/+$/, "")}/`));
}

/** Images must be pinned by digest (Checkov CKV_K8S_43) and, when a list is given, come from it. */
export function imageViolations(pod: PodView, ctx: RuleContext): string[] {
    const out: string[] = [];
    for (const c of pod.containers) {
        const image = get(c.container, "image");
        if (isUnknown(image)) {
            continue;
        }
        if (typeof image !== "string" || image === "") {
            out.push(`${pod.ref}: ${c.path}.image (${c.label}) is missing`);
            continue;
        }
        if (!digestPinned.test(image)) {
            out.push(
                `${pod.ref}: ${c.path}.image (${c.label}) "${image}" must be pinned by digest (@sha256:<64 hex>)`,
            );
        }
        if (
            ctx.allowedRegistries !== undefined &&
            !isFromAllowedRegistry(image, ctx.allowedRegistries)
        ) {
            out.push(
                `${pod.ref}: ${c.path}.image (${c.label}) "${image}" is not from an allowed registry (${ctx.allowedRegistries.join(", ")})`,
            );
        }
    }
    return out;
}

export const podSecurityRule = podRule(
    "k8s-pod-security-restricted",
    "mandatory",
    "Pod specs meet every Pod Security Standards baseline and restricted control (REFERENCE §9.1).",
    true,
    podSecurityViolations,
);

export const containerHardeningRule = podRule(
    "k8s-container-hardening",
    "mandatory",
    `Containers run with a read-only root filesystem and fixed UID/GID ≥ ${minimumId}, emptyDirs are size-limited (NSA/CISA, CIS §5.2).`,
    true,
    hardeningViolations,
);

export const serviceAccountTokenRule = podRule(
    "k8s-no-automounted-token",
    "mandatory",
    `Pods set automountServiceAccountToken: false unless annotated ${exceptionAnnotations.needsApiToken} with a reason.`,
    true,
    tokenViolations,
);

export const resourceLimitsRule = podRule(
    "k8s-resource-limits",
    "mandatory",
    "Every container requests and limits cpu and memory (NSA/CISA, OWASP LLM10).",
    false,
    (pod) => resourceViolations(pod, ["cpu", "memory"], "NSA/CISA, OWASP LLM10"),
);

export const ephemeralStorageRule = podRule(
    "k8s-ephemeral-storage-limits",
    "advisory",
    "Every container requests and limits ephemeral-storage.",
    false,
    (pod) => resourceViolations(pod, ["ephemeral-storage"], "node disk exhaustion"),
);

export const probesRule = podRule(
    "k8s-probes",
    "advisory",
    "Long-running containers have liveness and readiness probes.",
    false,
    probeViolations,
);

export const noSecretsInEnvRule = podRule(
    "k8s-no-secrets-in-env",
    "mandatory",
    "Credentials reach containers as mounted files, never through env (CIS 5.4.1, NSA C-0012).",
    false,
    envSecretViolations,
);

export const imagePinningRule = podRule(
    "k8s-image-pinned",
    "mandatory",
    "Container images are pinned by @sha256 digest and come from an allowed registry (OWASP LLM03).",
    false,
    imageViolations,
);

/**
 * The rules over one pod spec, mandatory and advisory: everything a workload the platform authors
 * must meet (the workload builder holds its pods to every one of them).
 */
export const podSpecRules: readonly Rule[] = [
    podSecurityRule,
    containerHardeningRule,
    serviceAccountTokenRule,
    resourceLimitsRule,
    ephemeralStorageRule,
    probesRule,
    noSecretsInEnvRule,
    imagePinningRule,
];

/**
 * Every finding of {@link podSpecRules} over a pod spec, as a bare Pod named `name` in
 * `namespace` (messages start with `Pod <namespace>/<name>:`); `[]` when it meets them all.
 * Works on any spec (built by the workload builder or not) and needs no Pulumi runtime.
 */
export function podSpecViolations(
    spec: unknown,
    name = "pod",
    namespace?: string,
    ctx: RuleContext = { environment: "prod" },
): string[] {
    const r: ResourceDescription = {
        type: "kubernetes:core/v1:Pod",
        name,
        inputs: { metadata: { name, namespace }, spec },
    };
    return podSpecRules.flatMap((rule) => rule.check(r, ctx));
}

/** Workloads in privileged system namespaces: exempt from pod hardening, listed for review. */
export const privilegedWorkloadRule: Rule = {
    id: "k8s-privileged-namespace-workload",
    severity: "advisory",
    description:
        "Workloads in privileged system namespaces skip the pod-hardening rules; each is listed for review.",
    appliesTo: isWorkload,
    check(r, ctx) {
        const pod = podView(r.type, r.name, r.inputs);
        if (pod?.namespace === undefined || !privilegedNamespaceSet(ctx).has(pod.namespace)) {
            return [];
        }
        const found = [
            ...podSecurityViolations(pod),
            ...hardeningViolations(pod),
            ...tokenViolations(pod),
        ];
        return found.length === 0
            ? []
            : [
                  `${pod.ref} runs in privileged namespace ${pod.namespace} and is exempt from ${found.length} pod-hardening finding(s), e.g. ${found[0]}`,
              ];
    },
};

// ---------------------------------------------------------------------------------------------
// RBAC (CIS 5.1)

const isRole = forKinds("Role", "ClusterRole");
const isBinding = forKinds("RoleBinding", "ClusterRoleBinding");

function ruleLists(r: ResourceDescription): { rule: unknown; path: string }[] {
    return list(get(r.inputs, "rules")).map((rule, i) => ({ rule, path: `rules[${i}]` }));
}

function ref(r: ResourceDescription): string {
    return objectRef(kubernetesKind(r.type) ?? r.type, r.inputs, r.name);
}

export const rbacWildcardRule: Rule = {
    id: "k8s-rbac-no-wildcards",
    severity: "mandatory",
    description: "Roles name their verbs, resources, API groups and URLs: no '*' (CIS 5.1.3).",
    appliesTo: isRole,
    check(r) {
        const out: string[] = [];
        for (const { rule, path } of ruleLists(r)) {
            for (const field of ["verbs", "resources", "apiGroups", "nonResourceURLs"]) {
                if (list(get(rule, field)).some((x) => typeof x === "string" && x.includes("*"))) {
                    out.push(`${ref(r)}: ${path}.${field} contains a wildcard (CIS 5.1.3)`);
                }
            }
        }
        return out;
    },
};

const escalationVerbs = ["escalate", "bind", "impersonate"];

export const rbacEscalationRule: Rule = {
    id: "k8s-rbac-no-escalation-verbs",
    severity: "mandatory",
    description: "Roles never grant escalate, bind or impersonate (CIS 5.1.8).",
    appliesTo: isRole,
    check(r) {
        const out: string[] = [];
        for (const { rule, path } of ruleLists(r)) {
            for (const v of list(get(rule, "verbs"))) {
                if (typeof v === "string" && escalationVerbs.includes(v)) {
                    out.push(`${ref(r)}: ${path}.verbs grants ${v} (CIS 5.1.8)`);
                }
            }
        }
        return out;
    },
};

const readVerbs = ["get", "list", "watch", "*"];

export const rbacSecretsReadRule: Rule = {
    id: "k8s-rbac-secrets-read",
    severity: "advisory",
    description: "Roles that read Secrets are listed for review (CIS 5.1.2).",
    appliesTo: isRole,
    check(r) {
        const out: string[] = [];
        for (const { rule, path } of ruleLists(r)) {
            const groups = list(get(rule, "apiGroups"));
            const core = groups.length === 0 || groups.some((g) => g === "" || g === "*");
            const secrets = list(get(rule, "resources")).some((x) => x === "secrets" || x === "*");
            const reads = list(get(rule, "verbs")).some(
                (v) => typeof v === "string" && readVerbs.includes(v),
            );
            if (core && secrets && reads) {
                out.push(
                    `${ref(r)}: ${path} can read Secrets (CIS 5.1.2); make sure this role needs it`,
                );
            }
        }
        return out;
    },
};

export const clusterAdminBindingRule: Rule = {
    id: "k8s-rbac-no-cluster-admin-binding",
    severity: "mandatory",
    description: `Nothing is bound to cluster-admin unless the stack config asked for it (annotation ${exceptionAnnotations.requestedByConfig}: "true") (CIS 5.1.1).`,
    appliesTo: isBinding,
    check(r) {
        const roleName = get(r.inputs, "roleRef", "name");
        const roleKind = get(r.inputs, "roleRef", "kind");
        if (roleName !== "cluster-admin" || roleKind !== "ClusterRole") {
            return [];
        }
        const requested = get(
            r.inputs,
            "metadata",
            "annotations",
            exceptionAnnotations.requestedByConfig,
        );
        return requested === "true" || isUnknown(requested)
            ? []
            : [
                  `${ref(r)}: roleRef binds cluster-admin (CIS 5.1.1); bind a least-privilege role, or set ${exceptionAnnotations.requestedByConfig}: "true" only when the stack config requests it`,
              ];
    },
};

// ---------------------------------------------------------------------------------------------
// Namespaces and Services

const pssLevels = ["restricted", "baseline", "privileged"];
const pssModes = ["enforce", "audit", "warn"];

export const namespacePodSecurityRule: Rule = {
    id: "k8s-namespace-pod-security",
    severity: "mandatory",
    description: `Namespaces carry Pod Security enforce/audit/warn labels; privileged only with a non-empty ${platformAnnotations.privilegedReason} annotation.`,
    appliesTo: forKinds("Namespace"),
    check(r) {
        const nsLabels = stringMap(get(r.inputs, "metadata", "labels"));
        if (isUnknown(get(r.inputs, "metadata", "labels"))) {
            return [];
        }
        const out: string[] = [];
        let privileged = false;
        for (const mode of pssModes) {
            const key = `pod-security.kubernetes.io/${mode}`;
            const level = nsLabels[key];
            if (isUnknown(level)) {
                continue;
            }
            if (typeof level !== "string" || !pssLevels.includes(level)) {
                out.push(
                    `${ref(r)}: metadata.labels["${key}"] must be one of ${pssLevels.join(", ")}; got ${level === undefined ? "unset" : JSON.stringify(level)}`,
                );
            } else if (level === "privileged") {
                privileged = true;
            }
        }
        const reason = get(
            r.inputs,
            "metadata",
            "annotations",
            platformAnnotations.privilegedReason,
        );
        if (privileged && !isNonEmptyString(reason)) {
            out.push(
                `${ref(r)}: Pod Security level privileged needs metadata.annotations["${platformAnnotations.privilegedReason}"] saying why`,
            );
        }
        return out;
    },
};

export const privateLoadBalancerRule: Rule = {
    id: "k8s-private-load-balancer",
    severity: "mandatory",
    description: `LoadBalancer Services are internal unless the stack config made them public (${exceptionAnnotations.publicByConfig}: "true").`,
    appliesTo: forKinds("Service"),
    check(r) {
        if (get(r.inputs, "spec", "type") !== "LoadBalancer") {
            return [];
        }
        const ann = stringMap(get(r.inputs, "metadata", "annotations"));
        if (isUnknown(get(r.inputs, "metadata", "annotations"))) {
            return [];
        }
        const internal = Object.values(ociInternalLoadBalancerAnnotations).some(
            (k) => ann[k] === "true" || isUnknown(ann[k]),
        );
        if (internal || ann[exceptionAnnotations.publicByConfig] === "true") {
            return [];
        }
        return [
            `${ref(r)}: spec.type LoadBalancer is public; add ${ociInternalLoadBalancerAnnotations.loadBalancer}: "true", or ${exceptionAnnotations.publicByConfig}: "true" when the stack config asks for a public load balancer`,
        ];
    },
};

export const noNodePortRule: Rule = {
    id: "k8s-no-nodeport",
    severity: "advisory",
    description: "Services are not NodePort (every node would expose the port).",
    appliesTo: forKinds("Service"),
    check(r) {
        return get(r.inputs, "spec", "type") === "NodePort"
            ? [
                  `${ref(r)}: spec.type NodePort exposes the Service on every node; use ClusterIP behind the gateway`,
              ]
            : [];
    },
};

/** Exceptions the rules honoured (api token, cluster-admin, public LB), listed for review. */
export const exceptionsRule: Rule = {
    id: "k8s-security-exceptions",
    severity: "advisory",
    description: "Every honoured security exception annotation is listed for review.",
    appliesTo: (type) => isWorkload(type) || isBinding(type) || forKinds("Service")(type),
    check(r) {
        const pod = podView(r.type, r.name, r.inputs);
        if (pod !== undefined) {
            const reason = pod.annotations[exceptionAnnotations.needsApiToken];
            const automount = get(pod.spec, "automountServiceAccountToken");
            return automount !== false &&
                !isUnknown(automount) &&
                typeof reason === "string" &&
                reason.trim() !== ""
                ? [`${pod.ref}: pods mount an API token because: ${reason.trim()}`]
                : [];
        }
        const ann = stringMap(get(r.inputs, "metadata", "annotations"));
        if (
            isBinding(r.type) &&
            get(r.inputs, "roleRef", "name") === "cluster-admin" &&
            ann[exceptionAnnotations.requestedByConfig] === "true"
        ) {
            return [`${ref(r)}: binds cluster-admin as requested by the stack config`];
        }
        if (
            get(r.inputs, "spec", "type") === "LoadBalancer" &&
            ann[exceptionAnnotations.publicByConfig] === "true"
        ) {
            return [`${ref(r)}: public load balancer as requested by the stack config`];
        }
        return [];
    },
};

/** Every Kubernetes rule over single objects. */
export const kubernetesRules: readonly Rule[] = [
    ...podSpecRules,
    privilegedWorkloadRule,
    rbacWildcardRule,
    rbacEscalationRule,
    rbacSecretsReadRule,
    clusterAdminBindingRule,
    namespacePodSecurityRule,
    privateLoadBalancerRule,
    noNodePortRule,
    exceptionsRule,
];
