/**
 * The pipeline sandbox webhook's decisions (images/sandbox-webhook/webhook.py `review`), case by
 * case, in one python3 process: what it patches, what it leaves alone, what it refuses. The
 * server around it (TLS, the API server calling it) runs in test/real/apiserver/pipeline-sandbox.test.ts.
 */
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as path from "path";
import { sandboxLabel } from "../../modules/k8s/kubeflow/namespace";

const kata = "kata-qemu-nvidia-gpu";
const dir = path.join(__dirname, "../../images/sandbox-webhook");

type Case = { review: unknown };
type Answer = { ok: true; response: any; summary: string } | { ok: false; error: string };

/** Runs `review` over every case; a BadReview comes back as `{ok: false}`. */
function decide(cases: Case[]): Answer[] {
    const script = [
        "import json, sys",
        `sys.path.insert(0, ${JSON.stringify(dir)})`,
        "import webhook",
        "out = []",
        "for c in json.load(sys.stdin):",
        "    try:",
        `        r, s = webhook.review(c["review"], ${JSON.stringify(kata)}, ${JSON.stringify(sandboxLabel)})`,
        "        out.append({'ok': True, 'response': r, 'summary': s})",
        "    except webhook.BadReview as e:",
        "        out.append({'ok': False, 'error': str(e)})",
        "print(json.dumps(out))",
    ].join("\n");
    const stdout = execFileSync("python3", ["-B", "-c", script], {
        input: JSON.stringify(cases),
        encoding: "utf8",
    });
    return JSON.parse(stdout) as Answer[];
}

function review(pod: unknown, over: Record<string, unknown> = {}): Case {
    return {
        review: {
            apiVersion: "admission.k8s.io/v1",
            kind: "AdmissionReview",
            request: {
                uid: "705ab4f5-6393-11e8-b7cc-42010a800002",
                kind: { group: "", version: "v1", kind: "Pod" },
                resource: { group: "", version: "v1", resource: "pods" },
                namespace: "ml-pipelines",
                operation: "CREATE",
                object: pod,
                ...over,
            },
        },
    };
}

const pod = (labels: Record<string, string>, spec: Record<string, unknown> = {}) => ({
    metadata: { generateName: "fine-tune-", labels },
    spec: {
        containers: [{ name: "main", image: "x", env: [{ name: "TOKEN", value: "s3cret" }] }],
        ...spec,
    },
});
const sandboxed = { [sandboxLabel]: "kata-gpu" };

describe("pipeline sandbox webhook: decisions", () => {
    const cases: Case[] = [
        review(pod(sandboxed)),
        review(pod(sandboxed, { runtimeClassName: "" })),
        review(pod(sandboxed, { runtimeClassName: kata })),
        review(pod(sandboxed, { runtimeClassName: "runc" })),
        review(pod({ "app.kubernetes.io/name": "prepare-data" })),
        review(pod(sandboxed), { operation: "UPDATE" }),
        review(pod(sandboxed), { subResource: "ephemeralcontainers" }),
        review({ metadata: {} }, { kind: { group: "apps", version: "v1", kind: "Deployment" } }),
        review({ metadata: { labels: sandboxed } }),
        {
            review: {
                apiVersion: "admission.k8s.io/v1beta1",
                kind: "AdmissionReview",
                request: {},
            },
        },
        { review: { apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", request: {} } },
    ];
    let answers: Answer[];
    before(() => {
        answers = decide(cases);
    });
    const ok = (i: number) => {
        const a = answers[i];
        assert.ok(a.ok, JSON.stringify(a));
        assert.equal(a.response.apiVersion, "admission.k8s.io/v1");
        assert.equal(a.response.kind, "AdmissionReview");
        assert.equal(a.response.response.uid, "705ab4f5-6393-11e8-b7cc-42010a800002", "uid echoed");
        return a.response.response;
    };
    const patchOf = (r: any) => JSON.parse(Buffer.from(r.patch, "base64").toString("utf8"));

    it("adds only spec.runtimeClassName to a sandboxed pod that names no class (or an empty one)", () => {
        for (const i of [0, 1]) {
            const r = ok(i);
            assert.equal(r.allowed, true);
            assert.equal(r.patchType, "JSONPatch");
            assert.deepEqual(patchOf(r), [
                { op: "add", path: "/spec/runtimeClassName", value: kata },
            ]);
        }
    });

    it("admits a sandboxed pod already in the Kata class unchanged", () => {
        const r = ok(2);
        assert.equal(r.allowed, true);
        assert.equal(r.patch, undefined);
    });

    it("refuses a sandboxed pod that asks for another class, naming both", () => {
        const r = ok(3);
        assert.equal(r.allowed, false);
        assert.equal(r.status.code, 403);
        assert.match(r.status.message, /asks for RuntimeClass 'runc'/);
        assert.match(r.status.message, new RegExp(kata));
    });

    it("never touches a pod without the sandbox label", () => {
        const r = ok(4);
        assert.deepEqual(r, { uid: "705ab4f5-6393-11e8-b7cc-42010a800002", allowed: true });
    });

    it("refuses what is not a Pod creation (a misrouted request fails closed)", () => {
        for (const i of [5, 6, 7]) {
            const r = ok(i);
            assert.equal(r.allowed, false, JSON.stringify(r));
            assert.match(r.status.message, /admits only the creation of Pods/);
        }
        assert.equal(ok(8).allowed, false, "a pod without a spec");
    });

    it("answers no review to a body that is not an AdmissionReview v1 request with a uid", () => {
        assert.deepEqual(answers[9], {
            ok: false,
            error: "expected an admission.k8s.io/v1 AdmissionReview",
        });
        assert.deepEqual(answers[10], {
            ok: false,
            error: "expected an AdmissionReview with request.uid",
        });
    });

    it("keeps pod content out of its log summaries", () => {
        for (const a of answers) {
            if (a.ok) assert.doesNotMatch(a.summary, /s3cret|TOKEN|fine-tune/);
        }
    });
});
