/**
 * The rollout identity's permissions, checked as data (no mocks): exactly the two rollout targets,
 * by name, with the verbs promotion uses, and none of what a reviewer fears (secrets, exec, RBAC,
 * wildcards). The admission policy that keeps the identity to rolling out runs, as the component
 * renders it, on a real CEL engine with the API server's admission semantics
 * (test/support/admission.ts): promotions made by pipelines/promote/promote.ts are admitted, every
 * other change the identity could make with its verbs is refused, and nobody else is affected.
 */
import { strict as assert } from "assert";
import { modelSourceKey, rolloutTargets } from "../../modules/constants/rollout";
import { Kubeflow } from "../../modules/k8s/kubeflow";
import { sandboxLabel } from "../../modules/k8s/kubeflow/namespace";
import { sandboxGuardName } from "../../modules/k8s/kubeflow/sandbox";
import {
    PolicyRule,
    pipelineRuntimeRole,
    promotedDigestAnnotation,
    rbacViolations,
    restartAnnotation,
    rolloutGuardValidations,
    rolloutRoles,
} from "../../modules/k8s/kubeflow/rbac";
import { bundleDigest } from "../../pipelines/bundle";
import { KubeApi, KubeError } from "../../pipelines/promote/kube";
import * as promote from "../../pipelines/promote/promote";
import { toManifest } from "../../tools/plan/manifests";
import { settle } from "../../tools/plan/mocks";
import {
    AdmissionAttributes,
    AdmissionEvaluator,
    AdmissionResult,
    K8sObject,
    UserInfo,
    clone,
    request,
} from "../support/admission";
import { fakeCloud, parse, rawWith, under } from "./helpers";

describe("kubeflow: rollout identity RBAC", () => {
    const roles = rolloutRoles();

    it("has one Role per rollout target namespace and nothing else", () => {
        assert.deepEqual(
            roles.map((r) => r.namespace).sort(),
            [...new Set(Object.values(rolloutTargets).map((t) => t.namespace))].sort(),
        );
    });

    it("names every object it may touch: the rules ConfigMaps/model reference and the tier Deployments", () => {
        const ns = [...new Set(Object.values(rolloutTargets).map((t) => t.namespace))];
        for (const namespace of ns) {
            const here = Object.values(rolloutTargets).filter((t) => t.namespace === namespace);
            const t = {
                namespace,
                configMaps: here.map((x) => x.configMap),
                deployments: here.map((x) => x.deployment),
            };
            const role = roles.find((r) => r.namespace === t.namespace)!;
            assert.equal(
                role.rules.length,
                2,
                `${t.namespace}: exactly a ConfigMap rule and a Deployment rule`,
            );
            const cm = role.rules.find((r) => r.resources.includes("configmaps"))!;
            const dep = role.rules.find((r) => r.resources.includes("deployments"))!;
            assert.deepEqual(cm.apiGroups, [""]);
            assert.deepEqual(cm.resources, ["configmaps"]);
            assert.deepEqual(cm.resourceNames, t.configMaps);
            assert.deepEqual([...cm.verbs].sort(), ["get", "update"]);
            assert.deepEqual(dep.apiGroups, ["apps"]);
            assert.deepEqual(dep.resources, ["deployments"]);
            assert.deepEqual(dep.resourceNames, t.deployments);
            assert.deepEqual(
                [...dep.verbs].sort(),
                ["get", "patch"],
                "no update: a restart is a patch",
            );
        }
        // The guardrails namespace's Role names the live and the candidate tier, nothing else.
        const g = roles.find((r) => r.namespace === rolloutTargets.guardrailsRules.namespace)!;
        assert.deepEqual(
            g.rules.map((r) => r.resourceNames),
            [
                ["guardrails-rails", "guardrails-rails-candidate"],
                ["guardrails", "candidate-guardrails"],
            ],
        );
    });

    it("grants no secrets, exec, RBAC, create/delete or wildcards", () => {
        for (const r of roles) {
            assert.deepEqual(rbacViolations(r.rules), [], r.namespace);
            for (const rule of r.rules) {
                assert.ok(
                    rule.resourceNames && rule.resourceNames.length > 0,
                    "every rule is limited by resourceNames",
                );
            }
        }
    });

    it("the runtime Role in the pipeline namespace only lets Argo report step results", () => {
        const rt = pipelineRuntimeRole("ml-pipelines");
        assert.equal(rt.namespace, "ml-pipelines");
        assert.deepEqual(rt.rules, [
            {
                apiGroups: ["argoproj.io"],
                resources: ["workflowtaskresults"],
                verbs: ["create", "patch"],
            },
        ]);
        assert.deepEqual(rbacViolations(rt.rules, ["workflowtaskresults"]), []);
    });

    it("the violation check catches every kind of over-grant (so the tests above can fail)", () => {
        const bad: [PolicyRule, RegExp][] = [
            [{ apiGroups: [""], resources: ["secrets"], verbs: ["get"] }, /secrets/],
            [{ apiGroups: [""], resources: ["pods/exec"], verbs: ["create"] }, /pods\/exec/],
            [
                {
                    apiGroups: ["rbac.authorization.k8s.io"],
                    resources: ["roles"],
                    verbs: ["escalate"],
                },
                /rbac|escalate/,
            ],
            [
                {
                    apiGroups: ["rbac.authorization.k8s.io"],
                    resources: ["rolebindings"],
                    verbs: ["bind"],
                },
                /bind/,
            ],
            [{ apiGroups: [""], resources: ["users"], verbs: ["impersonate"] }, /impersonate/],
            [{ apiGroups: ["*"], resources: ["configmaps"], verbs: ["get"] }, /\*/],
            [{ apiGroups: [""], resources: ["*"], verbs: ["get"] }, /\*/],
            [{ apiGroups: ["apps"], resources: ["deployments"], verbs: ["*"] }, /\*/],
            [{ apiGroups: [""], resources: ["configmaps"], verbs: ["delete"] }, /delete/],
            [{ apiGroups: [""], resources: ["serviceaccounts/token"], verbs: ["create"] }, /token/],
        ];
        for (const [rule, re] of bad) {
            const v = rbacViolations([rule]);
            assert.ok(
                v.length > 0 && v.some((m) => re.test(m)),
                `not caught: ${JSON.stringify(rule)}`,
            );
        }
    });
});

const rails = rolloutTargets.guardrailsRules;
const model = rolloutTargets.inferenceModel;
const candidate = rolloutTargets.guardrailsCandidate;
const pipelineNamespace = "ml-pipelines";
const rollout: UserInfo = {
    username: `system:serviceaccount:${pipelineNamespace}:slp-rollout`,
    groups: ["system:serviceaccounts", `system:serviceaccounts:${pipelineNamespace}`],
};
const controller: UserInfo = {
    username: "system:serviceaccount:kube-system:deployment-controller",
    groups: ["system:serviceaccounts"],
};
const admin: UserInfo = { username: "platform-admin@example.com", groups: ["platform-admins"] };

type Obj = Record<string, any>;

/** A tier Deployment as the API server holds it (defaulted, with server-managed metadata). */
function deployment(t: { namespace: string; deployment: string }): K8sObject {
    return {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: {
            name: t.deployment,
            namespace: t.namespace,
            uid: "0b5c7e5e-0000-4000-8000-000000000001",
            resourceVersion: "41",
            generation: 3,
            creationTimestamp: "2026-01-01T00:00:00Z",
            labels: {
                "app.kubernetes.io/name": t.deployment,
                "app.kubernetes.io/managed-by": "pulumi",
            },
            annotations: { "deployment.kubernetes.io/revision": "3" },
            managedFields: [{ manager: "pulumi-kubernetes", operation: "Apply" }],
        },
        spec: {
            replicas: 2,
            selector: { matchLabels: { "app.kubernetes.io/name": t.deployment } },
            strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
            minReadySeconds: 10,
            revisionHistoryLimit: 10,
            progressDeadlineSeconds: 600,
            template: {
                metadata: {
                    labels: { "app.kubernetes.io/name": t.deployment },
                    annotations: { "secure-llm-platform.io/config-checksum": "abc" },
                },
                spec: {
                    serviceAccountName: t.deployment,
                    automountServiceAccountToken: false,
                    securityContext: {
                        runAsNonRoot: true,
                        runAsUser: 10001,
                        seccompProfile: { type: "RuntimeDefault" },
                    },
                    containers: [
                        {
                            name: t.deployment,
                            image: "registry.example/tier@sha256:1111",
                            args: ["--config", "/etc/rails"],
                            securityContext: {
                                allowPrivilegeEscalation: false,
                                readOnlyRootFilesystem: true,
                                capabilities: { drop: ["ALL"] },
                            },
                            volumeMounts: [
                                { name: "rails", mountPath: "/etc/rails", readOnly: true },
                            ],
                        },
                    ],
                    volumes: [{ name: "rails", configMap: { name: "guardrails-rails" } }],
                },
            },
        },
        status: { replicas: 2, readyReplicas: 2 },
    };
}

function configMap(namespace: string, name: string, data: Record<string, string>): K8sObject {
    return {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: {
            name,
            namespace,
            uid: "0b5c7e5e-0000-4000-8000-000000000002",
            resourceVersion: "7",
            creationTimestamp: "2026-01-01T00:00:00Z",
            labels: { "app.kubernetes.io/managed-by": "pulumi" },
            managedFields: [{ manager: "pulumi-kubernetes", operation: "Apply" }],
        },
        data,
    };
}

const railsConfigMap = () =>
    configMap(rails.namespace, rails.configMap, {
        "config.yml": "rails: {input: {flows: [self check input]}}\n",
        "prompts.yml": "prompts: []\n",
        "actions.py": "def x(): pass\n",
    });
const modelConfigMap = () =>
    configMap(model.namespace, model.configMap, {
        [modelSourceKey]: "oci-os://ns/models/llama-old",
        "served-model-name": "llama",
    });

/** RFC 7386 merge of a patch without lists: what a strategic merge patch of maps does. */
function mergePatch(target: Obj, patch: Obj): Obj {
    const out = clone(target);
    for (const [k, v] of Object.entries(patch)) {
        assert.ok(!Array.isArray(v), "list merge keys are not modelled; build the full object");
        if (v === null) delete out[k];
        else if (typeof v === "object") out[k] = mergePatch(out[k] ?? {}, v);
        else out[k] = v;
    }
    return out;
}

/** The API server's write path for promote.ts: every write goes through admission. */
function apiServer(ev: AdmissionEvaluator, objects: Record<string, K8sObject>, user: UserInfo) {
    const admitted: AdmissionResult[] = [];
    const write = (p: string, next: K8sObject) => {
        const old = objects[p];
        assert.ok(old, `no object at ${p}`);
        const r = ev.admit(request("UPDATE", next, { oldObject: old, user }));
        admitted.push(r);
        if (!r.allowed) throw new KubeError(r.status!.code, r.status!.message);
        objects[p] = {
            ...next,
            metadata: {
                ...next.metadata,
                resourceVersion: String(Number(old.metadata.resourceVersion) + 1),
            },
        };
        return clone(objects[p]);
    };
    const api: KubeApi = {
        get: async (p) => {
            if (!objects[p]) throw new KubeError(404, `${p} not found`);
            return clone(objects[p]) as never;
        },
        put: async (p, body) => write(p, body as K8sObject) as never,
        patch: async (p, body) =>
            write(p, mergePatch(objects[p], body as Obj) as K8sObject) as never,
    };
    return { api, admitted };
}

const cmPath = (t: typeof rails | typeof model | typeof candidate) =>
    `/api/v1/namespaces/${t.namespace}/configmaps/${t.configMap}`;
const depPath = (t: typeof rails | typeof model | typeof candidate) =>
    `/apis/apps/v1/namespaces/${t.namespace}/deployments/${t.deployment}`;

function liveObjects(): Record<string, K8sObject> {
    return {
        [cmPath(rails)]: railsConfigMap(),
        [depPath(rails)]: deployment(rails),
        [cmPath(model)]: modelConfigMap(),
        [depPath(model)]: deployment(model),
        [cmPath(candidate)]: configMap(
            candidate.namespace,
            candidate.configMap,
            railsConfigMap().data as Record<string, string>,
        ),
        [depPath(candidate)]: deployment(candidate),
    };
}

/** Ids of the guard's validations that refused `r`. */
function refusedBy(r: AdmissionResult): string[] {
    return [
        ...new Set(
            r.denials.map((d) => {
                assert.equal(d.evaluation, "deny", `evaluation error: ${d.message}`);
                return rolloutGuardValidations[d.validation!].id;
            }),
        ),
    ].sort();
}

/** An update of `old` to `change(copy)` by `user`. */
function update(old: K8sObject, change: (o: Obj) => void, user = rollout): AdmissionAttributes {
    const next = clone(old) as Obj;
    change(next);
    return request("UPDATE", next as K8sObject, { oldObject: old, user });
}

const restarted = (at: string) => (d: Obj) =>
    (d.spec.template.metadata.annotations[restartAnnotation] = at);

describe("kubeflow: the rollout identity can only roll out (admission policy, real CEL engine)", () => {
    let ev: AdmissionEvaluator;

    before(async () => {
        const c = parse(rawWith({ enabled: true })).clusters[0];
        new Kubeflow("kf-guard", { cluster: c, environment: "dev", cloud: fakeCloud(c.region) });
        await settle();
        const objects = under("kf-guard")
            .filter((r) => /:ValidatingAdmissionPolicy(Binding)?$/.test(r.type))
            .map((r) => toManifest(r) as unknown as K8sObject)
            // The rollout guard; the pipeline sandbox guard matches pods only (kubeflow/sandbox.ts).
            .filter((o) => o.metadata.name === "slp-rollout-restart-only");
        ev = new AdmissionEvaluator(objects);
        assert.deepEqual(ev.policyNames(), ["slp-rollout-restart-only"]);
        const spec = objects.find((o) => o.kind === "ValidatingAdmissionPolicy")!.spec as Obj;
        assert.equal(
            spec.matchConditions[0].expression,
            `request.userInfo.username == '${rollout.username}'`,
        );
        assert.equal(spec.validations.length, rolloutGuardValidations.length);
    });

    it("uses the promotion annotation promote.ts writes", () => {
        assert.equal(promote.promotedDigestAnnotation, promotedDigestAnnotation);
        assert.equal(promote.restartAnnotation, restartAnnotation);
    });

    it("admits a rules promotion and a model promotion as promote.ts makes them", async () => {
        const objects = liveObjects();
        const { api, admitted } = apiServer(ev, objects, rollout);
        const bundle = {
            "config.yml": "rails: {input: {flows: [self check input, jailbreak]}}\n",
            "prompts.yml": "prompts: [x]\n",
            "flows.co": "define flow jailbreak\n",
            "actions.py": "def x(): pass\n",
        };
        await promote.promoteRules(
            api,
            bundle,
            bundleDigest(bundle),
            new Date("2026-02-01T10:00:00Z"),
        );
        await promote.promoteModel(
            api,
            "oci-os://ns/models/llama-new",
            new Date("2026-02-01T11:00:00Z"),
        );
        assert.equal(admitted.length, 4, "two ConfigMap updates and two restarts");
        assert.ok(admitted.every((r) => r.allowed));
        assert.deepEqual(objects[cmPath(rails)].data, bundle);
        assert.equal(
            (objects[cmPath(model)].data as Obj)[modelSourceKey],
            "oci-os://ns/models/llama-new",
        );
        assert.equal(
            (objects[depPath(model)].spec as Obj).template.metadata.annotations[restartAnnotation],
            "2026-02-01T11:00:00.000Z",
        );
        // A second promotion changes the same fields again.
        await promote.promoteModel(
            api,
            "oci-os://ns/models/llama-newer",
            new Date("2026-02-02T00:00:00Z"),
        );
        assert.ok(admitted.every((r) => r.allowed));
    });

    it("admits the evaluation step's candidate staging as promote.ts makes it, and nothing beyond", async () => {
        const objects = liveObjects();
        const { api, admitted } = apiServer(ev, objects, rollout);
        const bundle = {
            "config.yml": "rails: {input: {flows: [self check input, stricter]}}\n",
            "stricter.co": "define flow stricter\n",
            "actions.py": "def x(): pass\n",
        };
        const digest = await promote.stageCandidate(api, bundle, new Date("2026-02-01T10:00:00Z"));
        assert.equal(admitted.length, 2, "the candidate ConfigMap update and its restart");
        assert.ok(admitted.every((r) => r.allowed));
        assert.deepEqual(objects[cmPath(candidate)].data, bundle);
        assert.equal(
            (objects[cmPath(candidate)].metadata.annotations as Obj)[promotedDigestAnnotation],
            digest,
        );
        assert.deepEqual(objects[cmPath(rails)].data, railsConfigMap().data, "the live rules stay");
        // Scaling the candidate (or the live tier) is not a restart: refused like any spec change.
        for (const t of [candidate, rails]) {
            const r = ev.admit(update(deployment(t), (d) => (d.spec.replicas = 5)));
            assert.deepEqual(refusedBy(r), ["deploymentSpec"], t.deployment);
        }
        // The candidate ConfigMap's name is a target in the guardrails namespace only.
        const elsewhere = ev.admit(
            update(
                configMap(model.namespace, candidate.configMap, { a: "b" }),
                (c) => (c.data.a = "c"),
            ),
        );
        assert.deepEqual(refusedBy(elsewhere), ["targetsOnly"]);
        // binaryData on the candidate, as on the live rules, is refused.
        const binary = ev.admit(
            update(objects[cmPath(candidate)], (c) => (c.binaryData = { "x.bin": "AA==" })),
        );
        assert.deepEqual(refusedBy(binary), ["configMapData"]);
    });

    it("admits kubectl rollout restart and server-side apply of the same change", () => {
        const d = deployment(rails);
        assert.ok(ev.admit(update(d, restarted("2026-02-01T10:00:00+02:00"))).allowed);
        const ssa = update(d, (o) => {
            restarted("2026-02-01T10:00:00Z")(o);
            o.metadata.managedFields.push({ manager: "kubectl-rollout", operation: "Update" });
            o.metadata.generation = 4;
            o.metadata.resourceVersion = "42";
        });
        assert.ok(ev.admit(ssa).allowed, "server-managed metadata may differ");
    });

    const deploymentChanges: [string, (d: Obj) => void, string[]][] = [
        ["spec.paused", (d) => (d.spec.paused = true), ["deploymentSpec"]],
        [
            "maxUnavailable 100%",
            (d) => (d.spec.strategy.rollingUpdate.maxUnavailable = "100%"),
            ["deploymentSpec"],
        ],
        ["strategy Recreate", (d) => (d.spec.strategy = { type: "Recreate" }), ["deploymentSpec"]],
        ["minReadySeconds", (d) => (d.spec.minReadySeconds = 3600), ["deploymentSpec"]],
        ["replicas", (d) => (d.spec.replicas = 0), ["deploymentSpec"]],
        [
            "progressDeadlineSeconds removed",
            (d) => delete d.spec.progressDeadlineSeconds,
            ["deploymentSpec"],
        ],
        [
            "the image",
            (d) => (d.spec.template.spec.containers[0].image = "evil.example/x:latest"),
            ["podTemplate"],
        ],
        [
            "the command",
            (d) => (d.spec.template.spec.containers[0].command = ["sh", "-c", "curl x"]),
            ["podTemplate"],
        ],
        [
            "the securityContext",
            (d) =>
                (d.spec.template.spec.containers[0].securityContext.allowPrivilegeEscalation = true),
            ["podTemplate"],
        ],
        [
            "the pod securityContext",
            (d) => (d.spec.template.spec.securityContext.runAsUser = 0),
            ["podTemplate"],
        ],
        [
            "a volume",
            (d) => d.spec.template.spec.volumes.push({ name: "h", hostPath: { path: "/" } }),
            ["podTemplate"],
        ],
        [
            "the ServiceAccount",
            (d) => (d.spec.template.spec.serviceAccountName = "default"),
            ["podTemplate"],
        ],
        [
            "a sidecar",
            (d) => d.spec.template.spec.containers.push({ name: "s", image: "x" }),
            ["podTemplate"],
        ],
        ["a pod label", (d) => (d.spec.template.metadata.labels.extra = "x"), ["podTemplate"]],
        [
            "the config checksum",
            (d) =>
                (d.spec.template.metadata.annotations["secure-llm-platform.io/config-checksum"] =
                    "forged"),
            ["podTemplate"],
        ],
        [
            "an AppArmor annotation",
            (d) =>
                (d.spec.template.metadata.annotations[
                    "container.apparmor.security.beta.kubernetes.io/x"
                ] = "unconfined"),
            ["podTemplate"],
        ],
        [
            "the restart annotation plus the image",
            (d) => {
                restarted("2026-02-01T10:00:00Z")(d);
                d.spec.template.spec.containers[0].image = "evil.example/x:latest";
            },
            ["podTemplate"],
        ],
        ["a restart annotation that is no time", restarted("now; rm -rf"), ["restartTime"]],
        ["a Deployment label", (d) => (d.metadata.labels.owner = "me"), ["metadata"]],
        ["a Deployment annotation", (d) => (d.metadata.annotations.note = "x"), ["metadata"]],
        ["a finalizer", (d) => (d.metadata.finalizers = ["x/y"]), ["metadata"]],
        [
            "an owner",
            (d) =>
                (d.metadata.ownerReferences = [
                    { apiVersion: "v1", kind: "ConfigMap", name: "x", uid: "u" },
                ]),
            ["metadata"],
        ],
    ];
    for (const [what, change, by] of deploymentChanges) {
        it(`refuses a Deployment change of ${what}, and only for the rollout identity`, () => {
            for (const t of [rails, model, candidate]) {
                const r = ev.admit(update(deployment(t), change));
                assert.equal(r.allowed, false, `${t.deployment}: admitted`);
                assert.deepEqual(refusedBy(r), by, t.deployment);
                assert.equal(r.status!.code, 403);
                for (const other of [controller, admin]) {
                    assert.ok(
                        ev.admit(update(deployment(t), change, other)).allowed,
                        other.username,
                    );
                }
            }
        });
    }

    const configMapChanges: [string, () => K8sObject, (c: Obj) => void, string[]][] = [
        ["a label of the rules", railsConfigMap, (c) => (c.metadata.labels.x = "y"), ["metadata"]],
        [
            "another annotation of the rules",
            railsConfigMap,
            (c) => (c.metadata.annotations = { x: "y" }),
            ["metadata"],
        ],
        [
            "binaryData of the rules",
            railsConfigMap,
            (c) => (c.binaryData = { "x.bin": "AAAA" }),
            ["configMapData"],
        ],
        ["immutable rules", railsConfigMap, (c) => (c.immutable = true), ["configMapData"]],
        [
            "another key of the model reference",
            modelConfigMap,
            (c) => (c.data["served-model-name"] = "other"),
            ["modelReference"],
        ],
        [
            "a new key of the model reference",
            modelConfigMap,
            (c) => (c.data.extra = "x"),
            ["modelReference"],
        ],
        [
            "removing the model source",
            modelConfigMap,
            (c) => delete c.data[modelSourceKey],
            ["modelReference"],
        ],
    ];
    for (const [what, make, change, by] of configMapChanges) {
        it(`refuses ${what}, and only for the rollout identity`, () => {
            const r = ev.admit(update(make(), change));
            assert.equal(r.allowed, false);
            assert.deepEqual(refusedBy(r), by);
            assert.ok(ev.admit(update(make(), change, admin)).allowed);
        });
    }

    it("admits the promotion's own ConfigMap changes written by hand (data, digest annotation)", () => {
        const r = update(railsConfigMap(), (c) => {
            c.data = { "config.yml": "x" };
            c.metadata.annotations = { [promotedDigestAnnotation]: "abc" };
        });
        assert.ok(ev.admit(r).allowed);
        assert.ok(
            ev.admit(update(modelConfigMap(), (c) => (c.data[modelSourceKey] = "oci-os://ns/m/n")))
                .allowed,
        );
    });

    it("refuses other objects, creates, deletes and subresources", () => {
        const gateway = { namespace: "llm-gateway", deployment: "gateway" };
        const cases: [string, AdmissionAttributes, string[]][] = [
            [
                "another Deployment",
                update(deployment(gateway), restarted("2026-02-01T10:00:00Z")),
                ["targetsOnly"],
            ],
            [
                "the rules Deployment's ConfigMap under another name",
                update(
                    configMap(rails.namespace, "guardrails-config", { a: "b" }),
                    (c) => (c.data.a = "c"),
                ),
                ["targetsOnly"],
            ],
            [
                "the model ConfigMap's name in the rules namespace",
                update(
                    configMap(rails.namespace, model.configMap, { a: "b" }),
                    (c) => (c.data.a = "c"),
                ),
                ["targetsOnly"],
            ],
            [
                "creating a Deployment",
                request("CREATE", deployment(rails), { user: rollout }),
                ["updateOnly"],
            ],
            [
                "deleting a Deployment",
                request("DELETE", deployment(rails), { user: rollout }),
                ["updateOnly"],
            ],
            [
                "deleting the rules",
                request("DELETE", railsConfigMap(), { user: rollout }),
                ["updateOnly"],
            ],
        ];
        for (const [what, attrs, by] of cases) {
            const r = ev.admit(attrs);
            assert.equal(r.allowed, false, what);
            assert.deepEqual(refusedBy(r), by, what);
        }
        const scale: AdmissionAttributes = {
            ...update(deployment(rails), (d) => (d.spec.replicas = 0)),
            subResource: "scale",
        };
        const r = ev.admit(scale);
        assert.equal(r.allowed, false);
        assert.deepEqual(refusedBy(r), ["updateOnly"]);
    });
});

describe("kubeflow: the pipeline sandbox guard on the CEL engine", () => {
    let ev: AdmissionEvaluator;
    let ns: string;
    const kata = "kata-qemu-nvidia-gpu";
    const pod = (labels: Record<string, string>, runtimeClassName?: string): K8sObject => ({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "fine-tune-step", namespace: ns, labels },
        spec: {
            ...(runtimeClassName === undefined ? {} : { runtimeClassName }),
            containers: [{ name: "main", image: "registry.example/trainer@sha256:00" }],
        },
    });
    const sandboxed = { [sandboxLabel]: "true" };

    before(async () => {
        const c = parse(rawWith({ enabled: true })).clusters[0];
        const kf = new Kubeflow("kf-sandbox", {
            cluster: c,
            environment: "dev",
            cloud: fakeCloud(c.region),
        });
        await settle();
        const objects = under("kf-sandbox")
            .filter((r) => /:(ValidatingAdmissionPolicy(Binding)?|Namespace)$/.test(r.type))
            .map((r) => toManifest(r) as unknown as K8sObject)
            .filter((o) => o.kind === "Namespace" || o.metadata.name === sandboxGuardName);
        ns = kf.pipelineNamespace!;
        ev = new AdmissionEvaluator(objects);
        assert.deepEqual(ev.policyNames(), [sandboxGuardName]);
    });

    it("refuses a sandbox-labelled step pod without the Kata GPU RuntimeClass", () => {
        const r = ev.admit(request("CREATE", pod(sandboxed)));
        assert.equal(r.allowed, false);
        assert.match(r.status!.message, new RegExp(`must run under RuntimeClass ${kata}`));
    });

    it("refuses one under another RuntimeClass", () => {
        assert.equal(ev.admit(request("CREATE", pod(sandboxed, "runc"))).allowed, false);
    });

    it("admits it under the Kata GPU RuntimeClass, and leaves unlabelled step pods alone", () => {
        assert.equal(ev.admit(request("CREATE", pod(sandboxed, kata))).allowed, true);
        assert.equal(ev.admit(request("CREATE", pod({}))).allowed, true);
    });
});
