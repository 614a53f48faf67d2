/**
 * The one hardened workload builder. Every pod spec the program authors comes from here, so the
 * security baseline (docs/ARCHITECTURE.md) is written once: Pod Security
 * `restricted`, fixed non-root UIDs ≥ 10001, read-only root filesystem with size-limited
 * `emptyDir`s, no service-account token, requests and limits (ephemeral storage too), probes,
 * topology spread, digest-pinned images. A tier states only what is special about it; anything
 * that would break the baseline is refused with an error that says what to do instead.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { labels } from "../constants/labels";
import {
    AllowedCapability,
    allowedCapabilities,
    defaultUid,
    digestPattern,
    looksLikeSecretName,
    minimumId,
    podSpecViolations as sharedPodSpecViolations,
    restrictedContainerSecurityContext,
    restrictedPodSecurityContext,
} from "../security/rules";
import type { Workload } from "./catalog";

type PodSpec = k8s.types.input.core.v1.PodSpec;
type Container = k8s.types.input.core.v1.Container;
type Volume = k8s.types.input.core.v1.Volume;

/** Lowest UID/GID the platform runs as: the shared rules' {@link minimumId}. */
export const minimumUid = minimumId;

export { allowedCapabilities, defaultUid, digestPattern };
export type { AllowedCapability };

/** Pod-level security context of every platform pod (modules/security/contexts.ts). */
export function podSecurityContext(
    uid: number = defaultUid,
): k8s.types.input.core.v1.PodSecurityContext {
    return restrictedPodSecurityContext(uid);
}

/** Container-level security context of every platform container (modules/security/contexts.ts). */
export function containerSecurityContext(
    uid: number = defaultUid,
    addCapabilities: readonly AllowedCapability[] = [],
): k8s.types.input.core.v1.SecurityContext {
    return restrictedContainerSecurityContext(uid, addCapabilities);
}

/** An image pinned by tag and digest. */
export interface ImageRef {
    /** Registry and repository, e.g. `docker.io/vllm/vllm-openai`. */
    readonly repository: string;
    /** Human-readable tag; informative only, the digest decides what runs. */
    readonly tag: string;
    /** `sha256:<64 hex>`. */
    readonly digest: string;
}

/** `repository:tag@digest`; refuses an image without a well-formed digest. */
export function imageReference(image: ImageRef): string {
    if (!image || !digestPattern.test(image.digest ?? "")) {
        throw new Error(
            `image ${image?.repository ?? "(none)"}:${image?.tag ?? ""} is not pinned by digest ` +
                `(got ${JSON.stringify(image?.digest)}); set its digest to sha256:<64 hex digits>`,
        );
    }
    if (!image.repository || /[@:]/.test(image.repository.split("/").slice(-1)[0])) {
        throw new Error(
            `image repository ${JSON.stringify(image.repository)} must be a bare repository ` +
                "(no tag or digest); put them in tag and digest",
        );
    }
    return `${image.repository}:${image.tag}@${image.digest}`;
}

/** Requests and limits of one container. Quantities in Kubernetes notation (`500m`, `1Gi`). */
export interface ContainerResources {
    readonly requests: {
        readonly cpu: string;
        readonly memory: string;
        readonly ephemeralStorage: string;
    };
    readonly limits: {
        readonly cpu: string;
        readonly memory: string;
        readonly ephemeralStorage: string;
    };
    /** Extended resources (GPUs) as name → count; requested and limited alike. */
    readonly extended?: Readonly<Record<string, number>>;
}

/** An HTTP probe, or a TCP probe when `path` is omitted. Times in seconds. */
export interface HttpProbe {
    /** Path, e.g. `/health`; omit for a TCP connect probe. */
    readonly path?: string;
    /** Container port name or number. */
    readonly port: string | number;
    /** Seconds between probes. Defaults to 10. */
    readonly periodSeconds?: number;
    /** Consecutive failures before the probe fails. Defaults to 3. */
    readonly failureThreshold?: number;
    /** Seconds before a probe times out. Defaults to 3. */
    readonly timeoutSeconds?: number;
}

/** Readiness and liveness are mandatory; a startup probe guards slow loads (liveness waits for it). */
export interface ContainerProbes {
    readonly readiness: HttpProbe;
    readonly liveness: HttpProbe;
    readonly startup?: HttpProbe;
}

/** A volume mount. */
export interface MountSpec {
    readonly name: string;
    readonly mountPath: string;
    /** Defaults to true: writable mounts must say so. */
    readonly readOnly?: boolean;
    readonly subPath?: string;
}

/** Only the volume kinds a platform pod needs, all allowed by `restricted`. */
export type VolumeSpec =
    | {
          readonly name: string;
          /** `items` maps keys to paths (ConfigMap keys cannot hold `/`). */
          readonly configMap: {
              readonly name: pulumi.Input<string>;
              readonly items?: readonly { readonly key: string; readonly path: string }[];
          };
      }
    | { readonly name: string; readonly secret: { readonly secretName: pulumi.Input<string> } }
    | {
          readonly name: string;
          /** `sizeLimit` is mandatory: an unbounded emptyDir can fill the node. */
          readonly emptyDir: { readonly sizeLimit: string; readonly medium?: "Memory" };
      }
    | {
          readonly name: string;
          /** A short-lived, audience-bound service-account token, mounted only where needed. */
          readonly serviceAccountToken: {
              /** Token audience. Defaults to the API server's (what OKE workload identity validates). */
              readonly audience?: string;
              /** Token lifetime, seconds (kubelet rotates it at 80%). */
              readonly expirationSeconds: number;
          };
      };

/** Tightening-only container overrides; anything looser is refused. */
export interface SecurityOverrides {
    /** Fixed UID (and GID) ≥ 10001. Defaults to the pod's UID. */
    readonly runAsUser?: number;
    /** Only `NET_BIND_SERVICE`. */
    readonly addCapabilities?: readonly string[];
    /** Refused when true. */
    readonly privileged?: boolean;
    /** Refused when true. */
    readonly allowPrivilegeEscalation?: boolean;
    /** Refused when false. */
    readonly readOnlyRootFilesystem?: boolean;
}

/** One container: what the tier says about it. */
export interface ContainerSpec {
    readonly name: string;
    readonly image: ImageRef;
    readonly command?: pulumi.Input<string>[];
    readonly args?: pulumi.Input<string>[];
    /**
     * Non-secret environment values only. Secrets are mounted as files; a variable whose name
     * looks like a credential is refused.
     */
    readonly env?: Readonly<Record<string, pulumi.Input<string>>>;
    /** Environment values read from a ConfigMap key (non-secret, e.g. a model reference pipelines promote). */
    readonly configMapEnv?: Readonly<
        Record<string, { readonly configMap: string; readonly key: string }>
    >;
    /** Container ports. Defaults, for the first container, to the workload's catalog ports. */
    readonly ports?: readonly { readonly name: string; readonly containerPort: number }[];
    readonly resources: ContainerResources;
    /** Mandatory for main containers, ignored for init containers. */
    readonly probes?: ContainerProbes;
    readonly mounts?: readonly MountSpec[];
    readonly securityContext?: SecurityOverrides;
}

/** Everything the builder needs for one workload's pods. */
export interface HardenedWorkloadArgs {
    /** Catalog entry: namespace, labels, ports. */
    readonly workload: Workload;
    /** Main containers; the first one serves the catalog ports. */
    readonly containers: readonly ContainerSpec[];
    /** Init containers, run in order before the main containers. */
    readonly initContainers?: readonly ContainerSpec[];
    /** Pod volumes besides `/tmp`. */
    readonly volumes?: readonly VolumeSpec[];
    /** PriorityClass (see `priorityClasses`). */
    readonly priorityClassName: string;
    /** Pod UID and GID, ≥ 10001. Defaults to 10001. */
    readonly uid?: number;
    /** RuntimeClass, e.g. `kata-qemu`. Defaults to none (the node's default runtime). */
    readonly runtimeClassName?: string;
    readonly tolerations?: readonly k8s.types.input.core.v1.Toleration[];
    readonly nodeSelector?: Readonly<Record<string, string>>;
    /** ServiceAccount name. Defaults to the workload id. */
    readonly serviceAccountName?: string;
    /** Never place two pods on one node (hard spread): the node is the failure domain. Defaults to false. */
    readonly spreadRequired?: boolean;
    /** Size limit of the `/tmp` emptyDir every container gets. Defaults to `64Mi`. */
    readonly tmpSizeLimit?: string;
    /** Seconds a pod gets to stop. Defaults to 30. */
    readonly terminationGracePeriodSeconds?: number;
    /**
     * A Job or CronJob pod: runs to completion (`restartPolicy: Never`) and serves nothing, so no
     * probes. Defaults to false.
     */
    readonly runToCompletion?: boolean;
}

/** The labels of a workload's pods and objects: its catalog labels plus `managed-by: pulumi`. */
export function buildWorkloadLabels(
    workload: Workload,
    extra: Readonly<Record<string, string>> = {},
): Record<string, string> {
    return { ...workload.podLabels, [labels.managedBy]: "pulumi", ...extra };
}

/** Thrown when a workload would break the security baseline. */
export class BaselineViolationError extends Error {
    constructor(
        public readonly workload: string,
        public readonly violations: readonly string[],
    ) {
        super(
            `workload ${workload} would break the security baseline:\n` +
                violations.map((v) => `  - ${v}`).join("\n"),
        );
        this.name = "BaselineViolationError";
    }
}

/**
 * What the rules cannot see in the rendered spec: an image reference the builder cannot write, env
 * names that say they carry a credential (their values may be Outputs), extended resource counts.
 */
function checkContainerSpec(c: ContainerSpec, out: string[]): void {
    const where = `container ${c.name}`;
    try {
        imageReference(c.image);
    } catch (e) {
        out.push(`${where}: ${(e as Error).message}`);
    }
    for (const name of [...Object.keys(c.env ?? {}), ...Object.keys(c.configMapEnv ?? {})]) {
        if (looksLikeSecretName(name)) {
            out.push(
                `${where}: env ${name} looks like a credential; mount it as a file from a Secret instead`,
            );
        }
    }
    for (const [name, count] of Object.entries(c.resources?.extended ?? {})) {
        if (!Number.isInteger(count) || count < 1) {
            out.push(
                `${where}: extended resource ${name} must be a positive integer, got ${count}`,
            );
        }
    }
}

/**
 * Checks a rendered pod spec against the shared pod rules (modules/security, the same the policy
 * pack and the plan run): works on any spec, including ones not built here.
 */
export const podSpecViolations = (podSpec: unknown): string[] => sharedPodSpecViolations(podSpec);

/** The image reference, or what was given when it is malformed (checkContainerSpec names why). */
function renderedImage(image: ImageRef): string {
    try {
        return imageReference(image);
    } catch {
        return `${image?.repository ?? ""}:${image?.tag ?? ""}`;
    }
}

/** Requests and limits as Kubernetes writes them; what is missing stays unset, for the rules to name. */
function quantities(
    r: ContainerResources | undefined,
): k8s.types.input.core.v1.ResourceRequirements {
    const extended = Object.fromEntries(
        Object.entries(r?.extended ?? {}).map(([k, v]) => [k, String(v)]),
    );
    const of = (q: ContainerResources["requests"] | undefined): Record<string, string> => ({
        ...definedOnly({
            cpu: q?.cpu,
            memory: q?.memory,
            "ephemeral-storage": q?.ephemeralStorage,
        }),
        ...extended,
    });
    return { requests: of(r?.requests), limits: of(r?.limits) };
}

function probe(p: HttpProbe): k8s.types.input.core.v1.Probe {
    return {
        httpGet: p.path !== undefined ? { path: p.path, port: p.port } : undefined,
        tcpSocket: p.path === undefined ? { port: p.port } : undefined,
        periodSeconds: p.periodSeconds ?? 10,
        failureThreshold: p.failureThreshold ?? 3,
        timeoutSeconds: p.timeoutSeconds ?? 3,
    };
}

function volume(v: VolumeSpec): Volume {
    if ("configMap" in v) {
        return {
            name: v.name,
            configMap: {
                name: v.configMap.name,
                defaultMode: 0o444,
                items: v.configMap.items?.map((i) => ({ key: i.key, path: i.path })),
            },
        };
    }
    if ("secret" in v) {
        return { name: v.name, secret: { secretName: v.secret.secretName, defaultMode: 0o440 } };
    }
    if ("emptyDir" in v) {
        return {
            name: v.name,
            emptyDir: { sizeLimit: v.emptyDir.sizeLimit, medium: v.emptyDir.medium },
        };
    }
    if ("serviceAccountToken" in v) {
        return {
            name: v.name,
            // The same three files an automounted token volume holds, so SDKs find them where they
            // expect, but only in the containers that mount it.
            projected: {
                defaultMode: 0o440,
                sources: [
                    {
                        serviceAccountToken: {
                            path: "token",
                            audience: v.serviceAccountToken.audience,
                            expirationSeconds: v.serviceAccountToken.expirationSeconds,
                        },
                    },
                    {
                        configMap: {
                            name: "kube-root-ca.crt",
                            items: [{ key: "ca.crt", path: "ca.crt" }],
                        },
                    },
                    {
                        downwardAPI: {
                            items: [
                                {
                                    path: "namespace",
                                    fieldRef: { fieldPath: "metadata.namespace" },
                                },
                            ],
                        },
                    },
                ],
            },
        };
    }
    return v as Volume;
}

const tmpVolume = "tmp";

const definedOnly = <T extends Record<string, unknown>>(o: T): Partial<T> =>
    Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;

function container(
    c: ContainerSpec,
    main: boolean,
    podUid: number,
    defaultPorts: readonly { name: string; containerPort: number }[] | undefined,
): Container {
    const uid = c.securityContext?.runAsUser ?? podUid;
    const mounts = (c.mounts ?? []).map((m) => ({
        name: m.name,
        mountPath: m.mountPath,
        readOnly: m.readOnly ?? true,
        subPath: m.subPath,
    }));
    if (!mounts.some((m) => m.mountPath === "/tmp")) {
        mounts.push({ name: tmpVolume, mountPath: "/tmp", readOnly: false, subPath: undefined });
    }
    const ports = c.ports ?? defaultPorts;
    return {
        name: c.name,
        image: renderedImage(c.image),
        imagePullPolicy: "IfNotPresent",
        command: c.command,
        args: c.args,
        env: [
            ...Object.entries(c.env ?? {}).map(([name, value]) => ({ name, value })),
            ...Object.entries(c.configMapEnv ?? {}).map(([name, ref]) => ({
                name,
                valueFrom: { configMapKeyRef: { name: ref.configMap, key: ref.key } },
            })),
        ],
        ports: ports?.map((p) => ({
            name: p.name,
            containerPort: p.containerPort,
            protocol: "TCP",
        })),
        resources: quantities(c.resources),
        // Overrides are written as given: the shared rules then refuse any that loosen the baseline.
        securityContext: {
            ...containerSecurityContext(
                uid,
                (c.securityContext?.addCapabilities ?? []) as AllowedCapability[],
            ),
            ...definedOnly({
                privileged: c.securityContext?.privileged,
                allowPrivilegeEscalation: c.securityContext?.allowPrivilegeEscalation,
                readOnlyRootFilesystem: c.securityContext?.readOnlyRootFilesystem,
            }),
        },
        readinessProbe: main && c.probes ? probe(c.probes.readiness) : undefined,
        livenessProbe: main && c.probes ? probe(c.probes.liveness) : undefined,
        startupProbe: main && c.probes?.startup ? probe(c.probes.startup) : undefined,
        volumeMounts: mounts,
        terminationMessagePolicy: "FallbackToLogsOnError",
    };
}

/**
 * Builds the pod spec of a platform workload. Pure. Throws a {@link BaselineViolationError}
 * listing every way the arguments would break the baseline.
 */
export function buildPodSpec(args: HardenedWorkloadArgs): PodSpec {
    const uid = args.uid ?? defaultUid;
    const violations: string[] = [];
    if (args.containers.length === 0) {
        violations.push("pod: at least one container is required");
    }
    if (!args.priorityClassName) {
        violations.push("pod: priorityClassName is required (see priorityClasses)");
    }
    const names = [...(args.initContainers ?? []), ...args.containers].map((c) => c.name);
    const dup = names.filter((n, i) => names.indexOf(n) !== i);
    if (dup.length > 0) {
        violations.push(`pod: duplicate container names ${dup.join(", ")}`);
    }
    for (const c of [...(args.initContainers ?? []), ...args.containers]) {
        checkContainerSpec(c, violations);
    }
    const volumes = [...(args.volumes ?? [])];
    for (const v of volumes) {
        const kinds = Object.keys(v).filter((k) => k !== "name");
        if (
            kinds.length !== 1 ||
            !["configMap", "secret", "emptyDir", "serviceAccountToken"].includes(kinds[0])
        ) {
            violations.push(
                `volume ${v.name}: kind ${kinds.join("+")} is not allowed; use configMap, secret, ` +
                    "a size-limited emptyDir or a serviceAccountToken",
            );
        }
    }
    const declared = new Set([tmpVolume, ...volumes.map((v) => v.name)]);
    for (const c of [...(args.initContainers ?? []), ...args.containers]) {
        for (const m of c.mounts ?? []) {
            if (!declared.has(m.name)) {
                violations.push(`container ${c.name}: mounts undeclared volume ${m.name}`);
            }
        }
    }
    const catalogPorts = args.workload.ports.map((p) => ({ name: p.name, containerPort: p.port }));
    const selector = { matchLabels: { ...args.workload.podLabels } };
    const spec: PodSpec = {
        serviceAccountName: args.serviceAccountName ?? args.workload.id,
        automountServiceAccountToken: false,
        enableServiceLinks: false,
        hostNetwork: false,
        hostPID: false,
        hostIPC: false,
        securityContext: podSecurityContext(uid),
        priorityClassName: args.priorityClassName,
        runtimeClassName: args.runtimeClassName,
        tolerations: args.tolerations ? [...args.tolerations] : undefined,
        nodeSelector: args.nodeSelector ? { ...args.nodeSelector } : undefined,
        terminationGracePeriodSeconds: args.terminationGracePeriodSeconds ?? 30,
        ...(args.runToCompletion ? { restartPolicy: "Never" } : {}),
        topologySpreadConstraints: [
            {
                maxSkew: 1,
                topologyKey: "kubernetes.io/hostname",
                whenUnsatisfiable: args.spreadRequired ? "DoNotSchedule" : "ScheduleAnyway",
                nodeTaintsPolicy: "Honor",
                labelSelector: selector,
                matchLabelKeys: ["pod-template-hash"],
            },
            {
                maxSkew: 1,
                topologyKey: "topology.kubernetes.io/zone",
                whenUnsatisfiable: "ScheduleAnyway",
                nodeTaintsPolicy: "Honor",
                labelSelector: selector,
                matchLabelKeys: ["pod-template-hash"],
            },
        ],
        initContainers: args.initContainers?.map((c) => container(c, false, uid, undefined)),
        containers: args.containers.map((c, i) =>
            container(c, true, uid, i === 0 ? catalogPorts : undefined),
        ),
        volumes: [
            ...volumes.map(volume),
            { name: tmpVolume, emptyDir: { sizeLimit: args.tmpSizeLimit ?? "64Mi" } },
        ],
    };
    // The baseline itself is the shared pod rules, advisory ones included, over what was rendered.
    violations.push(...sharedPodSpecViolations(spec, args.workload.id, args.workload.namespace));
    if (violations.length > 0) {
        throw new BaselineViolationError(
            `${args.workload.namespace}/${args.workload.id}`,
            violations,
        );
    }
    return spec;
}

/** Arguments for {@link HardenedWorkload}: the pod plus the objects around it. */
export interface HardenedWorkloadComponentArgs extends HardenedWorkloadArgs {
    /** Pod replicas (the HPA's minimum when `hpa` is set). Defaults to 2. */
    readonly replicas?: number;
    /** Horizontal autoscaling on CPU utilization. Defaults to none. */
    readonly hpa?: {
        readonly minReplicas: number;
        readonly maxReplicas: number;
        readonly cpuUtilization?: number;
    };
    /** Annotations on the pod template (e.g. the config checksum); a change rolls the pods. */
    readonly podAnnotations?: Readonly<Record<string, pulumi.Input<string>>>;
    /** Annotations on the ServiceAccount (e.g. workload identity). Defaults to none. */
    readonly serviceAccountAnnotations?: Readonly<Record<string, string>>;
    /** Whether to create the ClusterIP Service for the catalog ports. Defaults to true. */
    readonly service?: boolean;
    /** Rolling update surge/unavailable. Defaults to maxSurge 1, maxUnavailable 0. */
    readonly rollingUpdate?: { readonly maxSurge: number; readonly maxUnavailable: number };
}

/**
 * A platform workload: its own ServiceAccount (no automounted token), a Deployment with the
 * hardened pod spec, a ClusterIP Service, a PodDisruptionBudget and optionally an HPA.
 */
export class HardenedWorkload extends pulumi.ComponentResource {
    public readonly deployment: k8s.apps.v1.Deployment;
    public readonly service?: k8s.core.v1.Service;
    public readonly serviceAccount: k8s.core.v1.ServiceAccount;
    public readonly podSpec: PodSpec;

    constructor(
        name: string,
        args: HardenedWorkloadComponentArgs,
        opts?: pulumi.ComponentResourceOptions,
    ) {
        super("secure-llm-platform:k8s:HardenedWorkload", name, {}, opts);
        const w = args.workload;
        const replicas = args.replicas ?? 2;
        const objectLabels = buildWorkloadLabels(w);
        const ns = w.namespace;
        if (args.hpa && (args.hpa.minReplicas < 1 || args.hpa.maxReplicas < args.hpa.minReplicas)) {
            throw new pulumi.ResourceError(
                `workload ${w.id}: HPA bounds ${args.hpa.minReplicas}..${args.hpa.maxReplicas} are invalid; ` +
                    "use 1 ≤ minReplicas ≤ maxReplicas",
                this,
            );
        }
        try {
            this.podSpec = buildPodSpec(args);
        } catch (e) {
            throw new pulumi.ResourceError((e as Error).message, this);
        }
        const saName = args.serviceAccountName ?? w.id;
        this.serviceAccount = new k8s.core.v1.ServiceAccount(
            `${name}-sa`,
            {
                metadata: {
                    name: saName,
                    namespace: ns,
                    labels: objectLabels,
                    annotations: args.serviceAccountAnnotations,
                },
                automountServiceAccountToken: false,
            },
            { parent: this },
        );
        this.deployment = new k8s.apps.v1.Deployment(
            `${name}-deployment`,
            {
                metadata: { name: w.id, namespace: ns, labels: objectLabels },
                spec: {
                    replicas: args.hpa ? args.hpa.minReplicas : replicas,
                    revisionHistoryLimit: 3,
                    selector: { matchLabels: { ...w.podLabels } },
                    strategy: {
                        type: "RollingUpdate",
                        rollingUpdate: args.rollingUpdate ?? { maxSurge: 1, maxUnavailable: 0 },
                    },
                    template: {
                        metadata: { labels: objectLabels, annotations: args.podAnnotations },
                        spec: this.podSpec,
                    },
                },
            },
            { parent: this, dependsOn: [this.serviceAccount] },
        );
        if (args.service ?? true) {
            this.service = new k8s.core.v1.Service(
                `${name}-service`,
                {
                    metadata: { name: w.id, namespace: ns, labels: objectLabels },
                    spec: {
                        type: "ClusterIP",
                        selector: { ...w.podLabels },
                        ports: w.ports.map((p) => ({
                            name: p.name,
                            port: p.port,
                            targetPort: p.name,
                            protocol: p.protocol,
                        })),
                    },
                },
                { parent: this },
            );
        }
        new k8s.policy.v1.PodDisruptionBudget(
            `${name}-pdb`,
            {
                metadata: { name: w.id, namespace: ns, labels: objectLabels },
                spec: { maxUnavailable: 1, selector: { matchLabels: { ...w.podLabels } } },
            },
            { parent: this },
        );
        if (args.hpa) {
            new k8s.autoscaling.v2.HorizontalPodAutoscaler(
                `${name}-hpa`,
                {
                    metadata: { name: w.id, namespace: ns, labels: objectLabels },
                    spec: {
                        scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: w.id },
                        minReplicas: args.hpa.minReplicas,
                        maxReplicas: args.hpa.maxReplicas,
                        metrics: [
                            {
                                type: "Resource",
                                resource: {
                                    name: "cpu",
                                    target: {
                                        type: "Utilization",
                                        averageUtilization: args.hpa.cpuUtilization ?? 70,
                                    },
                                },
                            },
                        ],
                    },
                },
                { parent: this, dependsOn: [this.deployment] },
            );
        }
        this.registerOutputs({
            deployment: this.deployment.metadata.name,
            service: this.service?.metadata.name,
            serviceAccount: this.serviceAccount.metadata.name,
        });
    }
}
