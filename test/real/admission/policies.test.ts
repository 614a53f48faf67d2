/**
 * The admission policies in the files the offline plan writes, for every stack and cluster, run
 * unmodified by the CEL engine (@bufbuild/cel) with the API server's admission semantics
 * (test/support/admission.ts): each one compiles, every workload the program authors is admitted
 * by them in its namespace, pods that break Pod Security `restricted` are refused in every
 * namespace the policy selects, and promotions of the planned tier objects by the rollout
 * identity are admitted while a forbidden change is refused.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import { labels } from "../../../modules/constants/labels";
import { rolloutTargets } from "../../../modules/constants/rollout";
import { admissionPolicyNames, restrictedRoles } from "../../../modules/k8s/baseline/admission";
import { workloadKinds } from "../../../modules/security/pods";
import { bundleDigest } from "../../../pipelines/bundle";
import { KubeApi, KubeError } from "../../../pipelines/promote/kube";
import { promoteModel, promoteRules } from "../../../pipelines/promote/promote";
import {
    AdmissionEvaluator,
    K8sObject as AdmissionObject,
    clone,
    request,
} from "../../support/admission";
import { repoRoot } from "../support/env";
import { K8sObject, clusters, manifests } from "../support/plan";

const stacks = fs
    .readdirSync(repoRoot)
    .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
    .filter((s): s is string => s !== undefined)
    .sort();

/** The policies the fast suite tests (test/baseline/cel.test.ts, test/kubeflow/rbac.test.ts). */
const tested = new Set<string>([
    admissionPolicyNames.restricted,
    admissionPolicyNames.tenantSandbox,
    "slp-rollout-restart-only",
    "slp-pipeline-sandbox",
]);

const deployer = { username: "pulumi-deployer@example.com", groups: ["platform-admins"] };

const violatingPod = (namespace: string): AdmissionObject => ({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "breaks-restricted", namespace },
    spec: {
        hostPID: true,
        securityContext: { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } },
        containers: [
            {
                name: "c",
                image: "registry.example/x@sha256:00",
                securityContext: {
                    allowPrivilegeEscalation: false,
                    capabilities: { drop: ["ALL"] },
                    procMount: "Unmasked",
                },
            },
        ],
    },
});

/** A promote.ts API client over the planned objects, every write through admission. */
function apiServer(
    ev: AdmissionEvaluator,
    objects: Map<string, AdmissionObject>,
    username: string,
) {
    const write = (p: string, next: AdmissionObject) => {
        const old = objects.get(p)!;
        const r = ev.admit(request("UPDATE", next, { oldObject: old, user: { username } }));
        if (!r.allowed) throw new KubeError(r.status!.code, r.status!.message);
        objects.set(p, next);
        return clone(next);
    };
    const merge = (t: any, patch: any): any => {
        const out = clone(t ?? {});
        for (const [k, v] of Object.entries(patch)) {
            out[k] = v !== null && typeof v === "object" ? merge(out[k], v) : v;
        }
        return out;
    };
    const api: KubeApi = {
        get: async (p) => {
            const o = objects.get(p);
            if (!o) throw new KubeError(404, `${p} not found in the plan`);
            return clone(o) as never;
        },
        put: async (p, body) => write(p, body as AdmissionObject) as never,
        patch: async (p, body) => write(p, merge(objects.get(p), body)) as never,
    };
    return api;
}

describe("admission policies of every planned stack, on the CEL engine", function () {
    this.timeout(30 * 60 * 1000);
    const planned: { stack: string; cluster: string; objects: K8sObject[] }[] = [];

    before(() => {
        assert.ok(stacks.length > 0, "no Pulumi.<stack>.yaml found");
        for (const stack of stacks) {
            for (const cluster of clusters(stack)) {
                planned.push({ stack, cluster, objects: manifests(stack, cluster) });
            }
        }
    });

    const evaluator = (objects: K8sObject[]) =>
        new AdmissionEvaluator(objects as unknown as AdmissionObject[]);

    it("compiles every policy the plan renders, and the fast suite tests each one", () => {
        for (const { stack, cluster, objects } of planned) {
            const names = objects
                .filter((o) => o.kind === "ValidatingAdmissionPolicy")
                .map((o) => o.metadata.name);
            assert.ok(names.includes(admissionPolicyNames.restricted), `${stack}/${cluster}`);
            for (const n of names) {
                assert.ok(tested.has(n), `${stack}/${cluster}: policy ${n} has no test`);
            }
            const ev = evaluator(objects);
            assert.deepEqual(ev.policyNames().sort(), [...names].sort());
            assert.ok(ev.expressionCount() > names.length);
            for (const b of objects.filter((o) => o.kind === "ValidatingAdmissionPolicyBinding")) {
                assert.ok(
                    names.includes((b as any).spec.policyName),
                    `${b.metadata.name} binds nothing`,
                );
            }
        }
    });

    it("admits every workload the program authors, in its namespace", () => {
        let checked = 0;
        for (const { stack, cluster, objects } of planned) {
            const ev = evaluator(objects);
            for (const o of objects.filter((x) => workloadKinds.includes(x.kind))) {
                const r = ev.admit(
                    request("CREATE", o as unknown as AdmissionObject, { user: deployer }),
                );
                assert.ok(
                    r.allowed,
                    `${stack}/${cluster}: ${o.kind} ${o.metadata.namespace}/${o.metadata.name}: ${r.status?.message}`,
                );
                checked++;
            }
        }
        assert.ok(checked > 10, `only ${checked} workloads found`);
    });

    it("refuses a pod breaking restricted in every namespace the policy selects, not in privileged ones", () => {
        for (const { stack, cluster, objects } of planned) {
            const ev = evaluator(objects);
            for (const ns of objects.filter((o) => o.kind === "Namespace")) {
                const nsLabels = (ns.metadata.labels ?? {}) as Record<string, string>;
                const role = nsLabels[labels.namespaceRole];
                const r = ev.admit(request("CREATE", violatingPod(ns.metadata.name)));
                const where = `${stack}/${cluster}: ${ns.metadata.name} (${role})`;
                if (role !== undefined && (restrictedRoles as readonly string[]).includes(role)) {
                    assert.equal(r.allowed, false, where);
                    assert.match(r.status!.message, /slp-restricted-pods/, where);
                } else {
                    assert.ok(
                        !r.denials.some((d) => d.policy === admissionPolicyNames.restricted),
                        where,
                    );
                }
            }
        }
    });

    it("admits promotions of the planned tier objects by the rollout identity, refuses pausing them", async () => {
        let promoted = 0;
        for (const { stack, cluster, objects } of planned) {
            const guard = objects.find(
                (o) =>
                    o.kind === "ValidatingAdmissionPolicy" &&
                    o.metadata.name === "slp-rollout-restart-only",
            );
            if (guard === undefined) {
                continue;
            }
            const identity = /'([^']+)'/.exec(
                (guard as any).spec.matchConditions[0].expression,
            )![1];
            const ev = evaluator(objects);
            const byPath = new Map<string, AdmissionObject>();
            for (const t of Object.values(rolloutTargets)) {
                const cm = objects.find(
                    (o) =>
                        o.kind === "ConfigMap" &&
                        o.metadata.name === t.configMap &&
                        o.metadata.namespace === t.namespace,
                );
                const dep = objects.find(
                    (o) =>
                        o.kind === "Deployment" &&
                        o.metadata.name === t.deployment &&
                        o.metadata.namespace === t.namespace,
                );
                assert.ok(
                    cm && dep,
                    `${stack}/${cluster}: the plan renders no ${t.namespace}/${t.configMap} or ${t.deployment}`,
                );
                byPath.set(
                    `/api/v1/namespaces/${t.namespace}/configmaps/${t.configMap}`,
                    clone(cm) as unknown as AdmissionObject,
                );
                byPath.set(
                    `/apis/apps/v1/namespaces/${t.namespace}/deployments/${t.deployment}`,
                    clone(dep) as unknown as AdmissionObject,
                );
            }
            const api = apiServer(ev, byPath, identity);
            const railsPath = `/api/v1/namespaces/${rolloutTargets.guardrailsRules.namespace}/configmaps/${rolloutTargets.guardrailsRules.configMap}`;
            // A rules change that keeps the deployed code files, as the promotion gate requires.
            const deployed = (byPath.get(railsPath)!.data ?? {}) as Record<string, string>;
            const rules = {
                ...deployed,
                "config.yml": `${deployed["config.yml"] ?? ""}\n# promoted\n`,
            };
            await promoteRules(api, rules, bundleDigest(rules));
            await promoteModel(api, "oci-os://ns/models/next");
            const t = rolloutTargets.guardrailsRules;
            const dep = byPath.get(
                `/apis/apps/v1/namespaces/${t.namespace}/deployments/${t.deployment}`,
            )!;
            const paused = clone(dep) as any;
            paused.spec.paused = true;
            const r = ev.admit(
                request("UPDATE", paused, { oldObject: dep, user: { username: identity } }),
            );
            assert.equal(r.allowed, false, `${stack}/${cluster}`);
            assert.ok(
                ev.admit(request("UPDATE", paused, { oldObject: dep, user: deployer })).allowed,
            );
            promoted++;
        }
        assert.ok(promoted > 0, "no planned cluster has the rollout identity");
    });
});
