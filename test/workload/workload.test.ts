import { strict as assert } from "assert";
import { catalog } from "../../modules/k8s/catalog";
import {
    BaselineViolationError,
    HardenedWorkload,
    HardenedWorkloadArgs,
    ContainerSpec,
    buildPodSpec,
    podSpecViolations,
} from "../../modules/k8s/workload";
import { recordedOutputs, recordedResources, resetRecords, settle } from "../../tools/plan/mocks";

const digest = `sha256:${"ab".repeat(32)}`;

function main(overrides: Partial<ContainerSpec> = {}): ContainerSpec {
    return {
        name: "app",
        image: { repository: "registry.example/app", tag: "1.0", digest },
        resources: {
            requests: { cpu: "100m", memory: "64Mi", ephemeralStorage: "64Mi" },
            limits: { cpu: "500m", memory: "128Mi", ephemeralStorage: "64Mi" },
        },
        probes: {
            readiness: { path: "/healthz", port: "http" },
            liveness: { path: "/healthz", port: "http" },
        },
        ...overrides,
    };
}

function args(overrides: Partial<HardenedWorkloadArgs> = {}): HardenedWorkloadArgs {
    return {
        workload: catalog.gateway,
        containers: [main()],
        priorityClassName: "slp-serving",
        ...overrides,
    };
}

/** The violation messages a builder call is refused with. */
function refused(a: HardenedWorkloadArgs): string {
    try {
        buildPodSpec(a);
    } catch (e) {
        assert.ok(e instanceof BaselineViolationError, `unexpected error ${String(e)}`);
        return e.message;
    }
    assert.fail("expected the workload to be refused");
}

describe("hardened workload builder", () => {
    it("produces a pod spec that meets Pod Security restricted and the platform baseline", () => {
        const spec = buildPodSpec(args()) as Record<string, any>;
        assert.deepEqual(podSpecViolations(spec), []);
        assert.equal(spec.automountServiceAccountToken, false);
        assert.equal(
            spec.serviceAccountName,
            "gateway",
            "own ServiceAccount named after the workload",
        );
        assert.deepEqual(spec.securityContext.seccompProfile, { type: "RuntimeDefault" });
        assert.ok(spec.securityContext.runAsUser >= 10001);
        const c = spec.containers[0];
        assert.equal(c.securityContext.readOnlyRootFilesystem, true);
        assert.equal(c.securityContext.allowPrivilegeEscalation, false);
        assert.deepEqual(c.securityContext.capabilities.drop, ["ALL"]);
        assert.match(c.image, /@sha256:[0-9a-f]{64}$/);
        assert.equal(c.resources.limits["ephemeral-storage"], "64Mi");
        // Read-only root: /tmp is a size-limited emptyDir.
        const tmp = spec.volumes.find((v: any) => v.name === "tmp");
        assert.ok(tmp.emptyDir.sizeLimit);
        assert.ok(c.volumeMounts.some((m: any) => m.mountPath === "/tmp" && m.name === "tmp"));
        assert.deepEqual(
            spec.topologySpreadConstraints.map((t: any) => t.topologyKey),
            ["kubernetes.io/hostname", "topology.kubernetes.io/zone"],
        );
        assert.equal(spec.priorityClassName, "slp-serving");
        assert.deepEqual(
            c.ports,
            [{ name: "http", containerPort: 8080, protocol: "TCP" }],
            "catalog ports",
        );
    });

    it("mounts volumes read-only unless a mount says otherwise", () => {
        const spec = buildPodSpec(
            args({
                containers: [main({ mounts: [{ name: "conf", mountPath: "/etc/conf" }] })],
                volumes: [{ name: "conf", configMap: { name: "c" } }],
            }),
        ) as Record<string, any>;
        assert.equal(spec.containers[0].volumeMounts[0].readOnly, true);
    });

    it("allows NET_BIND_SERVICE, the only capability restricted permits", () => {
        const spec = buildPodSpec(
            args({
                containers: [main({ securityContext: { addCapabilities: ["NET_BIND_SERVICE"] } })],
            }),
        );
        assert.deepEqual(podSpecViolations(spec as Record<string, any>), []);
    });

    const refusals: [string, () => HardenedWorkloadArgs, RegExp][] = [
        [
            "a privileged container",
            () => args({ containers: [main({ securityContext: { privileged: true } })] }),
            /containers\[0\]\.securityContext\.privileged \(container "app"\) must not be true \(PSS baseline privileged\)/,
        ],
        [
            "a root container",
            () => args({ containers: [main({ securityContext: { runAsUser: 0 } })] }),
            /containers\[0\]\.securityContext\.runAsUser \(container "app"\) must not be 0/,
        ],
        [
            "a pod UID below 10001",
            () => args({ uid: 1000 }),
            /runAsUser \(container "app"\) must be a fixed id ≥ 10001.*got 1000/,
        ],
        [
            "a fractional pod UID",
            () => args({ uid: 10001.5 }),
            /runAsUser \(container "app"\) must be a fixed id ≥ 10001.*got 10001\.5/,
        ],
        [
            "privilege escalation",
            () =>
                args({
                    containers: [main({ securityContext: { allowPrivilegeEscalation: true } })],
                }),
            /allowPrivilegeEscalation/,
        ],
        [
            "a writable root filesystem",
            () =>
                args({
                    containers: [main({ securityContext: { readOnlyRootFilesystem: false } })],
                }),
            /readOnlyRootFilesystem \(container "app"\) must be true/,
        ],
        [
            "an added SYS_ADMIN capability",
            () =>
                args({
                    containers: [main({ securityContext: { addCapabilities: ["SYS_ADMIN"] } })],
                }),
            /adds SYS_ADMIN; only NET_BIND_SERVICE is allowed/,
        ],
        [
            "an image without digest",
            () =>
                args({
                    containers: [main({ image: { repository: "r/app", tag: "1", digest: "" } })],
                }),
            /not pinned by digest/,
        ],
        [
            "an image with a tag in the repository",
            () =>
                args({
                    containers: [main({ image: { repository: "r/app:latest", tag: "1", digest } })],
                }),
            /bare repository/,
        ],
        [
            "missing limits",
            () =>
                args({
                    containers: [
                        main({
                            resources: {
                                requests: { cpu: "1", memory: "1Gi", ephemeralStorage: "1Gi" },
                            } as never,
                        }),
                    ],
                }),
            /resources\.limits\.cpu \(container "app"\) must be set/,
        ],
        [
            "a main container without probes",
            () => args({ containers: [main({ probes: undefined })] }),
            /readinessProbe \(container "app"\) should be set/,
        ],
        [
            "a credential in env",
            () => args({ containers: [main({ env: { API_KEY: "x" } })] }),
            /API_KEY looks like a credential/,
        ],
        [
            "a hostPath volume",
            () => args({ volumes: [{ name: "host", hostPath: { path: "/" } } as never] }),
            /volume host: kind hostPath is not allowed/,
        ],
        [
            "an emptyDir without size limit",
            () => args({ volumes: [{ name: "scratch", emptyDir: {} } as never] }),
            /volumes\[0\] \("scratch"\) is an emptyDir without sizeLimit/,
        ],
        [
            "a missing priority class",
            () => args({ priorityClassName: "" }),
            /priorityClassName is required/,
        ],
    ];
    for (const [what, make, message] of refusals) {
        it(`refuses ${what}`, () => {
            assert.match(refused(make()), message);
        });
    }

    it("names every violation at once, with the workload", () => {
        const msg = refused(
            args({ uid: 0, containers: [main({ securityContext: { privileged: true } })] }),
        );
        assert.match(msg, /llm-gateway\/gateway/);
        assert.match(msg, /privileged/);
        assert.match(msg, /spec\.securityContext\.runAsUser must not be 0/);
    });

    it("checks specs built elsewhere: host namespaces, hostPath, secrets in env, unpinned images", () => {
        const spec = buildPodSpec(args()) as Record<string, any>;
        const bad = {
            ...spec,
            hostNetwork: true,
            volumes: [...spec.volumes, { name: "h", hostPath: { path: "/var/run" } }],
            containers: [
                {
                    ...spec.containers[0],
                    image: "nginx:latest",
                    env: [{ name: "PW", valueFrom: { secretKeyRef: { name: "s", key: "k" } } }],
                    ports: [{ containerPort: 80, hostPort: 80 }],
                },
            ],
        };
        const v = podSpecViolations(bad).join("\n");
        assert.match(v, /spec\.hostNetwork must be unset or false/);
        assert.match(v, /volumes\[1\] \("h"\) is a hostPath volume/);
        assert.match(v, /env\[0\] \(PW\).*reads a Secret through valueFrom\.secretKeyRef/);
        assert.match(v, /"nginx:latest" must be pinned by digest/);
        assert.match(v, /ports\[0\]\.hostPort .* must be unset or 0/);
    });
});

describe("HardenedWorkload component", () => {
    let rs: ReturnType<typeof recordedResources>;
    before(async () => {
        resetRecords();
        new HardenedWorkload("wl-test", {
            ...args(),
            replicas: 3,
            hpa: { minReplicas: 2, maxReplicas: 4 },
        });
        await settle();
        rs = recordedResources().filter((r) => r.name.startsWith("wl-test"));
    });
    const of = (t: string) => rs.filter((r) => r.type === t);

    it("creates its own ServiceAccount without an automounted token", () => {
        const [sa] = of("kubernetes:core/v1:ServiceAccount");
        assert.equal(sa.inputs.automountServiceAccountToken, false);
        assert.equal((sa.inputs.metadata as any).name, "gateway");
        assert.equal((sa.inputs.metadata as any).namespace, "llm-gateway");
    });

    it("exposes the catalog ports on a ClusterIP Service selecting its pods", () => {
        const [svc] = of("kubernetes:core/v1:Service");
        const spec = svc.inputs.spec as any;
        assert.equal(spec.type, "ClusterIP");
        assert.deepEqual(spec.ports, [
            { name: "http", port: 8080, targetPort: "http", protocol: "TCP" },
        ]);
        assert.deepEqual(spec.selector, catalog.gateway.podLabels);
    });

    it("registers the names of its Deployment, Service and ServiceAccount as outputs", () => {
        const [component] = of("secure-llm-platform:k8s:HardenedWorkload");
        assert.deepEqual(recordedOutputs().get(component.urn), {
            deployment: "gateway",
            service: "gateway",
            serviceAccount: "gateway",
        });
    });

    it("adds a PodDisruptionBudget and an HPA that owns the replica count", () => {
        const [pdb] = of("kubernetes:policy/v1:PodDisruptionBudget");
        assert.equal((pdb.inputs.spec as any).maxUnavailable, 1);
        const [hpa] = of("kubernetes:autoscaling/v2:HorizontalPodAutoscaler");
        assert.equal((hpa.inputs.spec as any).minReplicas, 2);
        assert.equal((hpa.inputs.spec as any).maxReplicas, 4);
        const [dep] = of("kubernetes:apps/v1:Deployment");
        assert.equal((dep.inputs.spec as any).replicas, 2);
        assert.deepEqual(podSpecViolations((dep.inputs.spec as any).template.spec), []);
    });
});
