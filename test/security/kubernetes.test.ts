import * as assert from "assert";
import {
    allowedCapabilities,
    clusterAdminBindingRule,
    containerHardeningRule,
    ephemeralStorageRule,
    evaluateResources,
    exceptionsRule,
    imagePinningRule,
    imageRegistry,
    isAllowedAppArmorAnnotation,
    namespacePodSecurityRule,
    noNodePortRule,
    noSecretsInEnvRule,
    podSecurityRule,
    podSpecViolations,
    privateLoadBalancerRule,
    privilegedWorkloadRule,
    probesRule,
    rbacEscalationRule,
    rbacSecretsReadRule,
    rbacWildcardRule,
    resourceLimitsRule,
    restrictedContainerSecurityContext,
    restrictedPodSecurityContext,
    ResourceDescription,
    Rule,
    RuleContext,
    rules,
    serviceAccountTokenRule,
    UNKNOWN,
} from "../../modules/security";
import {
    deploymentWith,
    hardenedContainer,
    hardenedPodSpec,
    k8s,
    pinnedImage,
    workload,
} from "./fixtures";

const ctx: RuleContext = { environment: "prod" };

function check(rule: Rule, r: ResourceDescription, c: RuleContext = ctx): string[] {
    assert.ok(rule.appliesTo(r.type), `${rule.id} should apply to ${r.type}`);
    return rule.check(r, c);
}

function assertOne(found: string[], ...fragments: string[]): void {
    assert.ok(
        found.some((m) => fragments.every((f) => m.includes(f))),
        `expected a violation mentioning ${fragments.join(" + ")}, got:\n${found.join("\n") || "(none)"}`,
    );
}

describe("security rules: hardened workloads pass every rule", () => {
    for (const kind of [
        "Pod",
        "Deployment",
        "StatefulSet",
        "DaemonSet",
        "ReplicaSet",
        "Job",
        "CronJob",
    ]) {
        it(`a hardened ${kind} has no finding at all`, () => {
            assert.deepStrictEqual(evaluateResources([workload(kind)], ctx), []);
        });
        it(`a ${kind} running as root is refused, the path naming where its pod spec lives`, () => {
            const pod = workload(kind).inputs;
            const spec =
                kind === "Pod"
                    ? pod.spec
                    : kind === "CronJob"
                      ? pod.spec.jobTemplate.spec.template.spec
                      : pod.spec.template.spec;
            spec.securityContext.runAsUser = 0;
            const path =
                kind === "Pod"
                    ? "spec.securityContext"
                    : kind === "CronJob"
                      ? "spec.jobTemplate.spec.template.spec.securityContext"
                      : "spec.template.spec.securityContext";
            assertOne(
                check(podSecurityRule, workload(kind, spec)),
                `${kind} llm-guardrails/x: ${path}.runAsUser`,
            );
        });
    }
});

describe("security rules: Pod Security Standards controls", () => {
    // [control, mutation of a hardened pod spec, fragments the violation must contain]
    const cases: [string, (p: Record<string, any>) => void, string[]][] = [
        [
            "hostNetwork",
            (p) => (p.hostNetwork = true),
            ["spec.template.spec.hostNetwork", "hostNamespaces"],
        ],
        ["hostPID", (p) => (p.hostPID = true), ["hostPID"]],
        ["hostIPC", (p) => (p.hostIPC = true), ["hostIPC"]],
        [
            "privileged",
            (p) => (p.containers[0].securityContext.privileged = true),
            ["containers[0].securityContext.privileged", 'container "app"'],
        ],
        [
            "capabilities beyond baseline",
            (p) => (p.containers[0].securityContext.capabilities.add = ["SYS_ADMIN"]),
            ["adds SYS_ADMIN", "baseline"],
        ],
        [
            "capabilities beyond restricted",
            (p) => (p.containers[0].securityContext.capabilities.add = ["CHOWN"]),
            ["adds CHOWN", "restricted"],
        ],
        [
            "capabilities not dropped",
            (p) => (p.containers[0].securityContext.capabilities.drop = ["NET_RAW"]),
            ["capabilities.drop", "ALL"],
        ],
        [
            "hostPath volume",
            (p) => p.volumes.push({ name: "host", hostPath: { path: "/" } }),
            ['volumes[1] ("host")', "hostPathVolumes"],
        ],
        [
            "restricted volume types",
            (p) => p.volumes.push({ name: "nfs", nfs: { server: "x", path: "/" } }),
            ["nfs", "restrictedVolumes"],
        ],
        [
            "hostPort",
            (p) => (p.containers[0].ports = [{ containerPort: 80, hostPort: 80 }]),
            ["ports[0].hostPort"],
        ],
        [
            "AppArmor Unconfined",
            (p) => (p.securityContext.appArmorProfile = { type: "Unconfined" }),
            ["appArmorProfile"],
        ],
        [
            "seccomp Unconfined (container)",
            (p) => (p.initContainers[0].securityContext.seccompProfile = { type: "Unconfined" }),
            ["initContainers[0]", 'init container "init"', "seccompProfile"],
        ],
        [
            "seccomp unset everywhere",
            (p) => delete p.securityContext.seccompProfile,
            ["seccompProfile.type", "RuntimeDefault"],
        ],
        [
            "SELinux type",
            (p) => (p.securityContext.seLinuxOptions = { type: "spc_t" }),
            ["seLinuxOptions.type"],
        ],
        [
            "SELinux user",
            (p) => (p.containers[0].securityContext.seLinuxOptions = { user: "root" }),
            ["seLinuxOptions.user"],
        ],
        [
            "procMount",
            (p) => (p.containers[0].securityContext.procMount = "Unmasked"),
            ["procMount"],
        ],
        [
            "unsafe sysctl",
            (p) => (p.securityContext.sysctls = [{ name: "kernel.msgmax", value: "1" }]),
            ["kernel.msgmax", "sysctls"],
        ],
        [
            "Windows HostProcess",
            (p) => (p.securityContext.windowsOptions = { hostProcess: true }),
            ["hostProcess"],
        ],
        [
            "probe host",
            (p) => (p.containers[0].livenessProbe.httpGet.host = "10.0.0.1"),
            ["livenessProbe.httpGet.host"],
        ],
        [
            "lifecycle host",
            (p) => (p.containers[0].lifecycle = { preStop: { tcpSocket: { port: 1, host: "x" } } }),
            ["lifecycle.preStop.tcpSocket.host"],
        ],
        [
            "allowPrivilegeEscalation unset",
            (p) => delete p.containers[0].securityContext.allowPrivilegeEscalation,
            ["allowPrivilegeEscalation"],
        ],
        [
            "runAsNonRoot false on a container",
            (p) => (p.containers[0].securityContext.runAsNonRoot = false),
            ["containers[0].securityContext.runAsNonRoot"],
        ],
        [
            "runAsNonRoot unset everywhere",
            (p) => delete p.securityContext.runAsNonRoot,
            ["runAsNonRoot"],
        ],
        [
            "runAsUser 0 on a container",
            (p) => (p.containers[0].securityContext.runAsUser = 0),
            ["containers[0].securityContext.runAsUser"],
        ],
        [
            "ephemeral containers are checked too",
            (p) =>
                (p.ephemeralContainers = [
                    { name: "debug", image: pinnedImage, securityContext: { privileged: true } },
                ]),
            ['ephemeral container "debug"', "privileged"],
        ],
    ];
    for (const [control, mutate, fragments] of cases) {
        it(`refuses ${control}`, () => {
            assertOne(check(podSecurityRule, deploymentWith(mutate)), ...fragments);
        });
    }

    it("accepts NET_BIND_SERVICE, Localhost seccomp on the container, and a safe sysctl", () => {
        const r = deploymentWith((p) => {
            p.containers[0].securityContext.capabilities.add = ["NET_BIND_SERVICE"];
            p.containers[0].securityContext.seccompProfile = {
                type: "Localhost",
                localhostProfile: "x.json",
            };
            p.securityContext.sysctls = [
                { name: "net.ipv4.ip_unprivileged_port_start", value: "0" },
            ];
        });
        assert.deepStrictEqual(check(podSecurityRule, r), []);
    });

    it("treats values unknown during preview as unverifiable, not as violations", () => {
        const r = deploymentWith((p) => {
            p.containers[0].securityContext = UNKNOWN;
            p.securityContext.seccompProfile = UNKNOWN;
            p.initContainers[0].securityContext.allowPrivilegeEscalation = UNKNOWN;
            p.securityContext.runAsUser = UNKNOWN;
        });
        assert.deepStrictEqual(
            evaluateResources([r], ctx).filter((f) => f.severity === "mandatory"),
            [],
        );
    });
});

describe("security rules: AppArmor annotations as Pod Security reads them", () => {
    // pod-security-admission check_appArmorProfile.go: allowed are empty, runtime/default, localhost/*.
    const annotated = (value: string) => {
        const r = workload("Deployment");
        r.inputs.spec.template.metadata.annotations = {
            "container.apparmor.security.beta.kubernetes.io/app": value,
        };
        return r;
    };
    for (const value of ["", "runtime/default", "localhost/custom"]) {
        it(`accepts ${JSON.stringify(value)}`, () => {
            assert.deepStrictEqual(check(podSecurityRule, annotated(value)), []);
            assert.ok(isAllowedAppArmorAnnotation(value));
        });
    }
    for (const value of ["unconfined", "runtime/defaults", "docker-default"]) {
        it(`refuses ${JSON.stringify(value)}`, () => {
            assertOne(
                check(podSecurityRule, annotated(value)),
                "annotation container.apparmor.security.beta.kubernetes.io/app",
                "appArmorProfile",
            );
        });
    }
});

describe("security rules: one pod spec, every pod rule", () => {
    it("finds nothing in a hardened pod spec, and names each broken rule", () => {
        assert.deepStrictEqual(podSpecViolations(hardenedPodSpec(), "app", "llm-gateway"), []);
        const bad = hardenedPodSpec();
        bad.containers[0].securityContext.privileged = true;
        delete bad.containers[0].readinessProbe;
        bad.volumes[0].emptyDir = {};
        const found = podSpecViolations(bad, "app", "llm-gateway");
        assertOne(found, "Pod llm-gateway/app:", "privileged", "PSS baseline privileged");
        assertOne(found, "readinessProbe", "should be set");
        assertOne(found, "emptyDir without sizeLimit");
        assert.strictEqual(found.length, 3, found.join("\n"));
    });

    it("accepts the platform's restricted security contexts (what the workload builder writes)", () => {
        const spec = {
            ...hardenedPodSpec(),
            securityContext: restrictedPodSecurityContext(),
            initContainers: [],
            containers: [
                {
                    ...hardenedContainer(),
                    securityContext: restrictedContainerSecurityContext(20000, [
                        ...allowedCapabilities,
                    ]),
                },
            ],
        };
        assert.deepStrictEqual(podSpecViolations(spec), []);
        assert.deepStrictEqual(
            podSpecViolations({ ...spec, securityContext: restrictedPodSecurityContext(1000) }),
            [],
            "the container's own UID wins over the pod's",
        );
        assertOne(
            podSpecViolations({
                ...spec,
                containers: [
                    {
                        ...hardenedContainer(),
                        securityContext: restrictedContainerSecurityContext(1000),
                    },
                ],
            }),
            "runAsUser",
            "got 1000",
        );
    });
});

describe("security rules: NSA/CIS extras", () => {
    it("requires a read-only root filesystem on every container, init containers included", () => {
        assert.deepStrictEqual(check(containerHardeningRule, workload("Deployment")), []);
        const r = deploymentWith(
            (p) => (p.initContainers[0].securityContext.readOnlyRootFilesystem = false),
        );
        assertOne(
            check(containerHardeningRule, r),
            "initContainers[0].securityContext.readOnlyRootFilesystem",
        );
    });

    it("requires UID and GID ≥ 10001, a container override included", () => {
        assertOne(
            check(
                containerHardeningRule,
                deploymentWith((p) => (p.securityContext.runAsUser = 1000)),
            ),
            "runAsUser",
            "got 1000",
        );
        assertOne(
            check(
                containerHardeningRule,
                deploymentWith((p) => (p.containers[0].securityContext.runAsGroup = 10000)),
            ),
            "containers[0].securityContext.runAsGroup",
        );
        assertOne(
            check(
                containerHardeningRule,
                deploymentWith((p) => delete p.securityContext.runAsGroup),
            ),
            "runAsGroup",
            "unset",
        );
    });

    it("requires a sizeLimit on every emptyDir, and a whole-number UID", () => {
        assertOne(
            check(
                containerHardeningRule,
                deploymentWith((p) => delete p.volumes[0].emptyDir.sizeLimit),
            ),
            'spec.template.spec.volumes[0] ("tmp") is an emptyDir without sizeLimit',
        );
        assertOne(
            check(
                containerHardeningRule,
                deploymentWith((p) => (p.securityContext.runAsUser = 10001.5)),
            ),
            "runAsUser",
            "got 10001.5",
        );
    });

    it("requires automountServiceAccountToken false at pod level", () => {
        assert.deepStrictEqual(check(serviceAccountTokenRule, workload("Deployment")), []);
        assertOne(
            check(
                serviceAccountTokenRule,
                deploymentWith((p) => delete p.automountServiceAccountToken),
            ),
            "spec.template.spec.automountServiceAccountToken",
        );
    });

    it("lets a pod keep its token only with a non-empty reason, and lists the exception", () => {
        const annotated = (reason: string) => {
            const r = deploymentWith((p) => delete p.automountServiceAccountToken);
            (r.inputs as any).spec.template.metadata.annotations = {
                "secure-llm-platform.io/needs-api-token": reason,
            };
            return r;
        };
        assert.deepStrictEqual(
            check(serviceAccountTokenRule, annotated("watches ConfigMaps for rails")),
            [],
        );
        assertOne(
            check(exceptionsRule, annotated("watches ConfigMaps for rails")),
            "watches ConfigMaps for rails",
        );
        assertOne(check(serviceAccountTokenRule, annotated("  ")), "annotation is empty");
        assert.deepStrictEqual(check(exceptionsRule, workload("Deployment")), []);
    });

    it("requires cpu and memory requests and limits (mandatory), ephemeral-storage (advisory)", () => {
        assert.deepStrictEqual(check(resourceLimitsRule, workload("Deployment")), []);
        assertOne(
            check(
                resourceLimitsRule,
                deploymentWith((p) => delete p.initContainers[0].resources.limits.memory),
            ),
            "initContainers[0].resources.limits.memory",
        );
        assert.deepStrictEqual(check(ephemeralStorageRule, workload("Deployment")), []);
        assertOne(
            check(
                ephemeralStorageRule,
                deploymentWith(
                    (p) => delete p.containers[0].resources.requests["ephemeral-storage"],
                ),
            ),
            "requests.ephemeral-storage",
        );
        assert.strictEqual(ephemeralStorageRule.severity, "advisory");
    });

    it("asks for liveness and readiness probes on long-running containers only", () => {
        assert.deepStrictEqual(check(probesRule, workload("Deployment")), []);
        assertOne(
            check(
                probesRule,
                deploymentWith((p) => delete p.containers[0].readinessProbe),
            ),
            "containers[0].readinessProbe",
        );
        const job = workload("Job", {
            ...hardenedPodSpec(),
            containers: [{ ...hardenedContainer(), livenessProbe: undefined }],
        });
        assert.deepStrictEqual(check(probesRule, job), []);
        const runsToCompletion = workload("Pod", {
            ...hardenedPodSpec(),
            restartPolicy: "Never",
            containers: [{ ...hardenedContainer(), livenessProbe: undefined }],
        });
        assert.deepStrictEqual(check(probesRule, runsToCompletion), []);
    });

    it("refuses Secrets in env and credential-looking literals, never quoting the value", () => {
        assert.deepStrictEqual(check(noSecretsInEnvRule, workload("Deployment")), []);
        const byRef = deploymentWith((p) =>
            p.containers[0].env.push({
                name: "DB",
                valueFrom: { secretKeyRef: { name: "db", key: "pw" } },
            }),
        );
        assertOne(check(noSecretsInEnvRule, byRef), "env[1] (DB)", "secretKeyRef");
        const literal = deploymentWith((p) =>
            p.containers[0].env.push({ name: "HF_TOKEN", value: "hf_supersecret" }),
        );
        const found = check(noSecretsInEnvRule, literal);
        assertOne(found, "HF_TOKEN", "literal");
        assert.ok(
            found.every((m) => !m.includes("hf_supersecret")),
            "a finding must not quote the secret",
        );
        assertOne(
            check(
                noSecretsInEnvRule,
                deploymentWith((p) => (p.containers[0].envFrom = [{ secretRef: { name: "s" } }])),
            ),
            "envFrom[0].secretRef",
        );
        assertOne(
            check(
                noSecretsInEnvRule,
                deploymentWith((p) =>
                    p.containers[0].env.push({
                        name: "DB_PASSWORD",
                        valueFrom: { configMapKeyRef: { name: "c", key: "k" } },
                    }),
                ),
            ),
            "DB_PASSWORD",
            "ConfigMap",
        );
    });

    it("lets file pointers and token-count settings through", () => {
        const r = deploymentWith((p) =>
            p.containers[0].env.push(
                { name: "HF_TOKEN_FILE", value: "/var/run/secrets/hf/token" },
                { name: "MAX_TOKENS", value: "4096" },
                { name: "TOKENIZER", value: "llama" },
            ),
        );
        assert.deepStrictEqual(check(noSecretsInEnvRule, r), []);
    });

    it("requires images pinned by digest, and from an allowed registry when a list is given", () => {
        assert.deepStrictEqual(check(imagePinningRule, workload("Deployment")), []);
        assertOne(
            check(
                imagePinningRule,
                deploymentWith((p) => (p.initContainers[0].image = "ghcr.io/x/y:1.0")),
            ),
            "initContainers[0].image",
            "pinned by digest",
        );
        const allowed: RuleContext = {
            environment: "dev",
            allowedRegistries: ["ghcr.io/secure-llm-platform"],
        };
        assert.deepStrictEqual(check(imagePinningRule, workload("Deployment"), allowed), []);
        const foreign = deploymentWith(
            (p) =>
                (p.containers[0].image = pinnedImage.replace(
                    "ghcr.io/secure-llm-platform",
                    "ghcr.io/elsewhere",
                )),
        );
        assertOne(check(imagePinningRule, foreign, allowed), "not from an allowed registry");
        assert.strictEqual(imageRegistry("nginx@sha256:abc"), "docker.io");
        assert.strictEqual(imageRegistry("localhost:5000/x"), "localhost:5000");
    });

    it("exempts workloads in privileged system namespaces from pod hardening but lists them", () => {
        const pod = deploymentWith((p) => (p.hostNetwork = true)).inputs as any;
        const inKata = workload("DaemonSet", pod.spec.template.spec, "kata-system");
        assert.deepStrictEqual(check(podSecurityRule, inKata), []);
        assertOne(
            check(privilegedWorkloadRule, inKata),
            "privileged namespace kata-system",
            "hostNetwork",
        );
        assert.deepStrictEqual(check(privilegedWorkloadRule, workload("DaemonSet")), []);
        // Digest pinning still applies there.
        pod.spec.template.spec.containers[0].image = "ghcr.io/kata/kata-deploy:3.26.0";
        assertOne(
            check(imagePinningRule, workload("DaemonSet", pod.spec.template.spec, "kata-system")),
            "pinned by digest",
        );
    });
});

describe("security rules: RBAC", () => {
    const role = (rules: any[], kind = "ClusterRole") =>
        k8s("rbac.authorization.k8s.io/v1", kind, {
            metadata: { name: "r", namespace: kind === "Role" ? "ns" : undefined },
            rules,
        });
    const fine = role([{ apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list"] }]);

    it("refuses wildcards in verbs, resources, apiGroups and URLs", () => {
        assert.deepStrictEqual(check(rbacWildcardRule, fine), []);
        for (const field of ["verbs", "resources", "apiGroups"]) {
            const rule: Record<string, string[]> = {
                apiGroups: [""],
                resources: ["pods"],
                verbs: ["get"],
            };
            rule[field] = ["*"];
            assertOne(
                check(rbacWildcardRule, role([rule], "Role")),
                `rules[0].${field} contains a wildcard`,
            );
        }
        assertOne(
            check(rbacWildcardRule, role([{ nonResourceURLs: ["/metrics/*"], verbs: ["get"] }])),
            "nonResourceURLs",
        );
    });

    it("refuses escalate, bind and impersonate", () => {
        assert.deepStrictEqual(check(rbacEscalationRule, fine), []);
        assertOne(
            check(
                rbacEscalationRule,
                role([{ apiGroups: [""], resources: ["users"], verbs: ["impersonate"] }]),
            ),
            "grants impersonate",
        );
    });

    it("lists roles that read Secrets (advisory)", () => {
        assert.deepStrictEqual(check(rbacSecretsReadRule, fine), []);
        assertOne(
            check(
                rbacSecretsReadRule,
                role([{ apiGroups: [""], resources: ["secrets"], verbs: ["list"] }]),
            ),
            "can read Secrets",
        );
        assert.strictEqual(rbacSecretsReadRule.severity, "advisory");
    });

    it("refuses cluster-admin bindings unless the config asked for one", () => {
        const binding = (annotations?: Record<string, string>) =>
            k8s("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", {
                metadata: { name: "b", annotations },
                roleRef: {
                    apiGroup: "rbac.authorization.k8s.io",
                    kind: "ClusterRole",
                    name: "cluster-admin",
                },
                subjects: [{ kind: "Group", name: "ops" }],
            });
        assertOne(
            check(clusterAdminBindingRule, binding()),
            "ClusterRoleBinding b",
            "cluster-admin",
        );
        assert.deepStrictEqual(
            check(
                clusterAdminBindingRule,
                binding({ "secure-llm-platform.io/requested-by-config": "true" }),
            ),
            [],
        );
        assertOne(
            check(
                exceptionsRule,
                binding({ "secure-llm-platform.io/requested-by-config": "true" }),
            ),
            "cluster-admin",
        );
        const view = binding();
        (view.inputs as any).roleRef.name = "view";
        assert.deepStrictEqual(check(clusterAdminBindingRule, view), []);
    });
});

describe("security rules: namespaces and Services", () => {
    const ns = (labels: Record<string, string>, annotations?: Record<string, string>) =>
        k8s("v1", "Namespace", { metadata: { name: "n", labels, annotations } });
    const restricted = {
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/audit": "restricted",
        "pod-security.kubernetes.io/warn": "restricted",
    };

    it("requires enforce, audit and warn Pod Security labels", () => {
        assert.deepStrictEqual(check(namespacePodSecurityRule, ns(restricted)), []);
        const noWarn: Record<string, string> = { ...restricted };
        delete noWarn["pod-security.kubernetes.io/warn"];
        assertOne(
            check(namespacePodSecurityRule, ns(noWarn)),
            'metadata.labels["pod-security.kubernetes.io/warn"]',
            "unset",
        );
        assertOne(
            check(
                namespacePodSecurityRule,
                ns({ ...restricted, "pod-security.kubernetes.io/audit": "strict" }),
            ),
            '"strict"',
        );
    });

    it("allows privileged only with a reason", () => {
        const privileged = { ...restricted, "pod-security.kubernetes.io/enforce": "privileged" };
        assertOne(check(namespacePodSecurityRule, ns(privileged)), "privileged-reason");
        assertOne(
            check(
                namespacePodSecurityRule,
                ns(privileged, { "secure-llm-platform.io/privileged-reason": "" }),
            ),
            "privileged-reason",
        );
        assert.deepStrictEqual(
            check(
                namespacePodSecurityRule,
                ns(privileged, {
                    "secure-llm-platform.io/privileged-reason":
                        "kata-deploy installs the runtime on hosts",
                }),
            ),
            [],
        );
    });

    const svc = (type: string, annotations?: Record<string, string>) =>
        k8s("v1", "Service", {
            metadata: { name: "gw", namespace: "llm-gateway", annotations },
            spec: { type, ports: [{ port: 443 }] },
        });

    it("refuses public LoadBalancers unless internal or public by config", () => {
        assertOne(
            check(privateLoadBalancerRule, svc("LoadBalancer")),
            "Service llm-gateway/gw",
            "oci-load-balancer-internal",
        );
        assert.deepStrictEqual(
            check(
                privateLoadBalancerRule,
                svc("LoadBalancer", {
                    "service.beta.kubernetes.io/oci-load-balancer-internal": "true",
                }),
            ),
            [],
        );
        assert.deepStrictEqual(
            check(
                privateLoadBalancerRule,
                svc("LoadBalancer", {
                    "oci-network-load-balancer.oraclecloud.com/internal": "true",
                }),
            ),
            [],
        );
        assert.deepStrictEqual(
            check(
                privateLoadBalancerRule,
                svc("LoadBalancer", { "secure-llm-platform.io/public-by-config": "true" }),
            ),
            [],
        );
        assertOne(
            check(
                exceptionsRule,
                svc("LoadBalancer", { "secure-llm-platform.io/public-by-config": "true" }),
            ),
            "public load balancer",
        );
        assert.deepStrictEqual(check(privateLoadBalancerRule, svc("ClusterIP")), []);
    });

    it("flags NodePort Services (advisory)", () => {
        assertOne(check(noNodePortRule, svc("NodePort")), "NodePort");
        assert.deepStrictEqual(check(noNodePortRule, svc("ClusterIP")), []);
    });
});

describe("security rules: the rule set", () => {
    it("has unique ids and a description for every rule", () => {
        const ids = rules.map((r) => r.id);
        assert.strictEqual(new Set(ids).size, ids.length);
        assert.ok(rules.every((r) => r.description.length > 20));
    });

    it("ignores patches and Helm releases", () => {
        const patch = { ...workload("Deployment"), type: "kubernetes:apps/v1:DeploymentPatch" };
        const release = {
            type: "kubernetes:helm.sh/v3:Release",
            name: "r",
            inputs: { chart: "x" },
        };
        assert.deepStrictEqual(evaluateResources([patch, release], ctx), []);
    });
});
