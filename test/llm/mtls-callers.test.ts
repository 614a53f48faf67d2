/**
 * Who each mTLS server admits, now that the candidate guardrails tier and the pipeline steps have
 * identities of their own (issue 16): the candidate's own certificate and sidecar, the pipeline
 * steps' client certificates, and the network intent's per-flow protection that follows from them.
 */
import { strict as assert } from "assert";
import { readFileSync, readdirSync } from "fs";
import * as path from "path";
import * as YAML from "yaml";
import type { ClusterConfig } from "../../modules/config";
import { candidateEvaluation } from "../../modules/constants/rollout";
import { Kubeflow } from "../../modules/k8s/kubeflow";
import { LlmTiers, gatewayBackendTlsAnnotations } from "../../modules/k8s/llm";
import {
    ingressClientCertificateSpec,
    ingressMtlsClient,
    isMtlsHop,
    mtlsCallers,
    pipelineClientCertificateSpec,
    pipelineMtlsClients,
    pipelineMtlsDir,
} from "../../modules/k8s/llm/mtls";
import { buildIntent } from "../../modules/k8s/network/intent";
import { podSpecViolations } from "../../modules/k8s/workload";
import { RecordedResource, recordedResources, resetRecords, settle } from "../../tools/plan/mocks";
import { clusterIntentInputs } from "../support/stacks";
import { fakeCloud, parse, stackRaw } from "./helpers";

type Any = any;
const meta = (r: RecordedResource) => r.inputs.metadata as Any;
const find = (rs: readonly RecordedResource[], kind: string, ns: string, name: string) =>
    rs.find(
        (r) => r.type.endsWith(`:${kind}`) && meta(r)?.name === name && meta(r)?.namespace === ns,
    ) as RecordedResource;
/** The subjects an nginx.conf's server listener admits. */
const admitted = (conf: string) => [...conf.matchAll(/"CN=([^"]+)" 1;/g)].map((m) => m[1]).sort();

describe("mTLS callers: the candidate tier and the pipeline steps", () => {
    let cluster: ClusterConfig;
    let rs: readonly RecordedResource[];
    before(async () => {
        resetRecords();
        cluster = parse(stackRaw()).clusters[0];
        assert.ok(cluster.layer.kubeflow.enabled, "the dev stack runs Kubeflow");
        new LlmTiers("t", { cluster, environment: "dev", cloud: fakeCloud(cluster.region) });
        new Kubeflow("k", { cluster, environment: "dev", cloud: fakeCloud(cluster.region) });
        await settle();
        rs = recordedResources();
    });
    const conf = (ns: string, id: string) =>
        (find(rs, "ConfigMap", ns, `${id}-mtls-nginx`).inputs.data as Any)["nginx.conf"] as string;

    it("gives the candidate tier its own certificate and sidecar: it admits only the evaluation step", () => {
        const cert = find(rs, "Certificate", "llm-guardrails", "candidate-guardrails-mtls");
        assert.ok(cert, "Certificate candidate-guardrails-mtls");
        const spec = cert.inputs.spec as Any;
        assert.equal(spec.commonName, "candidate-guardrails.llm-guardrails.svc.cluster.local");
        assert.deepEqual(spec.usages, ["server auth", "client auth", "digital signature"]);
        assert.ok(spec.dnsNames.includes("candidate-guardrails.llm-guardrails.svc.cluster.local"));
        assert.deepEqual(admitted(conf("llm-guardrails", "candidate-guardrails")), [
            "candidate-evaluation.pipelines.secure-llm-platform",
        ]);
        // Its loopback clients are the live tier's (same ports, same upstreams), as itself.
        const clients = (c: string) =>
            [...c.matchAll(/listen (127\.0\.0\.1:\d+);\n\s+set \$mtls_listener (\S+);/g)].map(
                (m) => `${m[2]} ${m[1]}`,
            );
        assert.deepEqual(
            clients(conf("llm-guardrails", "candidate-guardrails")),
            clients(conf("llm-guardrails", "guardrails")),
        );
        assert.ok(clients(conf("llm-guardrails", "guardrails")).length >= 3);
        const dep = find(rs, "Deployment", "llm-guardrails", "candidate-guardrails");
        const pod = (dep.inputs.spec as Any).template.spec;
        const vol = (n: string) => pod.volumes.find((v: Any) => v.name === n);
        assert.equal(vol("mtls-tls").secret.secretName, "candidate-guardrails-mtls");
        assert.equal(vol("mtls-conf").configMap.name, "candidate-guardrails-mtls-nginx");
        assert.deepEqual(podSpecViolations(pod), []);
    });

    it("does not weaken the live tier: the gateway and the smoke test only, never the evaluation step", () => {
        assert.deepEqual(admitted(conf("llm-guardrails", "guardrails")), [
            "gateway.llm-gateway.svc.cluster.local",
            "model-smoke-test.pipelines.secure-llm-platform",
        ]);
        const live = find(rs, "Deployment", "llm-guardrails", "guardrails");
        const vol = (live.inputs.spec as Any).template.spec.volumes.find(
            (v: Any) => v.name === "mtls-tls",
        );
        assert.equal(vol.secret.secretName, "guardrails-mtls");
    });

    it("admits the candidate tier at inference, both Presidio servers and the jailbreak heuristics, next to the live one", () => {
        for (const [ns, id] of [
            ["llm-inference", "inference"],
            ["llm-output-filter", "presidio-analyzer"],
            ["llm-output-filter", "presidio-anonymizer"],
            ["llm-guardrails", "jailbreak-detection"],
        ] as const) {
            const who = admitted(conf(ns, id));
            assert.ok(who.includes("guardrails.llm-guardrails.svc.cluster.local"), id);
            assert.ok(who.includes("candidate-guardrails.llm-guardrails.svc.cluster.local"), id);
            assert.ok(!who.some((c) => c.includes("pipelines")), `${id}: no pipeline step`);
        }
    });

    it("puts the jailbreak heuristics server behind its sidecar: bound to loopback, probed through the sidecar", () => {
        const dep = find(rs, "Deployment", "llm-guardrails", "jailbreak-detection");
        const pod = (dep.inputs.spec as Any).template.spec;
        assert.deepEqual(
            pod.containers.map((c: Any) => c.name),
            ["jailbreak-detection", "mtls"],
        );
        const app = pod.containers[0];
        assert.deepEqual(app.args, ["--host", "127.0.0.1", "--port", "8010"]);
        assert.deepEqual(app.ports ?? [], []);
        assert.equal(app.readinessProbe.httpGet.port, 8081);
        const sidecarPorts = pod.containers[1].ports.map(
            (p: Any) => `${p.name}:${p.containerPort}`,
        );
        assert.ok(sidecarPorts.includes("http:1337"), sidecarPorts.join());
        const nginx = conf("llm-guardrails", "jailbreak-detection");
        assert.match(nginx, /listen 1337 ssl;/);
        assert.match(nginx, /server 127\.0\.0\.1:8010;/);
        // The server has no /health route: the sidecar's /health asks its GET /.
        assert.match(
            nginx,
            /location = \/health \{[^}]*\}[^}]*proxy_pass http:\/\/127\.0\.0\.1:8010\/;/,
        );
        assert.deepEqual(podSpecViolations(pod), []);
    });

    it("the gateway terminates mTLS itself: it admits exactly ingress-nginx and the red-team assessment", () => {
        const cm = find(rs, "ConfigMap", "llm-gateway", "gateway-nginx");
        const nginx = (cm.inputs.data as Any)["nginx.conf"] as string;
        assert.deepEqual(admitted(nginx), [
            "ingress-nginx.ingress.secure-llm-platform",
            "redteam-assessment.pipelines.secure-llm-platform",
        ]);
        // The API port is TLS with a client certificate of the cluster CA required, 403 for others.
        const api = nginx.slice(nginx.indexOf("listen 8080 ssl;"));
        assert.ok(nginx.includes("listen 8080 ssl;"), "the API port is TLS");
        assert.ok(!/listen 8080;/.test(nginx), "no plaintext API listener");
        const first = api.slice(0, api.indexOf("location"));
        assert.match(first, /ssl_verify_client on;/);
        assert.match(first, /ssl_client_certificate \/etc\/mtls\/tls\/ca\.crt;/);
        assert.match(first, /ssl_protocols TLSv1\.3;/);
        assert.match(first, /if \(\$mtls_allowed = 0\) \{\s+return 403;/);
        // The kubelet's probes: a plain /healthz listener that forwards nothing.
        const health = nginx.slice(nginx.indexOf("listen 8081;"));
        assert.ok(nginx.includes("listen 8081;"), "plain health listener");
        assert.ok(!health.includes("proxy_pass"), "the health listener forwards nothing");
        const dep = find(rs, "Deployment", "llm-gateway", "gateway");
        const pod = (dep.inputs.spec as Any).template.spec;
        const c = pod.containers[0];
        assert.equal(c.readinessProbe.httpGet.port, "mtls-health");
        assert.equal(c.livenessProbe.httpGet.port, "mtls-health");
        assert.deepEqual(
            c.ports.map((p: Any) => `${p.name}:${p.containerPort}`),
            ["http:8080", "mtls-health:8081"],
        );
        assert.deepEqual(podSpecViolations(pod), []);
        // Its certificate serves its callers and is presented to the guardrails.
        const cert = find(rs, "Certificate", "llm-gateway", "gateway-mtls").inputs.spec as Any;
        assert.deepEqual(cert.usages, ["server auth", "client auth", "digital signature"]);
        assert.ok(cert.dnsNames.includes("gateway.llm-gateway.svc.cluster.local"));
    });

    it("ingress-nginx calls the gateway over mTLS: its client certificate in the gateway's namespace, the annotations name it", () => {
        const cert = find(rs, "Certificate", "llm-gateway", ingressMtlsClient.secret);
        assert.ok(cert, "Certificate llm-gateway/ingress-nginx-mtls");
        const spec = cert.inputs.spec as Any;
        assert.deepEqual(spec, ingressClientCertificateSpec() as Any);
        assert.equal(spec.commonName, "ingress-nginx.ingress.secure-llm-platform");
        assert.deepEqual(spec.usages, ["client auth", "digital signature"]);
        assert.equal(spec.issuerRef.name, "secure-llm-platform-mtls");
        const ing = find(rs, "Ingress", "llm-gateway", "gateway");
        const a = (ing.inputs.metadata as Any).annotations;
        const p = "nginx.ingress.kubernetes.io";
        assert.equal(a[`${p}/backend-protocol`], "HTTPS");
        // Same namespace as the Ingress: ingress-nginx refuses cross-namespace secrets.
        assert.equal(a[`${p}/proxy-ssl-secret`], "llm-gateway/ingress-nginx-mtls");
        assert.equal(a[`${p}/proxy-ssl-verify`], "on");
        assert.equal(a[`${p}/proxy-ssl-name`], "gateway.llm-gateway.svc.cluster.local");
        assert.equal(a[`${p}/proxy-ssl-server-name`], "on");
        assert.equal(a[`${p}/proxy-ssl-protocols`], "TLSv1.3");
        assert.deepEqual(a, { ...a, ...gatewayBackendTlsAnnotations("llm-gateway") });
    });

    it("issues the pipeline steps' client certificates in the pipeline namespace, client auth only", () => {
        const ns = cluster.layer.kubeflow.profileNamespace;
        for (const id of Object.keys(pipelineMtlsClients) as (keyof typeof pipelineMtlsClients)[]) {
            const c = pipelineMtlsClients[id];
            const cert = find(rs, "Certificate", ns, c.secret);
            assert.ok(cert, `Certificate ${ns}/${c.secret}`);
            const spec = cert.inputs.spec as Any;
            assert.deepEqual(spec, pipelineClientCertificateSpec(id) as Any);
            assert.equal(spec.secretName, c.secret);
            assert.equal(spec.commonName, c.commonName);
            assert.deepEqual(spec.usages, ["client auth", "digital signature"]);
            assert.equal(spec.dnsNames, undefined, "serves nothing");
            assert.equal(spec.issuerRef.kind, "ClusterIssuer");
        }
    });

    it("the intent marks every flow into the candidate tier and from the pipeline steps as mTLS", () => {
        const intent = buildIntent(clusterIntentInputs(cluster));
        const kind = (from: string, to: string) => {
            const f = intent.flows.find((x) => x.from === from && x.to === to);
            assert.ok(f, `flow ${from} → ${to}`);
            return f.protection?.kind;
        };
        assert.equal(kind(candidateEvaluation.id, "candidate-guardrails"), "mtls");
        assert.equal(kind("kubeflow-pipelines", "guardrails"), "mtls");
        // The two callers of the gateway (issue 16).
        assert.equal(kind("ingress-nginx", "gateway"), "mtls");
        assert.equal(kind("redteam-assessment", "gateway"), "mtls");
        assert.equal(kind("guardrails", "jailbreak-detection"), "mtls");
        for (const to of [
            "inference",
            "presidio-analyzer",
            "presidio-anonymizer",
            "jailbreak-detection",
        ]) {
            assert.equal(kind("candidate-guardrails", to), "mtls", to);
        }
        // Every mTLS flow is one a server admits, and nothing else is called mTLS.
        for (const f of intent.flows) {
            assert.equal(
                f.protection?.kind === "mtls",
                isMtlsHop(f.from, f.to),
                `${f.from}→${f.to}`,
            );
        }
        // The gateway still may not reach the candidate, nor the evaluation step the live tier.
        assert.ok(!isMtlsHop("gateway", "candidate-guardrails"));
        assert.ok(!isMtlsHop(candidateEvaluation.id, "guardrails"));
        assert.ok(
            !intent.flows.some((f) => f.from === "gateway" && f.to === "candidate-guardrails"),
        );
        assert.deepEqual(mtlsCallers["candidate-guardrails"], [candidateEvaluation.id]);
    });

    it("every compiled step that calls a tier over https presents a pipeline client certificate", () => {
        const dir = path.join(__dirname, "../../pipelines/compiled");
        const seen: string[] = [];
        for (const f of readdirSync(dir).filter((x) => x.endsWith(".yaml"))) {
            const [spec, platform] = YAML.parseAllDocuments(
                readFileSync(path.join(dir, f), "utf8"),
            ).map((d) => d.toJSON() as Any);
            for (const [exec, e] of Object.entries(spec.deploymentSpec.executors as Any)) {
                const args: string[] = (e as Any).container?.args ?? [];
                const url = args[args.indexOf("--url") + 1];
                // A tier's https URL, or a parameter URL with a client certificate (the on-demand
                // red-team run: the gateway admits only mTLS callers).
                if (!args.includes("--url")) continue;
                if (!url.startsWith("https://") && !args.includes("--tls-dir")) continue;
                assert.equal(args[args.indexOf("--tls-dir") + 1], pipelineMtlsDir, `${f} ${exec}`);
                const mounts: Any[] =
                    platform?.platforms?.kubernetes?.deploymentSpec?.executors?.[exec]
                        ?.secretAsVolume ?? [];
                const m = mounts.find((x) => x.mountPath === pipelineMtlsDir);
                assert.ok(m, `${f} ${exec}: the client certificate is mounted`);
                seen.push(`${f} ${url} ${m.secretName}`);
            }
        }
        const host = (id: string) => `https://${id}.llm-guardrails.svc.cluster.local:8000`;
        assert.deepEqual([...new Set(seen)].sort(), [
            `fine-tuning.yaml ${host("guardrails")} ${pipelineMtlsClients["kubeflow-pipelines"].secret}`,
            `guardrail-promotion.yaml ${host("candidate-guardrails")} ${pipelineMtlsClients["candidate-evaluation"].secret}`,
            `model-promotion.yaml ${host("guardrails")} ${pipelineMtlsClients["kubeflow-pipelines"].secret}`,
            `redteam-assessment.yaml {{$.inputs.parameters['gateway_url']}} ${pipelineMtlsClients["redteam-assessment"].secret}`,
        ]);
    });
});
