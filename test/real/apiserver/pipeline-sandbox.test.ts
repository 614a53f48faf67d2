/**
 * The fine-tune step's Kata sandbox on a real kube-apiserver v1.34.2 with stock flags (no feature
 * gates, no extra API groups: what an OKE 1.34 control plane serves), modules/k8s/kubeflow/sandbox.ts:
 * our webhook (images/sandbox-webhook/webhook.py, the image's code, run with python3 on
 * 127.0.0.1) registered with the MutatingWebhookConfiguration the program renders, and the
 * ValidatingAdmissionPolicy guard with its binding.
 *
 * Substitutions, and only these: the webhook's `clientConfig` is `url: https://127.0.0.1:<port>/mutate`
 * with `caBundle` = a CA this test issues, instead of the in-cluster Service with the CA cert-manager's
 * cainjector injects; the webhook listens on free ports instead of 8443/8081, with a serving
 * certificate for 127.0.0.1 from that CA instead of cert-manager's. The pods are the fine-tune
 * step's as the compiled IR asks for them (sandbox label, the class's node selector and
 * tolerations from pipelines/compile.ts); what only a GPU node with Kata proves — the pod actually
 * starting in a Kata VM — is not tested here (no kubelet, no Kata).
 */
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as tls from "tls";
import * as path from "path";
import { platformFacts } from "../../../pipelines/compile";
import { runtimeClasses } from "../../../modules/constants/scheduling";
import { runtimeClassSpec } from "../../../modules/k8s/baseline/kata";
import { pipelineNamespaceLabels } from "../../../modules/k8s/kubeflow/namespace";
import {
    pipelineNamespaces,
    sandboxGuardName,
    sandboxGuardSpec,
    sandboxMatchResources,
    sandboxWebhookArgs,
    sandboxWebhookConfigName,
    sandboxWebhookPath,
    sandboxWebhooks,
} from "../../../modules/k8s/kubeflow/sandbox";
import { repoRoot, scratchDir } from "../support/env";
import { ensureApt } from "../support/install";
import { Started, freePort, start, tail, waitUntil } from "../support/proc";
import {
    ApiServer,
    Etcd,
    KubeClient,
    KubeResponse,
    ensureControlPlaneBinaries,
    kubernetesVersion,
    makePki,
    startApiServer,
    startEtcd,
} from "../support/apiserver";

const ns = "ml-pipelines";
const kata = runtimeClassSpec(runtimeClasses.kataGpu);

/** The fine-tune step's pod as KFP 2.16 creates it: no runtimeClassName (it cannot set one). */
function stepPod(name: string, sandboxed: boolean, runtimeClassName?: string) {
    const sb = platformFacts().sandbox;
    return {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name, labels: sandboxed ? { [sb.labelKey]: sb.label } : {} },
        spec: {
            ...(runtimeClassName ? { runtimeClassName } : {}),
            nodeSelector: sandboxed ? { ...sb.nodeSelector } : {},
            tolerations: sandboxed ? sb.tolerations.map((t) => ({ ...t, operator: "Equal" })) : [],
            containers: [
                {
                    name: "main",
                    image: platformFacts().images.trainer,
                    env: [{ name: "SLP_MARKER", value: "pod-content-never-logged" }],
                },
            ],
        },
    };
}

async function tryPod(
    client: KubeClient,
    pod: object,
    namespace = ns,
    dryRun = true,
): Promise<KubeResponse> {
    return client.request(
        "POST",
        `/api/v1/namespaces/${namespace}/pods${dryRun ? "?dryRun=All" : ""}`,
        pod,
    );
}

/** Admission configuration takes effect a moment after it is created: retry until `done` holds. */
async function eventually(
    what: string,
    attempt: () => Promise<KubeResponse>,
    done: (r: KubeResponse) => boolean,
): Promise<KubeResponse> {
    const deadline = Date.now() + 60_000;
    for (;;) {
        const r = await attempt();
        if (done(r)) return r;
        if (Date.now() > deadline) {
            throw new Error(
                `${what}: last answer ${r.status} ${JSON.stringify(r.body).slice(0, 400)}`,
            );
        }
        await new Promise((res) => setTimeout(res, 500));
    }
}

const create = async (client: KubeClient, p: string, body: object) => {
    const r = await client.request("POST", p, body);
    assert.equal(r.status, 201, `${p}: ${r.status} ${JSON.stringify(r.body).slice(0, 600)}`);
    return r;
};

const openssl = (dir: string, ...args: string[]) =>
    execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];

/** A CA of the test's own, standing in for the webhook's cert-manager CA. */
function webhookCa(dir: string): string {
    ensureApt(["openssl"]);
    fs.mkdirSync(dir, { recursive: true });
    openssl(
        dir,
        "req",
        "-x509",
        ...ec,
        "-days",
        "2",
        "-subj",
        "/CN=slp-test sandbox webhook CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
    );
    return path.join(dir, "ca.crt");
}

/**
 * Issues a 127.0.0.1 serving certificate from that CA into `tls.crt`/`tls.key`, each replaced by a
 * rename (as a Secret volume's files change atomically); returns its SHA-256 fingerprint.
 */
function issueServing(dir: string, tag: string): string {
    openssl(
        dir,
        "req",
        ...ec,
        "-subj",
        `/CN=sandbox-webhook ${tag}`,
        "-keyout",
        `${tag}.key`,
        "-out",
        `${tag}.csr`,
    );
    fs.writeFileSync(
        path.join(dir, "tls.ext"),
        "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n",
    );
    openssl(
        dir,
        "x509",
        "-req",
        "-in",
        `${tag}.csr`,
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "tls.ext",
        "-out",
        `${tag}.crt`,
    );
    fs.renameSync(path.join(dir, `${tag}.key`), path.join(dir, "tls.key"));
    fs.renameSync(path.join(dir, `${tag}.crt`), path.join(dir, "tls.crt"));
    return new crypto.X509Certificate(fs.readFileSync(path.join(dir, "tls.crt"))).fingerprint256;
}

/** The fingerprint of the certificate a TLS server on 127.0.0.1:`port` presents. */
function servedFingerprint(port: number, ca: string): Promise<string> {
    return new Promise((resolve, reject) => {
        const s = tls.connect({ host: "127.0.0.1", port, ca: fs.readFileSync(ca) }, () => {
            const fp = s.getPeerCertificate().fingerprint256;
            s.end();
            resolve(fp);
        });
        s.once("error", reject);
    });
}

/** Decision lines the webhook logged (its stdout is one JSON object per line). */
function decisions(webhook: Started): Record<string, unknown>[] {
    return webhook
        .log()
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((l) => l.event === "admission.decision");
}

describe(`real kube-apiserver ${kubernetesVersion}: the fine-tune step's Kata sandbox (webhook)`, function () {
    let etcd: Etcd;
    let api: ApiServer;
    let work: string;
    let webhook: Started | undefined;
    let pkiDir: string;
    let caFile: string;
    let port: number;
    let firstFingerprint: string;

    before(async function () {
        const bins = await ensureControlPlaneBinaries((l) => console.log(`      ${l}`));
        work = scratchDir("pipeline-sandbox");
        const pki = makePki(path.join(work, "pki"));
        pkiDir = path.join(work, "webhook-pki");
        caFile = webhookCa(pkiDir);
        firstFingerprint = issueServing(pkiDir, "first");
        const files = { cert: path.join(pkiDir, "tls.crt"), key: path.join(pkiDir, "tls.key") };
        etcd = await startEtcd(bins, path.join(work, "etcd"));
        // Stock flags: no --feature-gates, no --runtime-config (OKE exposes neither).
        api = await startApiServer({
            bins,
            pki,
            etcd,
            etcdPrefix: "/registry-sandbox",
            dir: path.join(work, "apiserver"),
        });
        const c = api.client;
        for (const name of [...pipelineNamespaces(ns), "tenant-a"]) {
            await create(c, "/api/v1/namespaces", {
                apiVersion: "v1",
                kind: "Namespace",
                metadata: {
                    name,
                    labels:
                        name === ns ? pipelineNamespaceLabels(kubernetesVersion, "baseline") : {},
                },
            });
        }
        for (const rc of [
            {
                metadata: { name: kata.name },
                handler: kata.handler,
                overhead: { podFixed: { ...kata.overhead.podFixed } },
                scheduling: {
                    nodeSelector: { ...kata.scheduling.nodeSelector },
                    tolerations: kata.scheduling.tolerations.map((t) => ({ ...t })),
                },
            },
            { metadata: { name: "runc" }, handler: "runc" },
        ]) {
            await create(c, "/apis/node.k8s.io/v1/runtimeclasses", {
                apiVersion: "node.k8s.io/v1",
                kind: "RuntimeClass",
                ...rc,
            });
        }
        const ar = "/apis/admissionregistration.k8s.io/v1";
        await create(c, `${ar}/validatingadmissionpolicies`, {
            apiVersion: "admissionregistration.k8s.io/v1",
            kind: "ValidatingAdmissionPolicy",
            metadata: { name: sandboxGuardName },
            spec: sandboxGuardSpec(kata.name),
        });
        await create(c, `${ar}/validatingadmissionpolicybindings`, {
            apiVersion: "admissionregistration.k8s.io/v1",
            kind: "ValidatingAdmissionPolicyBinding",
            metadata: { name: sandboxGuardName },
            spec: {
                policyName: sandboxGuardName,
                validationActions: ["Deny"],
                matchResources: sandboxMatchResources(pipelineNamespaces(ns)),
            },
        });

        // The webhook: the image's program with the program's arguments (ports substituted).
        port = await freePort();
        const health = await freePort();
        webhook = start(
            "sandbox-webhook",
            "python3",
            [
                "-B",
                path.join(repoRoot, "images/sandbox-webhook/webhook.py"),
                ...sandboxWebhookArgs(kata.name, files),
                "--bind",
                "127.0.0.1",
                "--port",
                String(port),
                "--health-port",
                String(health),
            ],
            path.join(work, "webhook.log"),
        );
        const wh = webhook;
        await waitUntil(wh, "GET /healthz", () =>
            fetch(`http://127.0.0.1:${health}/healthz`).then((r) => r.ok),
        );
        await create(c, `${ar}/mutatingwebhookconfigurations`, {
            apiVersion: "admissionregistration.k8s.io/v1",
            kind: "MutatingWebhookConfiguration",
            metadata: { name: sandboxWebhookConfigName },
            webhooks: sandboxWebhooks({
                namespaces: pipelineNamespaces(ns),
                clientConfig: {
                    url: `https://127.0.0.1:${port}${sandboxWebhookPath}`,
                    caBundle: fs.readFileSync(caFile).toString("base64"),
                },
            }),
        });
    });

    after(async function () {
        if (this.currentTest?.state === "failed" && webhook) {
            console.log(`      webhook log:\n${tail(webhook.log())}`);
        }
        await webhook?.stop();
        await api?.stop();
        await etcd?.server.stop();
        if (work) fs.rmSync(work, { recursive: true, force: true });
    });

    it("admits the KFP-made fine-tune pod with the Kata GPU class and the class's overhead", async () => {
        const c = api.client;
        const admitted = await eventually(
            "the webhook applies",
            () => tryPod(c, stepPod("fine-tune", true)),
            (r) => r.status !== 403 || !/must run under RuntimeClass/.test(JSON.stringify(r.body)),
        );
        assert.equal(admitted.status, 201, JSON.stringify(admitted.body));
        const spec = (admitted.body as any).spec;
        assert.equal(spec.runtimeClassName, kata.name);
        // The RuntimeClass admission plugin, run again after the webhook's patch, filled in the
        // overhead: the webhook itself patches only the class.
        const rc = await c.request("GET", `/apis/node.k8s.io/v1/runtimeclasses/${kata.name}`);
        const overhead = (rc.body as any).overhead.podFixed; // as the API server canonicalized it
        assert.deepEqual(spec.overhead, overhead);
        assert.deepEqual(spec.nodeSelector, kata.scheduling.nodeSelector);
        // The same in `kubeflow` (standalone KFP runs steps there), stored for real this time.
        const stored = await tryPod(c, stepPod("fine-tune-kfp", true), "kubeflow", false);
        assert.equal(stored.status, 201, JSON.stringify(stored.body));
        const got = await c.request("GET", "/api/v1/namespaces/kubeflow/pods/fine-tune-kfp");
        assert.equal(got.body.spec.runtimeClassName, kata.name);
        assert.deepEqual(got.body.spec.overhead, overhead);
        // A pod already in the Kata class is admitted as it is.
        const inKata = await tryPod(c, stepPod("fine-tune", true, kata.name));
        assert.equal(inKata.status, 201, JSON.stringify(inKata.body));
    });

    it("leaves every other pod untouched: no label, or outside the pipeline namespaces", async () => {
        const c = api.client;
        const before = decisions(webhook!).length;
        const plain = await tryPod(c, stepPod("prepare-data", false));
        assert.equal(plain.status, 201, JSON.stringify(plain.body));
        assert.equal((plain.body as any).spec.runtimeClassName, undefined);
        const tenant = await tryPod(c, stepPod("labelled-elsewhere", true), "tenant-a");
        assert.equal(tenant.status, 201, JSON.stringify(tenant.body));
        assert.equal((tenant.body as any).spec.runtimeClassName, undefined);
        assert.equal(
            decisions(webhook!).length,
            before,
            "the selectors kept both away from the webhook",
        );
    });

    it("refuses a sandboxed pod that asks for another class", async () => {
        const r = await tryPod(api.client, stepPod("fine-tune", true, "runc"));
        assert.equal(r.status, 403, JSON.stringify(r.body));
        assert.match(JSON.stringify(r.body), /asks for RuntimeClass 'runc'/);
    });

    it("logs each decision with names only, never the pod's content", () => {
        const lines = decisions(webhook!);
        assert.ok(lines.length >= 3, `${lines.length} decision lines`);
        for (const l of lines) {
            assert.deepEqual(Object.keys(l).sort(), [
                "allowed",
                "decision",
                "dry_run",
                "event",
                "namespace",
                "patched",
                "pod",
                "time",
                "uid",
            ]);
        }
        assert.ok(lines.some((l) => l.pod === "fine-tune" && l.patched === true));
        assert.doesNotMatch(webhook!.log(), /pod-content-never-logged|pipeline-trainer/);
    });

    it("serves a rotated certificate without a restart, and the API server keeps calling it", async () => {
        assert.equal(await servedFingerprint(port, caFile), firstFingerprint);
        const second = issueServing(pkiDir, "second");
        assert.notEqual(second, firstFingerprint);
        assert.equal(
            await servedFingerprint(port, caFile),
            second,
            "reloaded on the next connection",
        );
        const r = await tryPod(api.client, stepPod("fine-tune-after-rotation", true));
        assert.equal(r.status, 201, JSON.stringify(r.body));
        assert.equal((r.body as any).spec.runtimeClassName, kata.name);
        assert.equal(webhook!.child.exitCode, null, "the same process");
    });

    it("with the webhook down, refuses the sandboxed pod (failurePolicy Fail) and admits the rest", async () => {
        const c = api.client;
        await webhook!.stop();
        const refused = await tryPod(c, stepPod("fine-tune", true));
        assert.equal(refused.status, 500, JSON.stringify(refused.body));
        assert.match(
            JSON.stringify(refused.body),
            /failed calling webhook \\"runtime-class\.pipeline-sandbox\.secure-llm-platform\.io\\"/,
        );
        const plain = await tryPod(c, stepPod("prepare-data", false));
        assert.equal(plain.status, 201, JSON.stringify(plain.body));
        // And were the webhook skipped, the guard still refuses a sandboxed pod without the class.
        const del = await c.request(
            "DELETE",
            `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${sandboxWebhookConfigName}`,
        );
        assert.equal(del.status, 200, JSON.stringify(del.body));
        const guarded = await eventually(
            "the guard refuses",
            () => tryPod(c, stepPod("fine-tune", true)),
            (r) => r.status === 403,
        );
        assert.match(
            JSON.stringify(guarded.body),
            new RegExp(`must run under RuntimeClass ${kata.name}`),
        );
    });
});
