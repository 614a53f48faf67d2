/**
 * One owner for what a promotion writes: the pipeline. The program registers the rollout targets
 * with `ignoreChanges` on exactly the promoted fields (modules/constants/rollout.ts), so the next
 * `pulumi up` keeps a promotion, and a rollback (promoting the previous rule set or model) really
 * restores it.
 *
 * `nextUp` models what one `pulumi up` does to a live object, from the inputs and options the
 * program registered under the mocks: the engine diffs new inputs against the last ones with the
 * ignored paths taken from the last ones (no diff, no call); on an update the provider's server-side
 * apply sends the inputs with each ignored path set to its live value (pulumi-kubernetes
 * `handleSSAIgnoreFields`) and leaves fields it does not declare, like the restart annotation, to
 * their managers; a change under `replaceOnChanges` recreates the object from the inputs.
 */
import { strict as assert } from "assert";
import { createHash } from "crypto";
import type { ClusterConfig } from "../../modules/config";
import {
    promotedFields,
    railsCodeDigestAnnotation,
    rolloutTargets,
} from "../../modules/constants/rollout";
import { LlmTiers } from "../../modules/k8s/llm";
import { RuleBundle, bundleDigest } from "../../pipelines/bundle";
import type { KubeApi, KubeObject } from "../../pipelines/promote/kube";
import {
    promoteModel,
    promoteRules,
    promotedDigestAnnotation,
    restartAnnotation,
} from "../../pipelines/promote/promote";
import { RecordedResource, resetRecords, settle } from "../../tools/plan/mocks";
import { fakeCloud, parse, under } from "./helpers";
import { stackRaw } from "../support/stacks";

type Obj = Record<string, any>;
const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v));

/** `a.b["c.d/e"]` → `["a", "b", "c.d/e"]`. */
function parsePath(p: string): string[] {
    return [...p.matchAll(/([^.[\]"]+)|\["([^"]+)"\]/g)].map((m) => m[1] ?? m[2]);
}
function getPath(o: Obj, p: string): unknown {
    return parsePath(p).reduce<any>((v, k) => (v === undefined ? undefined : v[k]), o);
}
function setPath(o: Obj, p: string, value: unknown): void {
    const keys = parsePath(p);
    let v = o;
    for (const k of keys.slice(0, -1)) v = v[k] ??= {};
    if (value === undefined) delete v[keys[keys.length - 1]];
    else v[keys[keys.length - 1]] = clone(value);
}
/** Server-side apply of `applied` onto `live`: declared fields set, others kept. */
function merge(live: any, applied: any): any {
    if (typeof live !== "object" || live === null || Array.isArray(live)) return clone(applied);
    if (typeof applied !== "object" || applied === null || Array.isArray(applied))
        return clone(applied);
    const out = clone(live);
    for (const [k, v] of Object.entries(applied)) out[k] = merge(live[k], v);
    return out;
}

interface Registered {
    readonly inputs: Obj;
    readonly ignoreChanges: readonly string[];
    readonly replaceOnChanges: readonly string[];
}

/** The live object after one `pulumi up` from `prev` (last registration) to `next`. */
function nextUp(prev: Registered, next: Registered, live: Obj): Obj {
    if (next.replaceOnChanges.some((p) => getPath(prev.inputs, p) !== getPath(next.inputs, p))) {
        return clone(next.inputs);
    }
    const effective = clone(next.inputs);
    for (const p of next.ignoreChanges) setPath(effective, p, getPath(prev.inputs, p));
    if (JSON.stringify(effective) === JSON.stringify(prev.inputs)) return live;
    const applied = clone(next.inputs);
    for (const p of next.ignoreChanges) {
        const v = getPath(live, p);
        if (v !== undefined) setPath(applied, p, v);
    }
    // An ignored map taken from live replaces the declared one whole (keys a promotion dropped
    // stay dropped), so it is set after the merge.
    const out = merge(live, applied);
    for (const p of next.ignoreChanges) {
        const v = getPath(live, p);
        if (v !== undefined) setPath(out, p, v);
    }
    return out;
}

/** An API server over live objects, with the verbs promote.ts uses. */
function cluster(objects: Record<string, Obj>): KubeApi {
    let version = 1;
    const at = (p: string) => {
        const o = objects[p];
        if (!o) throw new Error(`no object at ${p}`);
        return o;
    };
    return {
        get: async (p) => clone(at(p)) as KubeObject,
        put: async (p, body: any) => {
            assert.equal(body.metadata.resourceVersion, at(p).metadata.resourceVersion);
            objects[p] = {
                ...clone(body),
                metadata: { ...body.metadata, resourceVersion: `${++version}` },
            };
            return clone(objects[p]) as KubeObject;
        },
        patch: async (p, body) => {
            objects[p] = merge(at(p), body);
            return clone(objects[p]) as KubeObject;
        },
    };
}

const cmPath = (t: { namespace: string; configMap: string }) =>
    `/api/v1/namespaces/${t.namespace}/configmaps/${t.configMap}`;
const deployPath = (t: { namespace: string; deployment: string }) =>
    `/apis/apps/v1/namespaces/${t.namespace}/deployments/${t.deployment}`;

describe("kubeflow: promotions have one owner", () => {
    const rails = rolloutTargets.guardrailsRules;
    const model = rolloutTargets.inferenceModel;
    let rs: RecordedResource[];
    let railsCm: Registered;
    let modelCm: Registered;
    let guardrails: Registered;

    before(async () => {
        resetRecords();
        const c: ClusterConfig = parse(stackRaw("dev")).clusters[0];
        new LlmTiers("own", { cluster: c, environment: "dev", cloud: fakeCloud(c.region) });
        await settle();
        rs = under("own");
        const find = (type: string, ns: string, name: string): Registered => {
            const r = rs.find(
                (x) =>
                    x.type === type &&
                    (x.inputs.metadata as any)?.namespace === ns &&
                    (x.inputs.metadata as any)?.name === name,
            );
            assert.ok(r, `${type} ${ns}/${name} registered`);
            return {
                ...r,
                inputs: {
                    ...r.inputs,
                    metadata: { ...(r.inputs.metadata as Obj), resourceVersion: "1" },
                },
            };
        };
        railsCm = find("kubernetes:core/v1:ConfigMap", rails.namespace, rails.configMap);
        modelCm = find("kubernetes:core/v1:ConfigMap", model.namespace, model.configMap);
        guardrails = find("kubernetes:apps/v1:Deployment", rails.namespace, rails.deployment);
    });

    /** The cluster right after `pulumi up` created the targets. */
    function created(): Record<string, Obj> {
        return {
            [cmPath(rails)]: clone(railsCm.inputs),
            [deployPath(rails)]: clone(guardrails.inputs),
            [cmPath(model)]: clone(modelCm.inputs),
            [deployPath(model)]: { metadata: { name: model.deployment }, spec: { template: {} } },
        };
    }

    it("registers the targets with ignoreChanges on exactly the promoted fields", () => {
        assert.deepEqual(railsCm.ignoreChanges, ["data"]);
        assert.deepEqual(modelCm.ignoreChanges, ["data.source"]);
        assert.deepEqual(guardrails.ignoreChanges, [], "the Deployment stays Pulumi's");
        assert.deepEqual([...promotedFields.guardrailsRules], ["data"]);
    });

    it("a promoted rule set, with a file added and one dropped, survives the next pulumi up", async () => {
        const live = created();
        const api = cluster(live);
        const deployed = live[cmPath(rails)].data as Record<string, string>;
        const kept = Object.fromEntries(
            Object.entries(deployed).filter(([k]) => k !== "prompts.yml"),
        );
        const candidate: RuleBundle = {
            ...kept,
            "rails__extra.co": 'define user ask extra\n  "extra"\n',
        };
        const before = clone(live);
        await promoteRules(api, candidate, bundleDigest(candidate), new Date(1000));

        // The pipeline changed only the promoted data, its digest and the restart annotation.
        assert.deepEqual(live[cmPath(rails)].data, candidate);
        const cm = live[cmPath(rails)];
        assert.deepEqual(
            {
                ...cm,
                data: before[cmPath(rails)].data,
                metadata: { ...cm.metadata, resourceVersion: "1" },
            },
            merge(before[cmPath(rails)], {
                metadata: { annotations: { [promotedDigestAnnotation]: bundleDigest(candidate) } },
            }),
        );
        const restarted =
            live[deployPath(rails)].spec.template.metadata.annotations[restartAnnotation];
        assert.equal(restarted, new Date(1000).toISOString());

        // Same program: no diff, nothing applied.
        let after = nextUp(railsCm, railsCm, clone(cm));
        assert.deepEqual(after.data, candidate);
        // A change elsewhere in the object: an update, which still keeps the promoted data.
        const relabelled = clone(railsCm);
        relabelled.inputs.metadata.labels = { ...relabelled.inputs.metadata.labels, extra: "x" };
        after = nextUp(railsCm, relabelled, clone(cm));
        assert.equal(after.metadata.labels.extra, "x");
        assert.deepEqual(after.data, candidate, "the update keeps what was promoted");
        // The repo's rails changed (checksum annotation on the pods): the Deployment rolls, and the
        // pipeline's restart annotation and the promoted rules stay.
        const rolled = clone(guardrails);
        rolled.inputs.spec.template.metadata.annotations["secure-llm-platform.io/config-checksum"] =
            "changed";
        const dep = nextUp(guardrails, rolled, clone(live[deployPath(rails)]));
        assert.equal(dep.spec.template.metadata.annotations[restartAnnotation], restarted);
        // The pods mount the whole ConfigMap: the added file runs, the dropped one is gone.
        const vol = guardrails.inputs.spec.template.spec.volumes.find(
            (v: any) => v.name === "rails",
        );
        assert.equal(vol.configMap.name, rails.configMap);
        assert.equal(vol.configMap.items, undefined, "no fixed item list");
    });

    it("without ignoreChanges the next pulumi up would put the repository's rules back", async () => {
        const live = created();
        const candidate = { ...live[cmPath(rails)].data, "rails__extra.co": "define flow x\n" };
        await promoteRules(cluster(live), candidate, bundleDigest(candidate));
        const naive = { ...railsCm, ignoreChanges: [] };
        const relabelled = clone(naive);
        relabelled.inputs.metadata.labels = { ...relabelled.inputs.metadata.labels, extra: "x" };
        const after = nextUp(naive, relabelled, clone(live[cmPath(rails)]));
        assert.equal(after.data["rails__extra.co"], "define flow x\n");
        assert.notDeepEqual(after.data, railsCm.inputs.data);
        // SSA keeps a key the program never declared, but reverts every key it does declare.
        const changed = { ...live[cmPath(rails)].data, "config.yml": "changed: true\n" };
        await promoteRules(cluster(live), changed, bundleDigest(changed));
        const reverted = nextUp(naive, relabelled, clone(live[cmPath(rails)]));
        assert.equal(reverted.data["config.yml"], railsCm.inputs.data["config.yml"]);
    });

    it("a rolled-back rule set is what runs again, and survives the next pulumi up", async () => {
        const live = created();
        const api = cluster(live);
        const original = clone(live[cmPath(rails)].data) as RuleBundle;
        const candidate = { ...original, "rails__extra.co": "define flow extra\n" };
        await promoteRules(api, candidate, bundleDigest(candidate), new Date(1000));
        // Rollback: promote the previous rule set (evaluated again like any other).
        await promoteRules(api, original, bundleDigest(original), new Date(2000));
        assert.deepEqual(live[cmPath(rails)].data, original);
        assert.equal(live[cmPath(rails)].data["rails__extra.co"], undefined);
        assert.equal(
            live[deployPath(rails)].spec.template.metadata.annotations[restartAnnotation],
            new Date(2000).toISOString(),
            "the pods restart onto the rolled-back rules",
        );
        const after = nextUp(railsCm, railsCm, clone(live[cmPath(rails)]));
        assert.deepEqual(after.data, original);
    });

    it("a promoted model survives the next pulumi up; a rollback restores the previous one", async () => {
        const live = created();
        const api = cluster(live);
        const first = live[cmPath(model)].data.source;
        const next = "oci-os://ns/models/llama-tuned-2";
        await promoteModel(api, next, new Date(1000));
        assert.equal(live[cmPath(model)].data.source, next);
        // The stack changes the served name: applied, and the promoted source stays.
        const renamed = clone(modelCm);
        renamed.inputs.data.name = "renamed";
        let after = nextUp(modelCm, renamed, clone(live[cmPath(model)]));
        assert.deepEqual(after.data, { source: next, name: "renamed" });
        await promoteModel(api, first, new Date(2000));
        after = nextUp(modelCm, modelCm, clone(live[cmPath(model)]));
        assert.equal(after.data.source, first);
    });

    it("code ships through the repository: a changed actions.py recreates the rails ConfigMap", () => {
        const path = `metadata.annotations["${railsCodeDigestAnnotation}"]`;
        assert.deepEqual(railsCm.replaceOnChanges, [path]);
        const py = Object.keys(railsCm.inputs.data).filter((k) => k.endsWith(".py"));
        assert.deepEqual(py, ["actions.py"]);
        const h = createHash("sha256")
            .update("actions.py")
            .update("\0")
            .update(railsCm.inputs.data["actions.py"])
            .update("\0")
            .digest("hex");
        assert.equal(getPath(railsCm.inputs, path), h);
        const changed = clone(railsCm);
        setPath(changed.inputs, path, "other");
        changed.inputs.data["actions.py"] = "# new code\n";
        const promoted = { ...clone(railsCm.inputs), data: { "config.yml": "promoted\n" } };
        const after = nextUp(railsCm, changed, promoted);
        assert.deepEqual(after.data, changed.inputs.data, "the repository's rails, whole");
    });
});
