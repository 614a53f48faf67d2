import { strict as assert } from "assert";
import type { ClusterConfig } from "../../modules/config";
import { catalog } from "../../modules/k8s/catalog";
import { LlmTiers, renderedRails } from "../../modules/k8s/llm";
import { railsChecksum } from "../../modules/k8s/llm/rails";
import { podSpecViolations } from "../../modules/k8s/workload";
import { gatewayPaths, gatewayRunScript } from "../../modules/k8s/llm/tiers";
import { guardrailsLogGlob } from "../../modules/constants/logs";
import {
    RecordedResource,
    recordedResources,
    resetRecords,
    settle,
    unwrapSecrets,
} from "../../tools/plan/mocks";
import { fakeCloud, parse, stackRaw } from "./helpers";

async function record(name: string, cluster: ClusterConfig): Promise<RecordedResource[]> {
    new LlmTiers(name, { cluster, environment: "dev", cloud: fakeCloud(cluster.region) });
    await settle();
    return recordedResources()
        .filter((r) => r.name === name || r.name.startsWith(`${name}-`))
        .map((r) => ({ ...r, inputs: unwrapSecrets(r.inputs) as Record<string, unknown> }));
}

const of = (rs: RecordedResource[], type: string) => rs.filter((r) => r.type === type);
const named = (rs: RecordedResource[], type: string, ns: string, name: string) =>
    of(rs, type).find(
        (r) =>
            (r.inputs.metadata as any).name === name && (r.inputs.metadata as any).namespace === ns,
    );
const podSpec = (r: RecordedResource) => (r.inputs.spec as any).template.spec;

describe("LLM tiers on the dev stack", () => {
    let rs: RecordedResource[];
    let cluster: ClusterConfig;
    before(async () => {
        resetRecords();
        cluster = parse(stackRaw()).clusters[0];
        rs = await record("llm-dev", cluster);
    });
    const deployment = (id: keyof typeof catalog) =>
        named(rs, "kubernetes:apps/v1:Deployment", catalog[id].namespace, id) as RecordedResource;

    it("runs the four tiers, each in its catalog namespace", () => {
        for (const id of [
            "gateway",
            "guardrails",
            "jailbreak-detection",
            "inference",
            "presidio-analyzer",
            "presidio-anonymizer",
        ] as const) {
            assert.ok(deployment(id), `Deployment ${id}`);
            assert.ok(
                named(rs, "kubernetes:core/v1:Service", catalog[id].namespace, id),
                `Service ${id}`,
            );
            assert.ok(
                named(rs, "kubernetes:policy/v1:PodDisruptionBudget", catalog[id].namespace, id),
                `PDB ${id}`,
            );
        }
    });

    it("every pod spec passes Pod Security restricted and the platform baseline", () => {
        const deps = of(rs, "kubernetes:apps/v1:Deployment");
        // The four tiers' six Deployments and the candidate guardrails tier (kubeflow is on).
        assert.equal(deps.length, 7);
        for (const d of deps) {
            assert.deepEqual(podSpecViolations(podSpec(d)), [], (d.inputs.metadata as any).name);
        }
        for (const sa of of(rs, "kubernetes:core/v1:ServiceAccount")) {
            assert.equal(sa.inputs.automountServiceAccountToken, false);
        }
        for (const svc of of(rs, "kubernetes:core/v1:Service")) {
            assert.equal((svc.inputs.spec as any).type, "ClusterIP", "only the ingress is exposed");
        }
    });

    it("builds the candidate guardrails tier with the live tier's builder: its own ConfigMap, one replica, the evaluation audit flag", () => {
        const live = deployment("guardrails");
        const cand = deployment("candidate-guardrails");
        assert.ok(cand, "Deployment candidate-guardrails");
        assert.equal((cand.inputs.spec as any).replicas, 1);
        const liveSpec = podSpec(live);
        const candSpec = podSpec(cand);
        // Same pod but for its name, labels, ServiceAccount, the rails volume and one argument.
        const c = (spec: any) => spec.containers.find((x: any) => x.name === "guardrails");
        assert.deepEqual(c(candSpec).args, [...c(liveSpec).args, "--evaluation-audit"]);
        assert.ok(!c(liveSpec).args.includes("--evaluation-audit"), "never on the live tier");
        assert.deepEqual(c(candSpec).image, c(liveSpec).image);
        assert.deepEqual(c(candSpec).securityContext, c(liveSpec).securityContext);
        assert.deepEqual(c(candSpec).env, c(liveSpec).env);
        assert.deepEqual(c(candSpec).resources, c(liveSpec).resources);
        assert.deepEqual(candSpec.securityContext, liveSpec.securityContext);
        const rails = (spec: any) => spec.volumes.find((v: any) => v.name === "rails").configMap;
        assert.deepEqual(rails(candSpec), {
            ...rails(liveSpec),
            name: "guardrails-rails-candidate",
        });
        assert.deepEqual(podSpecViolations(candSpec), []);
        assert.equal(candSpec.serviceAccountName, "candidate-guardrails");
        assert.deepEqual(
            (cand.inputs.spec as any).template.metadata.labels["app.kubernetes.io/name"],
            "candidate-guardrails",
        );
        // Its Service exposes the serving port only (no metrics: evaluation traffic is not scraped).
        const svc = named(
            rs,
            "kubernetes:core/v1:Service",
            "llm-guardrails",
            "candidate-guardrails",
        )!;
        assert.deepEqual(
            (svc.inputs.spec as any).ports.map((p: any) => `${p.name}:${p.port}`),
            ["http:8000"],
        );
        assert.deepEqual(
            (svc.inputs.spec as any).selector["app.kubernetes.io/name"],
            "candidate-guardrails",
        );
        // Its ConfigMap starts as the repository's rules, code digest included.
        const cm = (n: string) =>
            named(rs, "kubernetes:core/v1:ConfigMap", "llm-guardrails", n) as RecordedResource;
        assert.deepEqual(
            cm("guardrails-rails-candidate").inputs.data,
            cm("guardrails-rails").inputs.data,
        );
        assert.deepEqual(
            (cm("guardrails-rails-candidate").inputs.metadata as any).annotations,
            (cm("guardrails-rails").inputs.metadata as any).annotations,
        );
        // The live tier's log glob (decision metrics, OCI logging) does not match its pods.
        const glob = guardrailsLogGlob.split("/").pop()!;
        const re = new RegExp(`^${glob.replace(/[.]/g, "[.]").replace(/\*/g, ".*")}$`);
        assert.ok(re.test("guardrails-7d9f8-abcde_llm-guardrails_guardrails-0123.log"));
        assert.ok(!re.test("candidate-guardrails-7d9f8-abcde_llm-guardrails_guardrails-0123.log"));
    });

    it("wires guardrails to inference and the output filter through the mTLS sidecar on loopback", () => {
        const cm = named(
            rs,
            "kubernetes:core/v1:ConfigMap",
            "llm-guardrails",
            "guardrails-rails",
        ) as RecordedResource;
        const config = (cm.inputs.data as any)["config.yml"] as string;
        assert.ok(config.includes("http://127.0.0.1:8001/v1"));
        assert.ok(config.includes("http://127.0.0.1:8003"));
        assert.ok(config.includes("http://127.0.0.1:8004"));
        // The sidecar dials the Services by name, over mTLS, verifying each server's name.
        const sidecar = (
            named(
                rs,
                "kubernetes:core/v1:ConfigMap",
                "llm-guardrails",
                "guardrails-mtls-nginx",
            ) as RecordedResource
        ).inputs.data as any;
        for (const [host, port] of [
            ["inference.llm-inference.svc.cluster.local", 8000],
            ["presidio-analyzer.llm-output-filter.svc.cluster.local", 3000],
            ["presidio-anonymizer.llm-output-filter.svc.cluster.local", 3000],
            ["jailbreak-detection.llm-guardrails.svc.cluster.local", 1337],
        ] as const) {
            assert.ok(sidecar["nginx.conf"].includes(`server ${host}:${port};`), host);
            assert.ok(sidecar["nginx.conf"].includes(`proxy_ssl_name ${host};`), host);
        }
        // The jailbreak heuristics through the sidecar too: only POST /heuristics, over mTLS.
        assert.ok(config.includes("server_endpoint: http://127.0.0.1:8005/heuristics"), config);
        assert.match(
            sidecar["nginx.conf"],
            /listen 127\.0\.0\.1:8005;\n\s+set \$mtls_listener to-jailbreak-detection;\n\s+location = \/heuristics \{\n\s+limit_except POST/,
        );
        // The server reads /config/<id>/; the rails ConfigMap is mounted there read-only.
        const spec = podSpec(deployment("guardrails"));
        const c = spec.containers[0];
        assert.deepEqual(c.command, ["python", "-m", "slp_guardrails"]);
        assert.ok(
            c.args.includes("--config-root=/config") && c.args.includes("--config-id=default"),
        );
        assert.ok(
            c.args.includes("--metrics-port=9464") && c.args.includes("--streaming=buffered"),
        );
        // No invented exporter variables; telemetry off.
        const env = Object.fromEntries(c.env.map((e: any) => [e.name, e.value]));
        assert.ok(!Object.keys(env).some((k) => k.startsWith("NEMO_GUARDRAILS_SERVER_METRICS")));
        assert.equal(env.NEMO_GUARDRAILS_NO_USAGE_STATS, "1");
        assert.deepEqual(
            c.volumeMounts.find((m: any) => m.name === "rails"),
            {
                name: "rails",
                mountPath: "/config/default",
                readOnly: true,
            },
        );
        // The whole ConfigMap (flat keys), so a promoted rule set runs exactly as validated.
        const rails = spec.volumes.find((v: any) => v.name === "rails").configMap;
        assert.equal(rails.items, undefined);
        const data = named(rs, "kubernetes:core/v1:ConfigMap", "llm-guardrails", rails.name)!.inputs
            .data as any;
        assert.ok(data["rails__input.co"] && data["actions.py"] && data["config.yml"]);
        // No secrets in the rails ConfigMap.
        assert.ok(!/api[_-]?key\s*:\s*\S/i.test(config));
    });

    it("annotates the guardrails pods with the rails checksum, so a rule change rolls them", () => {
        const annotations = (deployment("guardrails").inputs.spec as any).template.metadata
            .annotations;
        const expected = railsChecksum(renderedRails(cluster.layer.tiers));
        assert.equal(annotations["secure-llm-platform.io/config-checksum"], expected);
    });

    it("runs inference in the Kata GPU sandbox with GPUs requested as limited, tolerating only GPU and Kata taints", () => {
        const spec = podSpec(deployment("inference"));
        assert.equal(spec.runtimeClassName, "kata-qemu-nvidia-gpu");
        const vllm = spec.containers[0];
        assert.equal(vllm.resources.requests["nvidia.com/pgpu"], "1");
        assert.equal(vllm.resources.limits["nvidia.com/pgpu"], "1");
        assert.equal(vllm.resources.limits["nvidia.com/gpu"], undefined);
        assert.deepEqual(spec.tolerations.map((t: any) => t.key).sort(), [
            "kata",
            "nvidia.com/gpu",
        ]);
        assert.ok(
            vllm.startupProbe.failureThreshold * vllm.startupProbe.periodSeconds >=
                cluster.layer.tiers.inference.startupSeconds,
        );
        assert.ok(vllm.env.some((e: any) => e.name === "HF_HUB_OFFLINE" && e.value === "1"));
    });

    it("decrypts the model in an init container into a size-limited memory volume, read-only for vLLM", () => {
        const spec = podSpec(deployment("inference"));
        const models = spec.volumes.find((v: any) => v.name === "models");
        assert.deepEqual(models.emptyDir, {
            medium: "Memory",
            sizeLimit: `${cluster.layer.tiers.inference.model.sizeGi}Gi`,
        });
        const [init] = spec.initContainers;
        assert.equal(init.name, "storage-initializer");
        assert.deepEqual(init.args, ["$(MODEL_SOURCE)", "/models/llama-3.1-8b-instruct"]);
        assert.equal(init.volumeMounts.find((m: any) => m.name === "models").readOnly, false);
        assert.equal(
            spec.containers[0].volumeMounts.find((m: any) => m.name === "models").readOnly,
            true,
        );
        assert.ok(init.env.some((e: any) => e.name === "OCI_AUTH" && e.value === "workload"));
        assert.ok(
            init.env.some(
                (e: any) =>
                    e.name === "MODEL_VAULT_TRUSTED_KEY_IDS" &&
                    e.value === "ocid1.key.oc1.iad.models,ocid1.key.oc1.iad.signing",
            ),
            "the loader accepts only the vault's model and signing keys",
        );
        const cm = named(
            rs,
            "kubernetes:core/v1:ConfigMap",
            "llm-inference",
            "inference-model",
        ) as RecordedResource;
        assert.equal(
            (cm.inputs.data as any).source,
            "oci-os://tenancyns/models-bucket/llama-3.1-8b-instruct",
        );
    });

    it("gives the workload-identity token to the model loader only, under the IAM-trusted ServiceAccount", () => {
        const spec = podSpec(deployment("inference"));
        assert.equal(spec.serviceAccountName, "inference");
        assert.equal(spec.automountServiceAccountToken, false);
        const tokenVolume = spec.volumes.find((v: any) => v.projected);
        assert.ok(tokenVolume.projected.sources[0].serviceAccountToken.expirationSeconds <= 3600);
        const mounts = (c: any) => (c.volumeMounts ?? []).map((m: any) => m.name);
        assert.ok(mounts(spec.initContainers[0]).includes(tokenVolume.name));
        assert.ok(!mounts(spec.containers[0]).includes(tokenVolume.name), "vLLM has no API token");
    });

    it("gives egress-proxy settings to the model loader only, never to vLLM", () => {
        const spec = podSpec(deployment("inference"));
        const names = (c: any) => (c.env ?? []).map((e: any) => e.name);
        assert.equal(cluster.layer.networkPolicy.engine, "proxy");
        assert.ok(
            names(spec.initContainers[0]).includes("HTTPS_PROXY"),
            names(spec.initContainers[0]).join(),
        );
        for (const c of spec.containers) {
            assert.ok(
                !names(c).some((n: string) => /proxy/i.test(n)),
                `${c.name} has proxy settings`,
            );
        }
    });

    it("autoscales inference within its bounds", () => {
        const hpa = named(
            rs,
            "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
            "llm-inference",
            "inference",
        ) as RecordedResource;
        const { minReplicas, maxReplicas } = cluster.layer.tiers.inference.hpa;
        assert.equal((hpa.inputs.spec as any).minReplicas, minReplicas);
        assert.equal((hpa.inputs.spec as any).maxReplicas, maxReplicas);
    });

    it("exposes only the gateway, over TLS, with body and rate limits", () => {
        const ingresses = of(rs, "kubernetes:networking.k8s.io/v1:Ingress");
        assert.equal(ingresses.length, 1);
        const ing = ingresses[0].inputs as any;
        assert.equal(ing.spec.ingressClassName, "nginx");
        assert.equal(ing.metadata.annotations["cert-manager.io/cluster-issuer"], "platform-ca");
        assert.equal(ing.metadata.annotations["nginx.ingress.kubernetes.io/proxy-body-size"], "1m");
        assert.equal(ing.metadata.annotations["nginx.ingress.kubernetes.io/limit-rps"], "10");
        assert.deepEqual(ing.spec.tls[0].hosts, [ing.spec.rules[0].host]);
        const backends = ing.spec.rules.flatMap((r: any) =>
            r.http.paths.map((p: any) => p.backend.service.name),
        );
        assert.deepEqual(backends, ["gateway"]);
    });

    it("authenticates clients with API keys synced from OCI Vault and forwards only to the guardrails", () => {
        const es = of(rs, "kubernetes:external-secrets.io/v1:ExternalSecret")[0].inputs as any;
        assert.deepEqual(es.spec.secretStoreRef, { kind: "ClusterSecretStore", name: "oci-vault" });
        assert.equal(es.spec.data[0].remoteRef.key, cluster.layer.tiers.gateway.auth.apiKeysSecret);
        const spec = podSpec(deployment("gateway"));
        const keys = spec.volumes.find((v: any) => v.name === "keys");
        assert.equal(
            keys.secret.secretName,
            es.spec.target.name,
            "keys mounted as a file, not env",
        );
        const conf = (
            named(rs, "kubernetes:core/v1:ConfigMap", "llm-gateway", "gateway-nginx")!.inputs
                .data as any
        )["nginx.conf"];
        const upstreams = [...conf.matchAll(/server\s+([a-z0-9.-]+:\d+);/g)].map(
            (m: RegExpMatchArray) => m[1],
        );
        assert.deepEqual(upstreams, ["guardrails.llm-guardrails.svc.cluster.local:8000"]);
        assert.match(conf, /if \(\$api_key_id = ""\) \{\s*return 401;/);
        assert.match(conf, /client_max_body_size 1m;/);
        assert.match(conf, /limit_req_zone \$api_key_id zone=per_key:10m rate=10r\/s;/);
    });

    it("runs nginx under run-gateway.sh, which applies key rotations from the mounted Secret", () => {
        const data = named(rs, "kubernetes:core/v1:ConfigMap", "llm-gateway", "gateway-nginx")!
            .inputs.data as any;
        const spec = podSpec(deployment("gateway"));
        const c = spec.containers.find((x: any) => x.name === "gateway");
        assert.deepEqual(c.command, ["/bin/sh", gatewayPaths.script]);
        const mountOf = (p: string) =>
            c.volumeMounts.find((m: any) => p.startsWith(`${m.mountPath}/`));
        // The script and the conf come from the ConfigMap, the mounted keys from the Secret, the
        // live copy from the pod's writable /tmp.
        const conf = mountOf(gatewayPaths.script);
        assert.equal(
            spec.volumes.find((v: any) => v.name === conf.name).configMap.name,
            "gateway-nginx",
        );
        assert.equal(data["run-gateway.sh"], gatewayRunScript());
        assert.equal(mountOf(gatewayPaths.mountedKeys).name, "keys");
        assert.equal(mountOf(gatewayPaths.liveKeys).readOnly, false);
        assert.ok(data["nginx.conf"].includes(`include ${gatewayPaths.liveKeys};`));
        assert.ok(
            !data["nginx.conf"].includes(gatewayPaths.mountedKeys),
            "nginx never reads the mounted file",
        );
        const script: string = data["run-gateway.sh"];
        assert.ok(script.includes(`conf=${gatewayPaths.conf}\n`));
        for (const p of [gatewayPaths.mountedKeys, gatewayPaths.liveKeys]) {
            assert.ok(script.includes(`'${p}'`), p);
        }
        // The gateway's mTLS certificate is watched too (renewals loaded without a restart).
        assert.ok(script.includes("'/etc/mtls/tls/tls.crt'"));
        // nginx -t's output is discarded (an error can quote a key); only a passing file is applied.
        assert.match(script, /nginx -t -q -e \/dev\/null -c "\$conf" >\/dev\/null 2>&1/);
        assert.match(script, /if apply; then\n\s+kill -HUP "\$pid"/);
    });

    it("runs the output filter as the fixed platform UID, not the image's 1001", () => {
        const spec = podSpec(deployment("presidio-analyzer"));
        assert.equal(spec.securityContext.runAsUser, 10001);
        assert.match(
            spec.containers[0].image,
            /^ghcr\.io\/data-privacy-stack\/presidio-analyzer:[^@]+@sha256:[0-9a-f]{64}$/,
        );
    });
});

describe("LLM tiers unsandboxed on a runc GPU cluster (dev only, explicitly allowed)", () => {
    let rs: RecordedResource[];
    before(async () => {
        resetRecords();
        const raw = stackRaw();
        raw.clusters[0].nodePools = raw.clusters[0].nodePools.map((p: any) =>
            p.role === "gpu" ? { ...p, kata: false } : p,
        );
        raw.tiers = {
            inference: { enabled: true, runtimeClass: "none", allowUnsandboxed: true },
            gateway: { enabled: false },
        };
        rs = await record("llm-runc", parse(raw).clusters[0]);
    });

    it("requests nvidia.com/gpu under runc, without a RuntimeClass or the Kata toleration", () => {
        const d = named(
            rs,
            "kubernetes:apps/v1:Deployment",
            "llm-inference",
            "inference",
        ) as RecordedResource;
        const spec = podSpec(d);
        assert.equal(spec.runtimeClassName, undefined);
        assert.equal(spec.containers[0].resources.limits["nvidia.com/gpu"], "1");
        assert.deepEqual(
            spec.tolerations.map((t: any) => t.key),
            ["nvidia.com/gpu"],
        );
        assert.equal(
            of(rs, "kubernetes:networking.k8s.io/v1:Ingress").length,
            0,
            "gateway disabled",
        );
    });
});
