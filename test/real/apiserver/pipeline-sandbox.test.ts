/**
 * The fine-tune step's Kata sandbox on a real kube-apiserver v1.34.2 (modules/k8s/kubeflow/sandbox.ts):
 * the ValidatingAdmissionPolicy refuses a sandbox-labelled pod that KFP 2.16 created without a
 * RuntimeClass (fails closed), and — on an API server started with the MutatingAdmissionPolicy
 * feature gate and the admissionregistration.k8s.io/v1beta1 API turned on, which v1.34 ships off —
 * the MutatingAdmissionPolicy gives that pod the Kata GPU RuntimeClass and its overhead, so it is
 * admitted. The pods are the fine-tune step's as the compiled IR asks for them (sandbox label,
 * the class's node selector and tolerations from pipelines/compile.ts), created with dryRun=All.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { platformFacts } from "../../../pipelines/compile";
import { runtimeClasses } from "../../../modules/constants/scheduling";
import { runtimeClassSpec } from "../../../modules/k8s/baseline/kata";
import {
    sandboxGuardName,
    sandboxGuardSpec,
    sandboxMatchResources,
    sandboxMutationName,
    sandboxMutationSpec,
} from "../../../modules/k8s/kubeflow/sandbox";
import { scratchDir } from "../support/env";
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
        metadata: { name, namespace: ns, labels: sandboxed ? { [sb.labelKey]: sb.label } : {} },
        spec: {
            ...(runtimeClassName ? { runtimeClassName } : {}),
            nodeSelector: sandboxed ? { ...sb.nodeSelector } : {},
            tolerations: sandboxed ? sb.tolerations.map((t) => ({ ...t, operator: "Equal" })) : [],
            containers: [{ name: "main", image: platformFacts().images.trainer }],
        },
    };
}

async function tryPod(client: KubeClient, pod: object): Promise<KubeResponse> {
    return client.request("POST", `/api/v1/namespaces/${ns}/pods?dryRun=All`, pod);
}

/** Policies take effect a moment after they are created: retry until `done` holds. */
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

describe(`real kube-apiserver ${kubernetesVersion}: the fine-tune step's Kata sandbox`, function () {
    let etcd: Etcd;
    let api: ApiServer;
    let work: string;

    before(async function () {
        const bins = await ensureControlPlaneBinaries((l) => console.log(`      ${l}`));
        work = scratchDir("pipeline-sandbox");
        const pki = makePki(path.join(work, "pki"));
        etcd = await startEtcd(bins, path.join(work, "etcd"));
        api = await startApiServer({
            bins,
            pki,
            etcd,
            etcdPrefix: "/registry-sandbox",
            dir: path.join(work, "apiserver"),
            extraArgs: [
                "--feature-gates=MutatingAdmissionPolicy=true",
                "--runtime-config=admissionregistration.k8s.io/v1beta1=true",
            ],
        });
        const c = api.client;
        await create(c, "/api/v1/namespaces", {
            apiVersion: "v1",
            kind: "Namespace",
            metadata: { name: ns },
        });
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
        const vap = "/apis/admissionregistration.k8s.io/v1";
        await create(c, `${vap}/validatingadmissionpolicies`, {
            apiVersion: "admissionregistration.k8s.io/v1",
            kind: "ValidatingAdmissionPolicy",
            metadata: { name: sandboxGuardName },
            spec: sandboxGuardSpec(kata.name),
        });
        await create(c, `${vap}/validatingadmissionpolicybindings`, {
            apiVersion: "admissionregistration.k8s.io/v1",
            kind: "ValidatingAdmissionPolicyBinding",
            metadata: { name: sandboxGuardName },
            spec: {
                policyName: sandboxGuardName,
                validationActions: ["Deny"],
                matchResources: sandboxMatchResources(ns),
            },
        });
    });

    after(async function () {
        await api?.stop();
        await etcd?.server.stop();
        if (work) fs.rmSync(work, { recursive: true, force: true });
    });

    it("without the mutation, refuses the KFP-made sandboxed pod (fails closed), admits the rest", async () => {
        const c = api.client;
        const refused = await eventually(
            "the guard refuses",
            () => tryPod(c, stepPod("fine-tune", true)),
            (r) => r.status !== 201,
        );
        assert.equal(refused.status, 403, JSON.stringify(refused.body));
        assert.match(
            JSON.stringify(refused.body),
            new RegExp(`must run under RuntimeClass ${kata.name}`),
        );
        assert.equal((await tryPod(c, stepPod("prepare-data", false))).status, 201);
        const inKata = await tryPod(c, stepPod("fine-tune", true, kata.name));
        assert.equal(inKata.status, 201, JSON.stringify(inKata.body));
        const runc = await tryPod(c, stepPod("fine-tune", true, "runc"));
        assert.equal(runc.status, 403, "another RuntimeClass is no sandbox");
    });

    it("with the MutatingAdmissionPolicy served, the same pod gets the Kata class and its overhead", async () => {
        const c = api.client;
        const map = "/apis/admissionregistration.k8s.io/v1beta1";
        const policy = await c.request("POST", `${map}/mutatingadmissionpolicies`, {
            apiVersion: "admissionregistration.k8s.io/v1beta1",
            kind: "MutatingAdmissionPolicy",
            metadata: { name: sandboxMutationName },
            spec: sandboxMutationSpec(kata.name),
        });
        assert.equal(policy.status, 201, JSON.stringify(policy.body));
        await create(c, `${map}/mutatingadmissionpolicybindings`, {
            apiVersion: "admissionregistration.k8s.io/v1beta1",
            kind: "MutatingAdmissionPolicyBinding",
            metadata: { name: sandboxMutationName },
            spec: { policyName: sandboxMutationName, matchResources: sandboxMatchResources(ns) },
        });
        const admitted = await eventually(
            "the mutation applies",
            () => tryPod(c, stepPod("fine-tune", true)),
            (r) => r.status === 201,
        );
        const spec = (admitted.body as any).spec;
        assert.equal(spec.runtimeClassName, kata.name);
        // The RuntimeClass admission plugin filled in the class's overhead after the mutation.
        const stored = await c.request("GET", `/apis/node.k8s.io/v1/runtimeclasses/${kata.name}`);
        assert.deepEqual(spec.overhead, (stored.body as any).overhead.podFixed);
        // The mutation never overrides a class that was set: another class is still refused.
        assert.equal((await tryPod(c, stepPod("fine-tune", true, "runc"))).status, 403);
        // Unlabelled steps are not touched.
        const plain = await tryPod(c, stepPod("prepare-data", false));
        assert.equal(plain.status, 201);
        assert.equal((plain.body as any).spec.runtimeClassName, undefined);
    });
});
