/**
 * The baseline's admission policies, exactly as the component renders them, run by a real CEL
 * engine with the API server's admission semantics (test/support/admission.ts): for every check
 * of Pod Security `restricted` at the pinned Kubernetes version (k8s.io/pod-security-admission
 * v0.34.2 `policy/check_*.go`), pods that break it are refused and the compliant variants are
 * admitted, as bare pods, in init and `kubectl debug` containers, and in workload templates. The
 * plan's and policy pack's shared rule (modules/security) must agree on every case.
 */
import { strict as assert } from "assert";
import type { ClusterConfig } from "../../modules/config";
import { privilegedNamespaces, tierNamespaces } from "../../modules/constants/namespaces";
import { admissionPolicyNames } from "../../modules/k8s/baseline/admission";
import { restrictedPodValidations } from "../../modules/k8s/baseline/cel";
import { podSecurityViolations } from "../../modules/security/kubernetes";
import { podView } from "../../modules/security/pods";
import { toManifest } from "../../tools/plan/manifests";
import {
    AdmissionEvaluator,
    AdmissionResult,
    K8sObject,
    clone,
    request,
} from "../support/admission";
import { devRaw, fakeCloud, parse, recordBaseline } from "./helpers";

/**
 * Pod Security check IDs of v1.34 (`policy/check_*.go`), with the restricted check that
 * overrides a baseline one at the restricted level.
 */
const podSecurityChecks = {
    allowPrivilegeEscalation: undefined,
    appArmorProfile: undefined,
    capabilities_baseline: "capabilities_restricted",
    capabilities_restricted: undefined,
    hostNamespaces: undefined,
    hostPathVolumes: "restrictedVolumes",
    hostPorts: undefined,
    hostProbesAndHostLifecycle: undefined,
    privileged: undefined,
    procMount: undefined,
    restrictedVolumes: undefined,
    runAsNonRoot: undefined,
    runAsUser: undefined,
    seLinuxOptions: undefined,
    seccompProfile_baseline: "seccompProfile_restricted",
    seccompProfile_restricted: undefined,
    sysctls: undefined,
    windowsHostProcess: undefined,
} as const;
type Check = keyof typeof podSecurityChecks;

type Obj = Record<string, any>;
/** A pod (or template): its metadata and spec, the container under test and all containers. */
type Mutation = (pod: { metadata: Obj; spec: Obj }, c: Obj, all: Obj[]) => void;

interface Case {
    readonly what: string;
    readonly mutate: Mutation;
    /** Checks whose validations must fire, and no other (defaults to the table row's check). */
    readonly fires?: readonly string[];
}

interface Row {
    /** Container-level rows also run in init and ephemeral containers. */
    readonly level: "pod" | "container";
    readonly violating: readonly Case[];
    readonly compliant: readonly Case[];
}

const sc = (c: Obj) => (c.securityContext ??= {});
const podSc = (p: { spec: Obj }) => (p.spec.securityContext ??= {});

const table: Record<Check, Row> = {
    hostNamespaces: {
        level: "pod",
        violating: ["hostNetwork", "hostPID", "hostIPC"].map((f) => ({
            what: `${f}: true`,
            mutate: (p) => (p.spec[f] = true),
        })),
        compliant: [{ what: "hostNetwork: false", mutate: (p) => (p.spec.hostNetwork = false) }],
    },
    privileged: {
        level: "container",
        violating: [{ what: "privileged: true", mutate: (_, c) => (sc(c).privileged = true) }],
        compliant: [{ what: "privileged: false", mutate: (_, c) => (sc(c).privileged = false) }],
    },
    capabilities_baseline: {
        level: "container",
        violating: [
            {
                what: "adding SYS_ADMIN",
                mutate: (_, c) => (sc(c).capabilities.add = ["SYS_ADMIN"]),
                fires: ["capabilities_restricted"],
            },
        ],
        compliant: [],
    },
    capabilities_restricted: {
        level: "container",
        violating: [
            { what: "no capabilities", mutate: (_, c) => delete sc(c).capabilities },
            {
                what: "drop [NET_RAW]",
                mutate: (_, c) => (sc(c).capabilities = { drop: ["NET_RAW"] }),
            },
            {
                what: "adding CHOWN (baseline allows it)",
                mutate: (_, c) => (sc(c).capabilities.add = ["CHOWN"]),
            },
            {
                what: "no securityContext",
                mutate: (_, c) => delete c.securityContext,
                fires: ["capabilities_restricted", "allowPrivilegeEscalation"],
            },
        ],
        compliant: [
            {
                what: "drop ALL, add NET_BIND_SERVICE",
                mutate: (_, c) =>
                    (sc(c).capabilities = { drop: ["ALL"], add: ["NET_BIND_SERVICE"] }),
            },
        ],
    },
    hostPathVolumes: {
        level: "pod",
        violating: [
            {
                what: "a hostPath volume",
                mutate: (p) => p.spec.volumes.push({ name: "h", hostPath: { path: "/" } }),
                fires: ["hostPathVolumes", "restrictedVolumes"],
            },
        ],
        compliant: [],
    },
    restrictedVolumes: {
        level: "pod",
        violating: [
            {
                what: "nfs",
                mutate: (p) => p.spec.volumes.push({ name: "n", nfs: { server: "s", path: "/" } }),
            },
            {
                what: "gitRepo",
                mutate: (p) => p.spec.volumes.push({ name: "g", gitRepo: { repository: "r" } }),
            },
            {
                what: "awsElasticBlockStore",
                mutate: (p) =>
                    p.spec.volumes.push({ name: "e", awsElasticBlockStore: { volumeID: "v" } }),
            },
        ],
        compliant: [
            {
                what: "every allowed source",
                mutate: (p) =>
                    p.spec.volumes.push(
                        { name: "cm", configMap: { name: "c" } },
                        { name: "s", secret: { secretName: "s" } },
                        { name: "pr", projected: { sources: [] } },
                        { name: "d", downwardAPI: { items: [] } },
                        { name: "pvc", persistentVolumeClaim: { claimName: "c" } },
                        { name: "csi", csi: { driver: "d" } },
                        { name: "eph", ephemeral: { volumeClaimTemplate: { spec: {} } } },
                        { name: "img", image: { reference: "registry.example/m@sha256:00" } },
                    ),
            },
        ],
    },
    hostPorts: {
        level: "container",
        violating: [
            {
                what: "hostPort 8080",
                mutate: (_, c) => (c.ports = [{ containerPort: 8080, hostPort: 8080 }]),
            },
        ],
        compliant: [
            {
                what: "hostPort 0 and no hostPort",
                mutate: (_, c) =>
                    (c.ports = [{ containerPort: 8080, hostPort: 0 }, { containerPort: 9090 }]),
            },
        ],
    },
    hostProbesAndHostLifecycle: {
        level: "container",
        violating: [
            {
                what: "livenessProbe.httpGet.host",
                mutate: (_, c) =>
                    (c.livenessProbe = { httpGet: { port: 80, host: "169.254.169.254" } }),
            },
            {
                what: "readinessProbe.tcpSocket.host",
                mutate: (_, c) =>
                    (c.readinessProbe = { tcpSocket: { port: 80, host: "10.0.0.1" } }),
            },
            {
                what: "startupProbe.httpGet.host",
                mutate: (_, c) => (c.startupProbe = { httpGet: { port: 80, host: "kubernetes" } }),
            },
            {
                what: "lifecycle.postStart.httpGet.host",
                mutate: (_, c) =>
                    (c.lifecycle = { postStart: { httpGet: { port: 80, host: "x" } } }),
            },
            {
                what: "lifecycle.preStop.tcpSocket.host",
                mutate: (_, c) =>
                    (c.lifecycle = { preStop: { tcpSocket: { port: 80, host: "x" } } }),
            },
        ],
        compliant: [
            {
                what: "probes and hooks on the pod itself",
                mutate: (_, c) => {
                    c.livenessProbe = { httpGet: { port: 80, path: "/healthz" } };
                    c.readinessProbe = { tcpSocket: { port: 80, host: "" } };
                    c.lifecycle = { preStop: { exec: { command: ["sleep", "1"] } } };
                },
            },
        ],
    },
    appArmorProfile: {
        level: "container",
        violating: [
            {
                what: "pod appArmorProfile Unconfined",
                mutate: (p) => (podSc(p).appArmorProfile = { type: "Unconfined" }),
            },
            {
                what: "container appArmorProfile Unconfined",
                mutate: (_, c) => (sc(c).appArmorProfile = { type: "Unconfined" }),
            },
            {
                what: "annotation unconfined",
                mutate: (p, c) =>
                    (p.metadata.annotations = {
                        [`container.apparmor.security.beta.kubernetes.io/${c.name}`]: "unconfined",
                    }),
            },
        ],
        compliant: [
            {
                what: "RuntimeDefault, Localhost and the matching annotations",
                mutate: (p, c) => {
                    podSc(p).appArmorProfile = { type: "RuntimeDefault" };
                    sc(c).appArmorProfile = { type: "Localhost", localhostProfile: "k8s-app" };
                    p.metadata.annotations = {
                        [`container.apparmor.security.beta.kubernetes.io/${c.name}`]:
                            "localhost/k8s-app",
                        "container.apparmor.security.beta.kubernetes.io/other": "runtime/default",
                    };
                },
            },
            {
                // check_appArmorProfile.go allowedProfile: an empty value is allowed.
                what: "an empty annotation",
                mutate: (p, c) =>
                    (p.metadata.annotations = {
                        [`container.apparmor.security.beta.kubernetes.io/${c.name}`]: "",
                    }),
            },
        ],
    },
    seLinuxOptions: {
        level: "container",
        violating: [
            {
                what: "pod type spc_t",
                mutate: (p) => (podSc(p).seLinuxOptions = { type: "spc_t" }),
            },
            {
                what: "container type unconfined_t",
                mutate: (_, c) => (sc(c).seLinuxOptions = { type: "unconfined_t" }),
            },
            { what: "user set", mutate: (_, c) => (sc(c).seLinuxOptions = { user: "system_u" }) },
            { what: "role set", mutate: (p) => (podSc(p).seLinuxOptions = { role: "system_r" }) },
        ],
        compliant: [
            {
                what: "container_t with a level, container_engine_t",
                mutate: (p, c) => {
                    podSc(p).seLinuxOptions = { type: "container_t", level: "s0:c1,c2" };
                    sc(c).seLinuxOptions = { type: "container_engine_t" };
                },
            },
        ],
    },
    procMount: {
        level: "container",
        violating: [{ what: "Unmasked", mutate: (_, c) => (sc(c).procMount = "Unmasked") }],
        compliant: [{ what: "Default", mutate: (_, c) => (sc(c).procMount = "Default") }],
    },
    seccompProfile_baseline: {
        level: "pod",
        violating: [
            {
                what: "pod Unconfined",
                mutate: (p) => (podSc(p).seccompProfile = { type: "Unconfined" }),
                fires: ["seccompProfile_restricted"],
            },
        ],
        compliant: [],
    },
    seccompProfile_restricted: {
        level: "container",
        violating: [
            {
                what: "container Unconfined",
                mutate: (_, c) => (sc(c).seccompProfile = { type: "Unconfined" }),
            },
            { what: "no profile anywhere", mutate: (p) => delete podSc(p).seccompProfile },
        ],
        compliant: [
            {
                what: "Localhost on the pod",
                mutate: (p) =>
                    (podSc(p).seccompProfile = { type: "Localhost", localhostProfile: "p.json" }),
            },
            {
                what: "RuntimeDefault on every container only",
                mutate: (p, _, all) => {
                    delete podSc(p).seccompProfile;
                    all.forEach((x) => (sc(x).seccompProfile = { type: "RuntimeDefault" }));
                },
            },
        ],
    },
    sysctls: {
        level: "pod",
        violating: [
            {
                what: "kernel.msgmax",
                mutate: (p) => (podSc(p).sysctls = [{ name: "kernel.msgmax", value: "1" }]),
            },
            {
                what: "net.ipv4.ip_forward next to a safe one",
                mutate: (p) =>
                    (podSc(p).sysctls = [
                        { name: "net.ipv4.tcp_syncookies", value: "1" },
                        { name: "net.ipv4.ip_forward", value: "1" },
                    ]),
            },
        ],
        compliant: [
            {
                what: "safe sysctls of v1.29 and v1.32",
                mutate: (p) =>
                    (podSc(p).sysctls = [
                        { name: "net.ipv4.tcp_keepalive_time", value: "60" },
                        { name: "net.ipv4.tcp_rmem", value: "4096 87380 6291456" },
                    ]),
            },
        ],
    },
    windowsHostProcess: {
        level: "container",
        violating: [
            {
                what: "pod hostProcess",
                mutate: (p) => (podSc(p).windowsOptions = { hostProcess: true }),
            },
            {
                what: "container hostProcess",
                mutate: (_, c) => (sc(c).windowsOptions = { hostProcess: true }),
            },
        ],
        compliant: [
            {
                what: "hostProcess false",
                mutate: (p, c) => {
                    podSc(p).windowsOptions = { hostProcess: false };
                    sc(c).windowsOptions = { hostProcess: false };
                },
            },
        ],
    },
    allowPrivilegeEscalation: {
        level: "container",
        violating: [
            { what: "unset", mutate: (_, c) => delete sc(c).allowPrivilegeEscalation },
            { what: "true", mutate: (_, c) => (sc(c).allowPrivilegeEscalation = true) },
        ],
        compliant: [],
    },
    runAsNonRoot: {
        level: "container",
        violating: [
            {
                what: "false on the pod, true on every container",
                mutate: (p, _, all) => {
                    podSc(p).runAsNonRoot = false;
                    all.forEach((x) => (sc(x).runAsNonRoot = true));
                },
            },
            { what: "false on a container", mutate: (_, c) => (sc(c).runAsNonRoot = false) },
            { what: "unset everywhere", mutate: (p) => delete podSc(p).runAsNonRoot },
        ],
        compliant: [
            {
                what: "true on every container only",
                mutate: (p, _, all) => {
                    delete podSc(p).runAsNonRoot;
                    all.forEach((x) => (sc(x).runAsNonRoot = true));
                },
            },
        ],
    },
    runAsUser: {
        level: "container",
        violating: [
            { what: "0 on the pod", mutate: (p) => (podSc(p).runAsUser = 0) },
            { what: "0 on a container", mutate: (_, c) => (sc(c).runAsUser = 0) },
        ],
        compliant: [{ what: "10002 on a container", mutate: (_, c) => (sc(c).runAsUser = 10002) }],
    },
};

const image = "registry.example/app@sha256:00";
const container = (name: string): Obj => ({
    name,
    image,
    securityContext: {
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ["ALL"] },
    },
});
const podSpec = (): Obj => ({
    securityContext: {
        runAsNonRoot: true,
        runAsUser: 10001,
        runAsGroup: 10001,
        seccompProfile: { type: "RuntimeDefault" },
    },
    containers: [container("app")],
    volumes: [{ name: "tmp", emptyDir: {} }],
});

const namespace = tierNamespaces.guardrails;
type Form = "pod" | "init container" | "ephemeral container" | "Deployment" | "CronJob";
const forms: Record<Row["level"], Form[]> = {
    pod: ["pod", "Deployment", "CronJob"],
    container: ["pod", "init container", "ephemeral container", "Deployment", "CronJob"],
};

/** The request for `form` with `mutate` applied, and the object the shared rule judges. */
function build(form: Form, mutate: Mutation, ns: string = namespace) {
    const metadata: Obj = { name: "p", namespace: ns, labels: { app: "x" } };
    const spec = podSpec();
    const wrap = (apiVersion: string, kind: string, s: Obj): K8sObject => ({
        apiVersion,
        kind,
        metadata: { name: "w", namespace: ns },
        spec: s,
    });
    if (form === "ephemeral container") {
        const old: K8sObject = {
            apiVersion: "v1",
            kind: "Pod",
            metadata: clone(metadata),
            spec: clone(spec),
        };
        const debug = { ...container("debug"), image: "registry.example/debug@sha256:11" };
        spec.ephemeralContainers = [debug];
        const pod = { metadata, spec };
        mutate(pod, debug, [...spec.containers, debug]);
        const obj: K8sObject = { apiVersion: "v1", kind: "Pod", metadata, spec };
        return {
            attrs: request("UPDATE", obj, { oldObject: old, subResource: "ephemeralcontainers" }),
            judged: obj,
        };
    }
    if (form === "init container") {
        spec.initContainers = [container("init")];
    }
    const pod = { metadata, spec };
    const target = form === "init container" ? spec.initContainers[0] : spec.containers[0];
    mutate(pod, target, [...spec.containers, ...(spec.initContainers ?? [])]);
    let obj: K8sObject;
    if (form === "Deployment") {
        obj = wrap("apps/v1", "Deployment", {
            replicas: 1,
            selector: { matchLabels: { app: "x" } },
            template: {
                metadata: { labels: metadata.labels, annotations: metadata.annotations },
                spec,
            },
        });
    } else if (form === "CronJob") {
        obj = wrap("batch/v1", "CronJob", {
            schedule: "0 * * * *",
            jobTemplate: {
                spec: { template: { metadata: { annotations: metadata.annotations }, spec } },
            },
        });
    } else {
        obj = { apiVersion: "v1", kind: "Pod", metadata, spec };
    }
    return { attrs: request("CREATE", obj), judged: obj };
}

/** Which Pod Security checks the restricted policy's failed validations enforce. */
function firedChecks(r: AdmissionResult): string[] {
    return [
        ...new Set(
            r.denials
                .filter((d) => d.policy === admissionPolicyNames.restricted)
                .map((d) => {
                    assert.equal(d.evaluation, "deny", `an evaluation error: ${d.message}`);
                    return restrictedPodValidations[d.validation!].podSecurityCheck!;
                }),
        ),
    ].sort();
}

/** The shared rule's verdict on the same object (what the plan and the policy pack report). */
function sharedRule(obj: K8sObject): string[] {
    const type = `kubernetes:${obj.apiVersion.includes("/") ? obj.apiVersion : `core/${obj.apiVersion}`}:${obj.kind}`;
    return podSecurityViolations(podView(type, obj.metadata.name!, obj)!);
}

function devWithTenant(): ClusterConfig {
    const raw = devRaw();
    raw.baseline = { tenants: [{ name: "alpha" }] };
    return parse(raw).clusters[0];
}

describe("baseline admission policies on a real CEL engine", () => {
    let ev: AdmissionEvaluator;
    let objects: K8sObject[];

    before(async () => {
        const rs = await recordBaseline("bl-cel", devWithTenant(), fakeCloud("us-ashburn-1"));
        objects = rs
            .filter((r) =>
                /:(Namespace|ValidatingAdmissionPolicy|ValidatingAdmissionPolicyBinding)$/.test(
                    r.type,
                ),
            )
            .map((r) => toManifest(r) as unknown as K8sObject);
        ev = new AdmissionEvaluator(objects);
    });

    it("compiles every expression the component renders", () => {
        assert.deepEqual(ev.policyNames().sort(), [
            admissionPolicyNames.restricted,
            admissionPolicyNames.tenantSandbox,
        ]);
        const rendered = objects.filter((o) => o.kind === "ValidatingAdmissionPolicy");
        const count = rendered.reduce((n, o) => {
            const s = o.spec as Obj;
            return n + s.variables.length + s.matchConditions.length + s.validations.length;
        }, 0);
        assert.equal(ev.expressionCount(), count);
    });

    it("has a validation for every Pod Security check of v1.34, and names only real checks", () => {
        const enforced = new Set(restrictedPodValidations.map((v) => v.podSecurityCheck));
        for (const [check, overriddenBy] of Object.entries(podSecurityChecks)) {
            assert.ok(
                enforced.has(check) || (overriddenBy !== undefined && enforced.has(overriddenBy)),
                `no validation enforces ${check}`,
            );
        }
        for (const v of restrictedPodValidations) {
            assert.ok(v.podSecurityCheck! in podSecurityChecks, `${v.id}: ${v.podSecurityCheck}`);
            assert.equal(v.reason, "Forbidden", v.id);
        }
        assert.deepEqual(Object.keys(table).sort(), Object.keys(podSecurityChecks).sort());
    });

    it("admits the compliant pod in every form", () => {
        for (const form of forms.container) {
            const { attrs, judged } = build(form, () => undefined);
            const r = ev.admit(attrs);
            assert.ok(r.allowed, `${form}: ${r.status?.message}`);
            assert.deepEqual(sharedRule(judged), [], form);
        }
    });

    for (const [check, row] of Object.entries(table) as [Check, Row][]) {
        describe(check, () => {
            for (const c of row.violating) {
                it(`refuses ${c.what}`, () => {
                    for (const form of forms[row.level]) {
                        const { attrs, judged } = build(form, c.mutate);
                        const r = ev.admit(attrs);
                        assert.equal(r.allowed, false, `${form}: admitted`);
                        assert.deepEqual(firedChecks(r), [...(c.fires ?? [check])].sort(), form);
                        assert.equal(r.status!.code, 403, form);
                        assert.notDeepEqual(
                            sharedRule(judged),
                            [],
                            `${form}: the shared rule disagrees`,
                        );
                    }
                });
            }
            for (const c of row.compliant) {
                it(`admits ${c.what}`, () => {
                    for (const form of forms[row.level]) {
                        const { attrs, judged } = build(form, c.mutate);
                        const r = ev.admit(attrs);
                        assert.ok(r.allowed, `${form}: ${r.status?.message}`);
                        assert.deepEqual(sharedRule(judged), [], form);
                    }
                });
            }
        });
    }

    it("leaves privileged system namespaces to Pod Security admission's privileged level", () => {
        const mutate: Mutation = (p) => (p.spec.hostNetwork = true);
        const { attrs } = build("pod", mutate, privilegedNamespaces.kata);
        assert.ok(ev.admit(attrs).allowed);
    });

    it("does not judge a pod again when an update changes neither its spec nor annotations", () => {
        const old = build("pod", (p) => (p.spec.hostNetwork = true)).judged;
        const relabelled = clone(old);
        relabelled.metadata.labels = { app: "x", other: "y" };
        relabelled.metadata.finalizers = [];
        assert.ok(ev.admit(request("UPDATE", relabelled, { oldObject: old })).allowed);
        const reimaged = clone(old);
        (reimaged.spec as Obj).containers[0].image = "registry.example/app@sha256:22";
        assert.equal(ev.admit(request("UPDATE", reimaged, { oldObject: old })).allowed, false);
        const annotated = clone(old);
        annotated.metadata.annotations = { a: "b" };
        assert.equal(ev.admit(request("UPDATE", annotated, { oldObject: old })).allowed, false);
    });

    it("requires a Kata RuntimeClass in tenant namespaces, for pods and templates", () => {
        const tenantNs = "tenant-alpha";
        for (const form of ["pod", "Deployment", "CronJob"] as Form[]) {
            const runc = ev.admit(build(form, () => undefined, tenantNs).attrs);
            assert.equal(runc.allowed, false, form);
            assert.deepEqual(
                runc.denials.map((d) => d.policy),
                [admissionPolicyNames.tenantSandbox],
            );
            assert.match(runc.status!.message, /Kata sandbox.*kata-qemu/);
            const other = ev.admit(
                build(form, (p) => (p.spec.runtimeClassName = "runc"), tenantNs).attrs,
            );
            assert.equal(other.allowed, false, form);
            const kata = ev.admit(
                build(form, (p) => (p.spec.runtimeClassName = "kata-qemu"), tenantNs).attrs,
            );
            assert.ok(kata.allowed, `${form}: ${kata.status?.message}`);
        }
        // Tier namespaces do not need Kata.
        assert.ok(ev.admit(build("pod", () => undefined).attrs).allowed);
    });
});
