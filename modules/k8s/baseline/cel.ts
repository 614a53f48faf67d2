/**
 * CEL of the platform's pod ValidatingAdmissionPolicies, kept pure so tests run it. They restate
 * Pod Security `restricted` of the pinned Kubernetes version (v1.34, pod-security-admission
 * `policy/check_*.go`) inside the API server, so what is created by hand, by a controller or
 * through `kubectl debug` (ephemeral containers) meets it, and a workload whose pod template
 * does not is refused when it is created rather than when its controller makes pods. They add
 * the tenant sandbox rule (Pod Security has no notion of RuntimeClass).
 *
 * Where the policy is stricter than Pod Security, on purpose:
 * - Windows pods (`spec.os.name: windows`) are not exempt from allowPrivilegeEscalation,
 *   capabilities and seccomp, so they cannot be admitted: the platform has no Windows nodes.
 * - User-namespace pods (`hostUsers: false`) get no relaxation of runAsNonRoot, runAsUser and
 *   procMount (Pod Security relaxes them only behind a feature gate that is off by default).
 * - The v1.34 lists (safe sysctls, SELinux types, probe hosts) apply on every supported minor;
 *   on an older cluster Pod Security admission, labelled with the cluster's version, still
 *   enforces that version's lists.
 * What stays with Pod Security admission alone: nothing of the profile's checks; the namespace
 * labels still enforce it too, and audit and warn on workloads in every namespace.
 */
import {
    allowedAppArmorTypes,
    allowedCapabilities,
    allowedSeLinuxTypes,
    appArmorAnnotation,
    restrictedVolumeSources,
    safeSysctls,
    secureSeccompTypes,
} from "../../security/kubernetes";
import { templatePaths } from "../../security/pods";

/** A named CEL variable of a policy. */
export interface CelVariable {
    readonly name: string;
    readonly expression: string;
}

/** One validation: the expression must be true, else the request is denied with `message`. */
export interface CelValidation {
    /** Stable id, used by tests. */
    readonly id: string;
    /** The Pod Security check (pod-security-admission check ID) this validation enforces. */
    readonly podSecurityCheck?: string;
    readonly expression: string;
    readonly message: string;
    /** Kubernetes status reason. */
    readonly reason: "Forbidden" | "Invalid";
}

const celList = (items: Iterable<string>) =>
    `[${[...items].map((s) => `'${s.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`).join(", ")}]`;

/** The pod (template) of the request's kind, from the shared table of where pod specs live. */
function templateExpression(): string {
    const byPath = new Map<string, string[]>();
    for (const [kind, path] of Object.entries(templatePaths)) {
        const expr = ["object", ...path].join(".");
        byPath.set(expr, [...(byPath.get(expr) ?? []), kind]);
    }
    // The most common path (`object.spec.template`) is the fallback of the chain.
    const entries = [...byPath.entries()].sort((a, b) => a[1].length - b[1].length);
    const fallback = entries.pop()!;
    return entries.reduceRight(
        (rest, [expr, kinds]) => `request.kind.kind in ${celList(kinds)} ? ${expr} : (${rest})`,
        fallback[0],
    );
}

/**
 * Variables shared by the pod policies. Ephemeral containers are a different OpenAPI type than
 * containers, so they stay a separate list (the API server's type checker warns on mixing them).
 */
export const podVariables: readonly CelVariable[] = [
    { name: "pod", expression: templateExpression() },
    { name: "spec", expression: "variables.pod.spec" },
    {
        name: "annotations",
        expression:
            "has(variables.pod.metadata) && has(variables.pod.metadata.annotations) ? variables.pod.metadata.annotations : {}",
    },
    {
        name: "containers",
        expression:
            "variables.spec.containers + (has(variables.spec.initContainers) ? variables.spec.initContainers : [])",
    },
    {
        name: "ephemeral",
        expression:
            "has(variables.spec.ephemeralContainers) ? variables.spec.ephemeralContainers : []",
    },
    {
        name: "podSc",
        expression: "has(variables.spec.securityContext) ? variables.spec.securityContext : {}",
    },
];

/**
 * Pod updates that change neither the spec nor the annotations are not judged again (Pod
 * Security does the same), so metadata-only updates such as finalizer removal on a pod that
 * predates the policy still go through.
 */
export const podMatchConditions: readonly CelVariable[] = [
    {
        name: "changes-what-runs",
        expression:
            "request.operation != 'UPDATE' || oldObject == null || object.spec != oldObject.spec || " +
            "(has(object.metadata.annotations) ? object.metadata.annotations : {}) != " +
            "(has(oldObject.metadata.annotations) ? oldObject.metadata.annotations : {})",
    },
];

/** `pred` (over `c`) holds for every container, init container and ephemeral container. */
export function everyContainer(pred: string): string {
    return `variables.containers.all(c, ${pred}) && variables.ephemeral.all(c, ${pred})`;
}

/** `pred` over the container's securityContext `sc` holds, or the container has none. */
function everySecurityContext(pred: (sc: string) => string): string {
    return everyContainer(`!has(c.securityContext) || (${pred("c.securityContext")})`);
}

/** `x.field` is unset or not true. */
const notTrue = (x: string, field: string) => `!(has(${x}.${field}) && ${x}.${field} == true)`;

const seccompTypes = celList(secureSeccompTypes);
const appArmorTypes = celList(allowedAppArmorTypes);
const seLinuxTypes = celList(["", ...allowedSeLinuxTypes]);
const appArmorAnnotationPrefix = appArmorAnnotation.prefix;
/** `v` is an AppArmor annotation value Pod Security allows (the shared table). */
const appArmorValueAllowed = (v: string) =>
    [
        ...appArmorAnnotation.allowedValues.map((a) => `${v} == '${a}'`),
        `${v}.startsWith('${appArmorAnnotation.allowedValuePrefix}')`,
    ].join(" || ");
/** `a` is a capability restricted lets a container add. */
const capabilityAllowed = (a: string) =>
    allowedCapabilities.map((c) => `${a} == '${c}'`).join(" || ");

/** Volume sources the policy allows: Pod Security `restricted`'s. */
export const allowedVolumeSources: readonly string[] = [...restrictedVolumeSources];

function seLinuxAllowed(x: string): string {
    const o = `${x}.seLinuxOptions`;
    return (
        `!has(${o}) || ((!has(${o}.type) || ${o}.type in ${seLinuxTypes}) && ` +
        `(!has(${o}.user) || ${o}.user == '') && (!has(${o}.role) || ${o}.role == ''))`
    );
}

function noHostField(handler: string): string {
    return ["httpGet", "tcpSocket"]
        .map(
            (k) =>
                `!has(${handler}.${k}) || !has(${handler}.${k}.host) || ${handler}.${k}.host == ''`,
        )
        .map((e) => `(${e})`)
        .join(" && ");
}

const pod = "variables.podSc";

/** The restricted-profile validations, each naming the Pod Security check it enforces. */
export const restrictedPodValidations: readonly CelValidation[] = [
    {
        id: "hostNamespaces",
        podSecurityCheck: "hostNamespaces",
        expression: ["hostNetwork", "hostPID", "hostIPC"]
            .map((f) => notTrue("variables.spec", f))
            .join(" && "),
        message: "hostNetwork, hostPID and hostIPC must be unset or false",
        reason: "Forbidden",
    },
    {
        id: "privileged",
        podSecurityCheck: "privileged",
        expression: everySecurityContext((sc) => notTrue(sc, "privileged")),
        message: "containers must not set securityContext.privileged=true",
        reason: "Forbidden",
    },
    {
        id: "allowPrivilegeEscalation",
        podSecurityCheck: "allowPrivilegeEscalation",
        expression: everyContainer(
            "has(c.securityContext) && has(c.securityContext.allowPrivilegeEscalation) && c.securityContext.allowPrivilegeEscalation == false",
        ),
        message: "every container must set securityContext.allowPrivilegeEscalation=false",
        reason: "Forbidden",
    },
    {
        id: "runAsNonRootPod",
        podSecurityCheck: "runAsNonRoot",
        expression: `!has(${pod}.runAsNonRoot) || ${pod}.runAsNonRoot == true`,
        message: "the pod must not set securityContext.runAsNonRoot=false",
        reason: "Forbidden",
    },
    {
        id: "runAsNonRoot",
        podSecurityCheck: "runAsNonRoot",
        expression: everyContainer(
            "has(c.securityContext) && has(c.securityContext.runAsNonRoot) ? c.securityContext.runAsNonRoot == true : " +
                `has(${pod}.runAsNonRoot) && ${pod}.runAsNonRoot == true`,
        ),
        message: "runAsNonRoot must be true, on the pod or on every container",
        reason: "Forbidden",
    },
    {
        id: "runAsUser",
        podSecurityCheck: "runAsUser",
        expression:
            `!(has(${pod}.runAsUser) && ${pod}.runAsUser == 0) && ` +
            everySecurityContext((sc) => `!(has(${sc}.runAsUser) && ${sc}.runAsUser == 0)`),
        message: "runAsUser must not be 0 (root), on the pod or on any container",
        reason: "Forbidden",
    },
    {
        id: "capabilitiesDrop",
        podSecurityCheck: "capabilities_restricted",
        expression: everyContainer(
            "has(c.securityContext) && has(c.securityContext.capabilities) && has(c.securityContext.capabilities.drop) && c.securityContext.capabilities.drop.exists(d, d == 'ALL')",
        ),
        message: 'every container must set securityContext.capabilities.drop=["ALL"]',
        reason: "Forbidden",
    },
    {
        id: "capabilitiesAdd",
        podSecurityCheck: "capabilities_restricted",
        expression: everySecurityContext(
            (sc) =>
                `!has(${sc}.capabilities) || !has(${sc}.capabilities.add) || ${sc}.capabilities.add.all(a, ${capabilityAllowed("a")})`,
        ),
        message: `containers may add only the ${allowedCapabilities.join(", ")} capability`,
        reason: "Forbidden",
    },
    {
        id: "seccompPod",
        podSecurityCheck: "seccompProfile_restricted",
        expression: `!has(${pod}.seccompProfile) || ${pod}.seccompProfile.type in ${seccompTypes}`,
        message:
            "the pod's securityContext.seccompProfile.type must be RuntimeDefault or Localhost",
        reason: "Forbidden",
    },
    {
        id: "seccompContainers",
        podSecurityCheck: "seccompProfile_restricted",
        expression: everyContainer(
            `has(c.securityContext) && has(c.securityContext.seccompProfile) ? c.securityContext.seccompProfile.type in ${seccompTypes} : ` +
                `has(${pod}.seccompProfile) && ${pod}.seccompProfile.type in ${seccompTypes}`,
        ),
        message:
            "seccompProfile.type must be RuntimeDefault or Localhost, on the pod or on every container",
        reason: "Forbidden",
    },
    {
        id: "appArmorProfile",
        podSecurityCheck: "appArmorProfile",
        expression:
            `(!has(${pod}.appArmorProfile) || ${pod}.appArmorProfile.type in ${appArmorTypes}) && ` +
            everySecurityContext(
                (sc) =>
                    `!has(${sc}.appArmorProfile) || ${sc}.appArmorProfile.type in ${appArmorTypes}`,
            ),
        message:
            "appArmorProfile.type must be RuntimeDefault or Localhost, on the pod and containers",
        reason: "Forbidden",
    },
    {
        id: "appArmorAnnotations",
        podSecurityCheck: "appArmorProfile",
        expression:
            `variables.annotations.all(k, !k.startsWith('${appArmorAnnotationPrefix}') || ` +
            `${appArmorValueAllowed("variables.annotations[k]")})`,
        message: `${appArmorAnnotationPrefix}* annotations must be runtime/default or localhost/<profile>`,
        reason: "Forbidden",
    },
    {
        id: "seLinuxOptions",
        podSecurityCheck: "seLinuxOptions",
        expression: `(${seLinuxAllowed(pod)}) && ${everySecurityContext(seLinuxAllowed)}`,
        message: `seLinuxOptions must not set user or role, and type only to one of ${seLinuxTypes}`,
        reason: "Forbidden",
    },
    {
        id: "procMount",
        podSecurityCheck: "procMount",
        expression: everySecurityContext(
            (sc) => `!has(${sc}.procMount) || ${sc}.procMount == 'Default'`,
        ),
        message: "securityContext.procMount must be unset or Default",
        reason: "Forbidden",
    },
    {
        id: "sysctls",
        podSecurityCheck: "sysctls",
        expression: `!has(${pod}.sysctls) || ${pod}.sysctls.all(s, s.name in ${celList(safeSysctls)})`,
        message: `only safe sysctls may be set: ${[...safeSysctls].join(", ")}`,
        reason: "Forbidden",
    },
    {
        id: "windowsHostProcess",
        podSecurityCheck: "windowsHostProcess",
        expression:
            `!(has(${pod}.windowsOptions) && has(${pod}.windowsOptions.hostProcess) && ${pod}.windowsOptions.hostProcess == true) && ` +
            everySecurityContext(
                (sc) =>
                    `!(has(${sc}.windowsOptions) && has(${sc}.windowsOptions.hostProcess) && ${sc}.windowsOptions.hostProcess == true)`,
            ),
        message: "securityContext.windowsOptions.hostProcess must not be true",
        reason: "Forbidden",
    },
    {
        id: "hostPath",
        podSecurityCheck: "hostPathVolumes",
        expression:
            "!has(variables.spec.volumes) || variables.spec.volumes.all(v, !has(v.hostPath))",
        message: "hostPath volumes are not allowed",
        reason: "Forbidden",
    },
    {
        id: "volumeTypes",
        podSecurityCheck: "restrictedVolumes",
        expression:
            "!has(variables.spec.volumes) || variables.spec.volumes.all(v, " +
            allowedVolumeSources.map((s) => `has(v.${s})`).join(" || ") +
            ")",
        message: `volumes must be one of: ${allowedVolumeSources.join(", ")}`,
        reason: "Forbidden",
    },
    {
        id: "hostPorts",
        podSecurityCheck: "hostPorts",
        expression: everyContainer(
            "!has(c.ports) || c.ports.all(p, !has(p.hostPort) || p.hostPort == 0)",
        ),
        message: "containers must not use hostPort (unset or 0)",
        reason: "Forbidden",
    },
    {
        id: "hostProbesAndHostLifecycle",
        podSecurityCheck: "hostProbesAndHostLifecycle",
        expression: everyContainer(
            [
                ...["livenessProbe", "readinessProbe", "startupProbe"].map(
                    (p) => `(!has(c.${p}) || (${noHostField(`c.${p}`)}))`,
                ),
                ...["postStart", "preStop"].map(
                    (h) =>
                        `(!has(c.lifecycle) || !has(c.lifecycle.${h}) || (${noHostField(`c.lifecycle.${h}`)}))`,
                ),
            ].join(" && "),
        ),
        message: "probes and lifecycle handlers must not set httpGet.host or tcpSocket.host",
        reason: "Forbidden",
    },
];

/** The tenant sandbox validation: pods must name one of `classes` as their RuntimeClass. */
export function sandboxValidation(classes: readonly string[]): CelValidation {
    return {
        id: "kataRuntimeClass",
        expression: `has(variables.spec.runtimeClassName) && variables.spec.runtimeClassName in ${celList(classes)}`,
        message: `pods in tenant namespaces must run in a Kata sandbox: set spec.runtimeClassName to one of ${classes.join(", ")}`,
        reason: "Forbidden",
    };
}
