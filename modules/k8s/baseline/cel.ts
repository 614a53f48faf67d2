/**
 * CEL expressions of the platform's ValidatingAdmissionPolicies, kept pure so tests can read them.
 * They restate Pod Security `restricted` (REFERENCE.md §9.1) inside the API server, so pods created
 * by hand, by a controller or through `kubectl debug` (ephemeral containers) are held to it too, and
 * add the tenant sandbox rule (Pod Security has no notion of RuntimeClass).
 */

/** A named CEL variable of a policy. */
export interface CelVariable {
    readonly name: string;
    readonly expression: string;
}

/** One validation: the expression must be true, else the request is denied with `message`. */
export interface CelValidation {
    /** Stable id, used by tests. */
    readonly id: string;
    readonly expression: string;
    readonly message: string;
    /** Kubernetes status reason. */
    readonly reason: "Forbidden" | "Invalid";
}

const podSc = "object.spec.securityContext";

/**
 * Variables shared by the pod validations. Ephemeral containers are a different OpenAPI type than
 * containers, so they stay a separate list (CEL's type checker rejects concatenating them).
 */
export const podVariables: readonly CelVariable[] = [
    {
        name: "containers",
        expression:
            "object.spec.containers + (has(object.spec.initContainers) ? object.spec.initContainers : [])",
    },
    {
        name: "ephemeral",
        expression: "has(object.spec.ephemeralContainers) ? object.spec.ephemeralContainers : []",
    },
    {
        name: "podRunAsNonRoot",
        expression: `has(${podSc}) && has(${podSc}.runAsNonRoot) && ${podSc}.runAsNonRoot == true`,
    },
    {
        name: "podSeccompAllowed",
        expression: `has(${podSc}) && has(${podSc}.seccompProfile) && ${podSc}.seccompProfile.type in ['RuntimeDefault', 'Localhost']`,
    },
];

/** `pred` (over `c`) holds for every container, init container and ephemeral container. */
export function everyContainer(pred: string): string {
    return `variables.containers.all(c, ${pred}) && variables.ephemeral.all(c, ${pred})`;
}

const sc = "c.securityContext";

/** Volume sources Pod Security `restricted` allows (`image` is left out: it needs Kubernetes ≥ 1.31). */
export const allowedVolumeSources = [
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
] as const;

/** The restricted-profile validations, one per control. */
export const restrictedPodValidations: readonly CelValidation[] = [
    {
        id: "hostNamespaces",
        expression:
            "!(has(object.spec.hostNetwork) && object.spec.hostNetwork) && " +
            "!(has(object.spec.hostPID) && object.spec.hostPID) && " +
            "!(has(object.spec.hostIPC) && object.spec.hostIPC)",
        message: "hostNetwork, hostPID and hostIPC must be unset or false",
        reason: "Forbidden",
    },
    {
        id: "privileged",
        expression: everyContainer(
            `!(has(${sc}) && has(${sc}.privileged) && ${sc}.privileged == true)`,
        ),
        message: "containers must not be privileged",
        reason: "Forbidden",
    },
    {
        id: "allowPrivilegeEscalation",
        expression: everyContainer(
            `has(${sc}) && has(${sc}.allowPrivilegeEscalation) && ${sc}.allowPrivilegeEscalation == false`,
        ),
        message: "every container must set securityContext.allowPrivilegeEscalation: false",
        reason: "Forbidden",
    },
    {
        id: "runAsNonRoot",
        expression: everyContainer(
            `(has(${sc}) && has(${sc}.runAsNonRoot)) ? ${sc}.runAsNonRoot == true : variables.podRunAsNonRoot`,
        ),
        message: "runAsNonRoot must be true, on the pod or on every container",
        reason: "Forbidden",
    },
    {
        id: "runAsUser",
        expression:
            `!(has(${podSc}) && has(${podSc}.runAsUser) && ${podSc}.runAsUser == 0) && ` +
            everyContainer(`!(has(${sc}) && has(${sc}.runAsUser) && ${sc}.runAsUser == 0)`),
        message: "runAsUser must not be 0 (root)",
        reason: "Forbidden",
    },
    {
        id: "capabilitiesDrop",
        expression: everyContainer(
            `has(${sc}) && has(${sc}.capabilities) && has(${sc}.capabilities.drop) && ${sc}.capabilities.drop.exists(d, d == 'ALL')`,
        ),
        message: "every container must drop ALL capabilities",
        reason: "Forbidden",
    },
    {
        id: "capabilitiesAdd",
        expression: everyContainer(
            `!(has(${sc}) && has(${sc}.capabilities) && has(${sc}.capabilities.add)) || ${sc}.capabilities.add.all(a, a == 'NET_BIND_SERVICE')`,
        ),
        message: "containers may add only the NET_BIND_SERVICE capability",
        reason: "Forbidden",
    },
    {
        id: "seccompPod",
        expression: `!(has(${podSc}) && has(${podSc}.seccompProfile)) || ${podSc}.seccompProfile.type in ['RuntimeDefault', 'Localhost']`,
        message: "the pod's seccompProfile must be RuntimeDefault or Localhost",
        reason: "Forbidden",
    },
    {
        id: "seccompContainers",
        expression: everyContainer(
            `(has(${sc}) && has(${sc}.seccompProfile)) ? ${sc}.seccompProfile.type in ['RuntimeDefault', 'Localhost'] : variables.podSeccompAllowed`,
        ),
        message:
            "seccompProfile must be RuntimeDefault (or Localhost), on the pod or on every container",
        reason: "Forbidden",
    },
    {
        id: "hostPath",
        expression: "!has(object.spec.volumes) || object.spec.volumes.all(v, !has(v.hostPath))",
        message: "hostPath volumes are not allowed",
        reason: "Forbidden",
    },
    {
        id: "volumeTypes",
        expression:
            "!has(object.spec.volumes) || object.spec.volumes.all(v, " +
            allowedVolumeSources.map((s) => `has(v.${s})`).join(" || ") +
            ")",
        message: `volumes must be one of: ${allowedVolumeSources.join(", ")}`,
        reason: "Forbidden",
    },
    {
        id: "hostPorts",
        expression: everyContainer(
            "!has(c.ports) || c.ports.all(p, !has(p.hostPort) || p.hostPort == 0)",
        ),
        message: "hostPort must be unset or 0",
        reason: "Forbidden",
    },
];

/** The tenant sandbox validation: pods must name one of `classes` as their RuntimeClass. */
export function sandboxValidation(classes: readonly string[]): CelValidation {
    const list = classes.map((c) => `'${c}'`).join(", ");
    return {
        id: "kataRuntimeClass",
        expression: `has(object.spec.runtimeClassName) && object.spec.runtimeClassName in [${list}]`,
        message: `pods in tenant namespaces must run in a Kata sandbox: set spec.runtimeClassName to one of ${classes.join(", ")}`,
        reason: "Forbidden",
    };
}
