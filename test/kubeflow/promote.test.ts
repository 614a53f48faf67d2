/**
 * Promotion against an in-memory API server that authorizes every call with the rollout Roles
 * (modules/k8s/kubeflow/rbac.ts) the way Kubernetes RBAC would: so these tests fail if promotion
 * needs a permission the identity does not have, or if the identity is granted one it never uses.
 */
import { strict as assert } from "assert";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import * as http from "http";
import { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import { rolloutTargets } from "../../modules/constants/rollout";
import { rolloutRoles } from "../../modules/k8s/kubeflow/rbac";
import { bundleDigest, parseBundle } from "../../pipelines/bundle";
import { main } from "../../pipelines/cli";
import { KubeApi, KubeError } from "../../pipelines/promote/kube";
import {
    inferenceModelKeys,
    promoteModel,
    promoteRules,
    promotedDigestAnnotation,
    restartAnnotation,
    rolledOut,
    stageCandidate,
    waitForCandidate,
} from "../../pipelines/promote/promote";
import { repoRoot } from "./helpers";

interface Call {
    readonly verb: string;
    readonly path: string;
    readonly body?: any;
}

/** Objects by API path, and every call with the RBAC verb it needs. */
function fakeCluster(objects: Record<string, any>): {
    api: KubeApi;
    calls: Call[];
    used: Set<string>;
} {
    const calls: Call[] = [];
    const used = new Set<string>();
    const roles = rolloutRoles();
    const authorize = (verb: string, p: string) => {
        const m = /^\/(?:api\/v1|apis\/(apps)\/v1)\/namespaces\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(p);
        assert.ok(m, `unexpected API path ${p}`);
        const [, group = "", ns, resource, name] = m;
        const ok = roles.some(
            (r) =>
                r.namespace === ns &&
                r.rules.some((rule) => {
                    const hit =
                        rule.apiGroups.includes(group) &&
                        rule.resources.includes(resource) &&
                        rule.verbs.includes(verb) &&
                        (rule.resourceNames ?? [name]).includes(name);
                    if (hit) used.add(`${ns}/${resource}/${name}/${verb}`);
                    return hit;
                }),
        );
        if (!ok) throw new KubeError(403, `forbidden: ${verb} ${resource}/${name} in ${ns}`);
    };
    const api: KubeApi = {
        get: async (p) => {
            calls.push({ verb: "get", path: p });
            authorize("get", p);
            if (!objects[p]) throw new KubeError(404, `${p} not found`);
            return JSON.parse(JSON.stringify(objects[p]));
        },
        put: async (p, body: any) => {
            calls.push({ verb: "update", path: p, body });
            authorize("update", p);
            assert.equal(
                body.metadata.resourceVersion,
                objects[p].metadata.resourceVersion,
                "optimistic concurrency",
            );
            objects[p] = {
                ...body,
                metadata: {
                    ...body.metadata,
                    resourceVersion: String(Number(body.metadata.resourceVersion) + 1),
                },
            };
            return objects[p];
        },
        patch: async (p, body: any) => {
            calls.push({ verb: "patch", path: p, body });
            authorize("patch", p);
            return objects[p] ?? {};
        },
    };
    return { api, calls, used };
}

const g = rolloutTargets.guardrailsRules;
const inf = rolloutTargets.inferenceModel;
const cand = rolloutTargets.guardrailsCandidate;
const cmPath = (t: typeof g | typeof inf | typeof cand) =>
    `/api/v1/namespaces/${t.namespace}/configmaps/${t.configMap}`;
const depPath = (t: typeof g | typeof inf | typeof cand) =>
    `/apis/apps/v1/namespaces/${t.namespace}/deployments/${t.deployment}`;

function cluster() {
    return fakeCluster({
        [cmPath(g)]: {
            apiVersion: "v1",
            kind: "ConfigMap",
            metadata: {
                name: g.configMap,
                namespace: g.namespace,
                resourceVersion: "7",
                labels: { a: "b" },
            },
            data: { "config.yml": "old", "actions.py": "def x(): pass\n" },
        },
        [depPath(g)]: { metadata: { name: g.deployment } },
        [cmPath(cand)]: {
            metadata: { name: cand.configMap, namespace: cand.namespace, resourceVersion: "2" },
            data: { "config.yml": "old", "actions.py": "def x(): pass\n" },
        },
        [depPath(cand)]: {
            metadata: { name: cand.deployment, generation: 5 },
            spec: { replicas: 1 },
            status: {
                observedGeneration: 5,
                replicas: 1,
                updatedReplicas: 1,
                availableReplicas: 1,
            },
        },
        [cmPath(inf)]: {
            metadata: { name: inf.configMap, namespace: inf.namespace, resourceVersion: "3" },
            data: {
                [inferenceModelKeys.sourceUri]: "oci-os://ns/models/old",
                "served-model-name": "llama",
            },
        },
        [depPath(inf)]: {
            metadata: { name: inf.deployment, generation: 2 },
            spec: { replicas: 2 },
            get status() {
                return stuck.on
                    ? {
                          observedGeneration: 2,
                          replicas: 3,
                          updatedReplicas: 1,
                          availableReplicas: 2,
                      }
                    : {
                          observedGeneration: 2,
                          replicas: 2,
                          updatedReplicas: 2,
                          availableReplicas: 2,
                      };
            },
        },
    });
}

/** When on, the inference Deployment never finishes rolling out. */
const stuck = { on: false };

describe("kubeflow: promotion", () => {
    const candidate = {
        "config.yml": "new",
        "input.co": "define flow f\n",
        "actions.py": "def x(): pass\n",
    };
    const now = new Date("2026-01-01T00:00:00Z");

    it("promotes the evaluated rule set, then restarts the guardrails tier, within the Role", async () => {
        const c = cluster();
        await promoteRules(c.api, candidate, bundleDigest(candidate), now);
        const put = c.calls.find((x) => x.verb === "update")!;
        assert.equal(put.path, cmPath(g));
        assert.deepEqual(put.body.data, candidate);
        assert.equal(
            put.body.metadata.annotations[promotedDigestAnnotation],
            bundleDigest(candidate),
        );
        assert.deepEqual(put.body.metadata.labels, { a: "b" }, "keeps the object's labels");
        const patch = c.calls.find((x) => x.verb === "patch")!;
        assert.equal(patch.path, depPath(g));
        assert.deepEqual(patch.body, {
            spec: {
                template: { metadata: { annotations: { [restartAnnotation]: now.toISOString() } } },
            },
        });
        assert.ok(
            c.calls.indexOf(put) < c.calls.indexOf(patch),
            "restart after the new rules are in place",
        );
    });

    it("refuses a rule set that is not the one evaluated, before writing anything", async () => {
        const c = cluster();
        await assert.rejects(
            promoteRules(
                c.api,
                candidate,
                bundleDigest({ ...candidate, "config.yml": "other" }),
                now,
            ),
            /not the evaluated one/,
        );
        assert.deepEqual(
            c.calls.filter((x) => x.verb !== "get"),
            [],
        );
    });

    it("refuses a rule set that changes code (actions.py): pipelines ship rules, not code", async () => {
        const c = cluster();
        const evil = { ...candidate, "actions.py": "import os\nos.system('curl ...')\n" };
        await assert.rejects(
            promoteRules(c.api, evil, bundleDigest(evil), now),
            /changes code \(actions\.py\)/,
        );
        const added = {
            "config.yml": "x",
            "config.py": "print(1)\n",
            "actions.py": "def x(): pass\n",
        };
        await assert.rejects(promoteRules(c.api, added, bundleDigest(added), now), /config\.py/);
        assert.deepEqual(
            c.calls.filter((x) => x.verb !== "get"),
            [],
        );
    });

    it("points the inference tier at a verified model and keeps the tier's other keys", async () => {
        const c = cluster();
        await promoteModel(c.api, "oci-os://ns/models/llama-3.1-8b/v2", now);
        const put = c.calls.find((x) => x.verb === "update")!;
        assert.equal(put.path, cmPath(inf));
        assert.deepEqual(put.body.data, {
            [inferenceModelKeys.sourceUri]: "oci-os://ns/models/llama-3.1-8b/v2",
            "served-model-name": "llama",
        });
        assert.equal(c.calls.find((x) => x.verb === "patch")!.path, depPath(inf));
    });

    it("refuses a model source that is not an oci-os:// URI", async () => {
        const c = cluster();
        for (const bad of [
            "https://evil.example/model",
            "oci-os://ns",
            "oci-os://ns/bucket/../other",
            "/tmp/model",
        ]) {
            await assert.rejects(promoteModel(c.api, bad, now), /is not oci-os/, bad);
        }
        assert.deepEqual(c.calls, []);
    });

    it("uses every permission the rollout Roles grant, so none is spare", async () => {
        const c = cluster();
        // The evaluation step's calls (evaluate.test.ts runs the whole step on a rolling fake).
        const digest = await stageCandidate(c.api, candidate, now);
        await waitForCandidate(c.api, digest, 1000, 10);
        await promoteRules(c.api, candidate, bundleDigest(candidate), now);
        await promoteModel(c.api, "oci-os://ns/models/m", now);
        const granted = rolloutRoles().flatMap((r) =>
            r.rules.flatMap((rule) =>
                rule.resourceNames!.flatMap((n) =>
                    rule.verbs.map((v) => `${r.namespace}/${rule.resources[0]}/${n}/${v}`),
                ),
            ),
        );
        assert.deepEqual(
            granted.filter((p) => !c.used.has(p)),
            [],
        );
    });

    it("turns the repo's rails directory into a valid rule set (flat ConfigMap keys)", async () => {
        const out: string[] = [];
        const deps = {
            env: {},
            stdout: (l: string) => out.push(l),
            stderr: (l: string) => out.push(l),
        };
        assert.equal(
            await main(["bundle", "--dir", path.join(repoRoot, "guardrails", "default")], deps),
            0,
            out.join("\n"),
        );
        const bundle = parseBundle(out[0]);
        assert.ok(
            bundle["config.yml"] && bundle["rails__input.co"],
            Object.keys(bundle).join(", "),
        );
        assert.deepEqual(
            Object.keys(bundle).filter((k) => !/^[-._a-zA-Z0-9]+$/.test(k)),
            [],
        );
    });

    it("CLI: refuses to promote a model when no KMS key is trusted (verify would have trusted any)", async () => {
        const c = cluster();
        const deps = {
            env: { MODEL_VAULT_TRUSTED_KEY_IDS: " " },
            stdout: () => {},
            stderr: () => {},
            api: () => c.api,
        };
        assert.equal(
            await main(["promote-model", "--source-uri", "oci-os://ns/models/m"], deps),
            1,
        );
        assert.deepEqual(c.calls, []);
    });

    it("CLI: a refused promotion exits 1, an API failure exits 3", async () => {
        const c = cluster();
        const deps = {
            env: { MODEL_VAULT_TRUSTED_KEY_IDS: "ocid1.key.oc1.iad.v.k" },
            stdout: () => {},
            stderr: () => {},
            api: () => c.api,
        };
        const text = JSON.stringify(candidate);
        assert.equal(
            await main(
                ["promote-rules", "--candidate-rules", text, "--expected-sha256", "0".repeat(64)],
                deps,
            ),
            1,
        );
        assert.equal(
            await main(
                [
                    "promote-rules",
                    "--candidate-rules",
                    text,
                    "--expected-sha256",
                    bundleDigest(candidate),
                ],
                deps,
            ),
            0,
        );
        assert.equal(await main(["promote-model", "--source-uri", "https://x"], deps), 1);
        const failing: KubeApi = {
            get: async () => Promise.reject(new KubeError(403, "forbidden")),
            put: async () => ({}),
            patch: async () => ({}),
        };
        assert.equal(
            await main(["promote-model", "--source-uri", "oci-os://ns/b/m"], {
                ...deps,
                api: () => failing,
            }),
            3,
        );
        assert.equal(await main(["promote-model", "--bogus", "x"], deps), 2);
    });

    describe("smoke-model: the promoted model through the guardrails, rolled back on a failed gate", () => {
        let dir: string;
        let guardrails: http.Server;
        let url: string;
        const seen: any[] = [];
        // Like the live rails: "blocks" decides whether attacks get the platform's refusal.
        const live = { blocks: true };
        before(async () => {
            dir = mkdtempSync(path.join(os.tmpdir(), "kf-smoke-"));
            writeFileSync(
                path.join(dir, "a.jsonl"),
                ["a1", "a2"]
                    .map((id) => JSON.stringify({ id, prompt: `ATTACK ${id}`, category: "x" }))
                    .join("\n"),
            );
            writeFileSync(
                path.join(dir, "b.jsonl"),
                JSON.stringify({ id: "b1", prompt: "hello", category: "y" }),
            );
            guardrails = http.createServer((req, res) => {
                let body = "";
                req.on("data", (c) => (body += c));
                req.on("end", () => {
                    const b = JSON.parse(body);
                    seen.push(b);
                    const attack = b.messages[0].content.startsWith("ATTACK");
                    const content =
                        attack && live.blocks ? "I'm sorry, I can't respond to that." : "Sure.";
                    res.writeHead(200, { "content-type": "application/json" }).end(
                        JSON.stringify({ choices: [{ message: { role: "assistant", content } }] }),
                    );
                });
            });
            await new Promise<void>((r) => guardrails.listen(0, "127.0.0.1", r));
            url = `http://127.0.0.1:${(guardrails.address() as AddressInfo).port}`;
        });
        after(async () => {
            await new Promise<void>((r) => guardrails.close(() => r()));
            rmSync(dir, { recursive: true, force: true });
        });

        const rolling = { generation: 2 };
        const done = {
            observedGeneration: 2,
            replicas: 2,
            updatedReplicas: 2,
            availableReplicas: 2,
        };
        const run = async (c: ReturnType<typeof cluster>, extra: string[] = []) => {
            const out: string[] = [];
            const code = await main(
                [
                    "smoke-model",
                    "--source-uri",
                    "oci-os://ns/models/new",
                    "--url",
                    url,
                    "--model",
                    "m",
                    "--attacks",
                    path.join(dir, "a.jsonl"),
                    "--benign",
                    path.join(dir, "b.jsonl"),
                    "--rollout-timeout-seconds",
                    "5",
                    ...extra,
                ],
                {
                    env: { MIN_ATTACK_BLOCK_RATE: "1", MAX_BENIGN_BLOCK_RATE: "0" },
                    stdout: (l) => out.push(l),
                    stderr: (l) => out.push(l),
                    api: () => c.api,
                    pollMs: 20,
                },
            );
            return { code, out: out.join("\n") };
        };
        const promoted = async (c: ReturnType<typeof cluster>) => {
            const prev = path.join(dir, "previous");
            const deps = {
                env: { MODEL_VAULT_TRUSTED_KEY_IDS: "ocid1.key.oc1.iad.v.k" },
                stdout: () => {},
                stderr: () => {},
                api: () => c.api,
            };
            const args = ["--source-uri", "oci-os://ns/models/new", "--previous-source-out", prev];
            assert.equal(await main(["promote-model", ...args], deps), 0);
            return readFileSync(prev, "utf8");
        };
        const source = (c: ReturnType<typeof cluster>) =>
            c.api.get(cmPath(inf)).then((o) => o.data![inferenceModelKeys.sourceUri]);

        it("knows a finished rollout as kubectl rollout status does", () => {
            const d = (status: object) => ({ metadata: rolling, spec: { replicas: 2 }, status });
            assert.equal(rolledOut(d(done)), true);
            assert.equal(rolledOut(d({ ...done, observedGeneration: 1 })), false);
            assert.equal(rolledOut(d({ ...done, updatedReplicas: 1 })), false);
            assert.equal(rolledOut(d({ ...done, replicas: 3 })), false, "old pods still running");
            assert.equal(rolledOut(d({ ...done, availableReplicas: 1 })), false);
        });

        it("waits for the rollout, then passes when the live rails with the new model meet the gates", async () => {
            const c = cluster();
            const previous = await promoted(c);
            assert.equal(previous, "oci-os://ns/models/old");
            live.blocks = true;
            seen.length = 0;
            // Rolling out for a while: no prompt may be sent before it finished.
            stuck.on = true;
            let sentWhileRolling = -1;
            setTimeout(() => {
                sentWhileRolling = seen.length;
                stuck.on = false;
            }, 300);
            const r = await run(c, ["--rollback-source", previous]);
            assert.equal(r.code, 0, r.out);
            assert.equal(sentWhileRolling, 0, "nothing sent while the rollout ran");
            assert.equal(seen.length, 3, "every prompt went to the guardrails URL");
            assert.ok(seen.every((b) => Object.keys(b).sort().join() === "messages,model"));
            assert.equal(await source(c), "oci-os://ns/models/new");
        });

        it("rolls back to the previous model when the new one misses a gate", async () => {
            const c = cluster();
            const previous = await promoted(c);
            live.blocks = false;
            const patches = () => c.calls.filter((x) => x.verb === "patch").length;
            const before = patches();
            const r = await run(c, ["--rollback-source", previous]);
            assert.equal(r.code, 1, r.out);
            assert.match(
                r.out,
                /below the required 100\.0%.*rolled back to oci-os:\/\/ns\/models\/old/,
            );
            assert.equal(await source(c), "oci-os://ns/models/old");
            assert.equal(patches(), before + 1, "the rollback restarts the tier");
            // No earlier model: the run fails and says so, the new model stays.
            const first = await run(c, ["--rollback-source", ""]);
            assert.equal(first.code, 1);
        });

        it("refuses to test a rollout that is not this run's, and times out on one that never finishes", async () => {
            const c = cluster();
            seen.length = 0;
            const other = await run(c);
            assert.equal(other.code, 1, other.out);
            assert.match(
                other.out,
                /now names "oci-os:\/\/ns\/models\/old", not the model this run promoted/,
            );
            await promoted(c);
            stuck.on = true;
            try {
                const r = await run(c);
                assert.equal(r.code, 3, r.out);
                assert.match(r.out, /did not finish rolling out within 5 s/);
            } finally {
                stuck.on = false;
            }
            assert.equal(seen.length, 0, "nothing was sent before the rollout finished");
        });
    });
});
