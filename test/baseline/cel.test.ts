/**
 * The admission policies' CEL expressions. CEL does not run here, so each expression is translated
 * by a tiny translator that understands exactly the constructs the policies use (`has()`, `.all`,
 * `.exists`, `in [...]`, list `+`, ternaries, boolean operators) and refuses anything else; the
 * translated expression is then evaluated against pods that break one rule each. This checks the
 * logic of the expressions, not CEL's type checker.
 */
import * as assert from "assert";
import {
    CelValidation,
    allowedVolumeSources,
    podVariables,
    restrictedPodValidations,
    sandboxValidation,
} from "../../modules/k8s/baseline/cel";

/** Translates the CEL subset the policies use into a JavaScript expression. */
function translate(cel: string): string {
    let js = cel
        .replace(/\bhas\(/g, "__has(")
        .replace(/\.all\((\w+), /g, ".every(($1) => ")
        .replace(/\.exists\((\w+), /g, ".some(($1) => ")
        .replace(/ \+ \(/g, ".concat(")
        .replace(/([\w.]+) in \[([^\]]*)\]/g, "[$2].includes($1)");
    // Anything the translator does not know stays visible and fails the test.
    for (const unknown of [/ in /, /\.all\(/, /\.exists\(/, / \+ /, /\.size\(/, /\bmatches\(/]) {
        assert.ok(!unknown.test(js), `translator does not handle ${unknown} in: ${cel}`);
    }
    js = js.replace(/__has\(([^()]+)\)/g, "($1 !== undefined)");
    assert.ok(!js.includes("__has("), `translator could not rewrite has() in: ${cel}`);
    return js;
}

type Pod = { spec: Record<string, unknown> };

function evaluate(validation: CelValidation, pod: Pod): boolean {
    const variables: Record<string, unknown> = {};
    for (const v of podVariables) {
        variables[v.name] = new Function(
            "object",
            "variables",
            `return (${translate(v.expression)});`,
        )(pod, variables);
    }
    return new Function("object", "variables", `return (${translate(validation.expression)});`)(
        pod,
        variables,
    ) as boolean;
}

const goodContainer = () => ({
    name: "app",
    image: "registry.example/app@sha256:00",
    securityContext: {
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ["ALL"] },
    },
});

const goodPod = (): Pod => ({
    spec: {
        securityContext: {
            runAsNonRoot: true,
            runAsUser: 10001,
            seccompProfile: { type: "RuntimeDefault" },
        },
        containers: [goodContainer()],
        volumes: [{ name: "tmp", emptyDir: {} }],
    },
});

/** Failing validations of a pod, by id. */
function failures(pod: Pod): string[] {
    return restrictedPodValidations.filter((v) => !evaluate(v, pod)).map((v) => v.id);
}

describe("baseline admission CEL", () => {
    it("admits a pod that meets the restricted profile", () => {
        assert.deepStrictEqual(failures(goodPod()), []);
    });

    const cases: [string, (p: Pod) => void, string][] = [
        ["hostNetwork", (p) => (p.spec.hostNetwork = true), "hostNamespaces"],
        ["hostPID", (p) => (p.spec.hostPID = true), "hostNamespaces"],
        ["hostIPC", (p) => (p.spec.hostIPC = true), "hostNamespaces"],
        [
            "a privileged container",
            (p) => (containers(p)[0].securityContext.privileged = true),
            "privileged",
        ],
        [
            "allowPrivilegeEscalation unset",
            (p) => delete containers(p)[0].securityContext.allowPrivilegeEscalation,
            "allowPrivilegeEscalation",
        ],
        ["runAsNonRoot missing on the pod", (p) => delete podSc(p).runAsNonRoot, "runAsNonRoot"],
        [
            "a container overriding runAsNonRoot to false",
            (p) => (containers(p)[0].securityContext.runAsNonRoot = false),
            "runAsNonRoot",
        ],
        ["runAsUser 0 on the pod", (p) => (podSc(p).runAsUser = 0), "runAsUser"],
        [
            "runAsUser 0 on a container",
            (p) => (containers(p)[0].securityContext.runAsUser = 0),
            "runAsUser",
        ],
        [
            "capabilities not dropped",
            (p) => (containers(p)[0].securityContext.capabilities = { drop: ["NET_RAW"] }),
            "capabilitiesDrop",
        ],
        [
            "SYS_ADMIN added",
            (p) =>
                (containers(p)[0].securityContext.capabilities = {
                    drop: ["ALL"],
                    add: ["SYS_ADMIN"],
                }),
            "capabilitiesAdd",
        ],
        [
            "seccomp Unconfined on the pod",
            (p) => (podSc(p).seccompProfile = { type: "Unconfined" }),
            "seccompPod",
        ],
        ["no seccomp profile anywhere", (p) => delete podSc(p).seccompProfile, "seccompContainers"],
        [
            "seccomp Unconfined on a container",
            (p) => (containers(p)[0].securityContext.seccompProfile = { type: "Unconfined" }),
            "seccompContainers",
        ],
        [
            "a hostPath volume",
            (p) => (p.spec.volumes = [{ name: "h", hostPath: { path: "/" } }]),
            "hostPath",
        ],
        [
            "a hostPort",
            (p) => (containers(p)[0].ports = [{ containerPort: 80, hostPort: 80 }]),
            "hostPorts",
        ],
        [
            "an nfs volume",
            (p) => (p.spec.volumes = [{ name: "n", nfs: { server: "x", path: "/" } }]),
            "volumeTypes",
        ],
        [
            "a privileged init container",
            (p) =>
                (p.spec.initContainers = [
                    {
                        ...goodContainer(),
                        securityContext: { ...goodContainer().securityContext, privileged: true },
                    },
                ]),
            "privileged",
        ],
        [
            "an ephemeral (kubectl debug) container without dropped capabilities",
            (p) =>
                (p.spec.ephemeralContainers = [
                    {
                        name: "debug",
                        image: "busybox",
                        securityContext: { allowPrivilegeEscalation: false },
                    },
                ]),
            "capabilitiesDrop",
        ],
    ];
    for (const [what, mutate, id] of cases) {
        it(`denies ${what} (${id})`, () => {
            const pod = goodPod();
            mutate(pod);
            assert.ok(
                failures(pod).includes(id),
                `expected ${id} to fail, failures: ${failures(pod).join(", ")}`,
            );
        });
    }

    it("accepts seccomp set on every container instead of the pod, and NET_BIND_SERVICE", () => {
        const pod = goodPod();
        delete podSc(pod).seccompProfile;
        containers(pod)[0].securityContext.seccompProfile = { type: "RuntimeDefault" };
        containers(pod)[0].securityContext.capabilities = {
            drop: ["ALL"],
            add: ["NET_BIND_SERVICE"],
        };
        assert.deepStrictEqual(failures(pod), []);
    });

    it("covers every restricted control of REFERENCE.md §9.1", () => {
        const text = restrictedPodValidations.map((v) => v.expression).join("\n");
        for (const field of [
            "hostNetwork",
            "hostPID",
            "hostIPC",
            "privileged",
            "allowPrivilegeEscalation",
            "runAsNonRoot",
            "runAsUser",
            "capabilities.drop",
            "capabilities.add",
            "seccompProfile",
            "hostPath",
            "hostPort",
        ]) {
            assert.ok(text.includes(field), `no validation reads ${field}`);
        }
        assert.ok(!allowedVolumeSources.includes("hostPath" as never));
        // Every message tells the user what to do, and every validation is a denial reason.
        for (const v of restrictedPodValidations) {
            assert.ok(v.message.length > 10 && v.reason === "Forbidden", v.id);
        }
    });

    it("tenant sandbox admits only the Kata RuntimeClasses", () => {
        const v = sandboxValidation(["kata-qemu", "kata-qemu-nvidia-gpu"]);
        const pod = goodPod();
        assert.strictEqual(evaluate(v, pod), false, "no runtimeClassName must be denied");
        pod.spec.runtimeClassName = "runc";
        assert.strictEqual(evaluate(v, pod), false);
        pod.spec.runtimeClassName = "kata-qemu";
        assert.strictEqual(evaluate(v, pod), true);
        pod.spec.runtimeClassName = "kata-qemu-nvidia-gpu";
        assert.strictEqual(evaluate(v, pod), true);
        assert.match(v.message, /kata-qemu/);
    });
});

type Container = { securityContext: Record<string, unknown>; ports?: unknown[] };
function containers(p: Pod): Container[] {
    return p.spec.containers as Container[];
}
function podSc(p: Pod): Record<string, unknown> {
    return p.spec.securityContext as Record<string, unknown>;
}
