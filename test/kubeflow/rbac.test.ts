/**
 * The rollout identity's permissions, checked as data (no mocks): exactly the two rollout targets,
 * by name, with the verbs promotion uses, and none of what a reviewer fears (secrets, exec, RBAC,
 * wildcards). The restart-only admission policy's CEL is translated to JavaScript for the few
 * constructs it uses and evaluated against Deployment updates.
 */
import { strict as assert } from "assert";
import { rolloutTargets } from "../../modules/constants/rollout";
import {
    PolicyRule,
    pipelineRuntimeRole,
    rbacViolations,
    restartAnnotation,
    rolloutGuard,
    rolloutRoles,
} from "../../modules/k8s/kubeflow/rbac";

describe("kubeflow: rollout identity RBAC", () => {
    const roles = rolloutRoles();

    it("has one Role per rollout target namespace and nothing else", () => {
        assert.deepEqual(
            roles.map((r) => r.namespace).sort(),
            Object.values(rolloutTargets)
                .map((t) => t.namespace)
                .sort(),
        );
    });

    it("names every object it may touch: the rules ConfigMap/model reference and the tier Deployment", () => {
        for (const t of Object.values(rolloutTargets)) {
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
            assert.deepEqual(cm.resourceNames, [t.configMap]);
            assert.deepEqual([...cm.verbs].sort(), ["get", "update"]);
            assert.deepEqual(dep.apiGroups, ["apps"]);
            assert.deepEqual(dep.resources, ["deployments"]);
            assert.deepEqual(dep.resourceNames, [t.deployment]);
            assert.deepEqual(
                [...dep.verbs].sort(),
                ["get", "patch"],
                "no update: a restart is a patch",
            );
        }
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

/** Translates the CEL the guard uses (has, ternary, ==, in, [k], .all) to JavaScript. */
function translate(cel: string): string {
    const js = cel
        .replace(/\bhas\(([\w.]+)\)/g, "($1 !== undefined)")
        .replace(/([\w.]+)\.all\((\w+), /g, "Object.keys($1).every(($2) => ")
        .replace(/(\w+) in ([\w.]+)/g, "($1 in $2)")
        .replace(/([\w.[\]]+|'[^']*') == ([\w.[\]]+|'[^']*')/g, "__eq($1, $2)");
    for (const unknown of [/[^=!]==[^=]/, /\.exists\(/, /\.size\(/, /\bmatches\(/]) {
        assert.ok(!unknown.test(js), `translator does not handle ${unknown} in: ${cel} → ${js}`);
    }
    return js;
}

const eq = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

function admits(oldObject: any, object: any): boolean {
    const g = rolloutGuard();
    const variables: Record<string, unknown> = {};
    for (const v of g.variables) {
        variables[v.name] = new Function(
            "object",
            "oldObject",
            "variables",
            "__eq",
            `return (${translate(v.expression)});`,
        )(object, oldObject, variables, eq);
    }
    return g.validations.every((v) =>
        new Function(
            "object",
            "oldObject",
            "variables",
            "__eq",
            `return (${translate(v.expression)});`,
        )(object, oldObject, variables, eq),
    );
}

describe("kubeflow: restart-only admission policy", () => {
    const deployment = () => ({
        metadata: { name: "guardrails", namespace: "llm-guardrails" },
        spec: {
            replicas: 2,
            selector: { matchLabels: { "app.kubernetes.io/name": "guardrails" } },
            template: {
                metadata: {
                    labels: { "app.kubernetes.io/name": "guardrails" },
                    annotations: { "secure-llm-platform.io/config-checksum": "abc" },
                },
                spec: {
                    serviceAccountName: "guardrails",
                    containers: [
                        { name: "guardrails", image: "registry.example/guardrails@sha256:1" },
                    ],
                },
            },
        },
    });

    it("admits a restart (only the restart annotation changes)", () => {
        const next = deployment();
        (next.spec.template.metadata.annotations as Record<string, string>)[restartAnnotation] =
            "2026-01-01T00:00:00Z";
        assert.ok(admits(deployment(), next));
        const again = JSON.parse(JSON.stringify(next));
        again.spec.template.metadata.annotations[restartAnnotation] = "2026-01-02T00:00:00Z";
        assert.ok(admits(next, again), "a second restart changes the same annotation");
    });

    it("refuses image, ServiceAccount, replicas, label and other annotation changes", () => {
        const changes: ((d: any) => void)[] = [
            (d) => (d.spec.template.spec.containers[0].image = "evil.example/guardrails:latest"),
            (d) => (d.spec.template.spec.serviceAccountName = "default"),
            (d) => d.spec.template.spec.containers.push({ name: "sidecar", image: "x" }),
            (d) => (d.spec.replicas = 0),
            (d) => (d.spec.template.metadata.labels["app.kubernetes.io/name"] = "other"),
            (d) =>
                (d.spec.template.metadata.annotations["secure-llm-platform.io/config-checksum"] =
                    "forged"),
            (d) =>
                delete d.spec.template.metadata.annotations[
                    "secure-llm-platform.io/config-checksum"
                ],
            (d) =>
                (d.spec.template.metadata.annotations[
                    "container.apparmor.security.beta.kubernetes.io/x"
                ] = "unconfined"),
        ];
        for (const change of changes) {
            const next = deployment();
            change(next);
            assert.equal(admits(deployment(), next), false, change.toString());
        }
    });
});
