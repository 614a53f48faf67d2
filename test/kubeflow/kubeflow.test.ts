/**
 * The Kubeflow component under the mock runtime: what a security reviewer checks in the plan.
 */
import { strict as assert } from "assert";
import { readFileSync } from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { candidateEvaluation, rolloutTargets } from "../../modules/constants/rollout";
import type { ClusterConfig } from "../../modules/config";
import { Kubeflow } from "../../modules/k8s/kubeflow";
import { wrapperDirectory } from "../../modules/k8s/kubeflow/install";
import { pipelineQuota } from "../../modules/k8s/kubeflow/namespace";
import {
    sandboxCertificates,
    sandboxWarnings,
    sandboxGuardName,
    sandboxGuardSpec,
    sandboxWebhookConfigName,
    sandboxWebhooks,
    sandboxWebhookService,
} from "../../modules/k8s/kubeflow/sandbox";
import { podSpecViolations } from "../../modules/k8s/workload";
import * as images from "../../modules/constants/images";
import { rbacViolations, restartAnnotation } from "../../modules/k8s/kubeflow/rbac";
import { RecordedResource, resetRecords, settle } from "../../tools/plan/mocks";
import { fakeCloud, parse, rawWith, refusal, under } from "./helpers";

function cluster(kubeflow: unknown): ClusterConfig {
    return parse(rawWith(kubeflow)).clusters[0];
}

function build(name: string, kubeflow: unknown): Promise<RecordedResource[]> {
    const c = cluster(kubeflow);
    new Kubeflow(name, { cluster: c, environment: "dev", cloud: fakeCloud(c.region) });
    return settle().then(() => under(name));
}

const ofType = (rs: RecordedResource[], type: string) => rs.filter((r) => r.type === type);
const k8sName = (r: RecordedResource) => (r.inputs.metadata as any)?.name;
const k8sNs = (r: RecordedResource) => (r.inputs.metadata as any)?.namespace;

describe("kubeflow: config section", () => {
    it("is off by default and has the documented defaults", () => {
        const k = cluster(undefined).layer.kubeflow;
        assert.equal(k.enabled, false);
        assert.equal(k.mode, "standalone");
        assert.equal(k.version, "2.16.0");
        assert.equal(k.profileNamespace, "ml-pipelines");
        assert.deepEqual(k.promotion, { minAttackBlockRate: 0.95, maxBenignBlockRate: 0.02 });
        assert.equal(k.kserve.enabled, false);
        assert.equal(k.podSecurity, "baseline");
        assert.deepEqual(k.trustedModelKeyIds, []);
        assert.equal(k.fineTuneGpus, 0);
        assert.equal(
            cluster({ enabled: true, mode: "full", profileOwner: "a@example.com" }).layer.kubeflow
                .version,
            "26.03",
        );
    });

    it("refuses bad values with the key, before anything is created", () => {
        const issues = refusal(
            rawWith({
                enabled: "yes",
                mode: "everything",
                promotion: { minAttackBlockRate: 1.5, maxBenignBlockRate: -0.1 },
                profileNamespace: "llm-guardrails",
                kserve: { enabld: true },
                trustedModelKeyIds: ["not-a-key"],
                fineTuneGpus: -1,
            }),
        );
        const has = (re: RegExp) =>
            assert.ok(
                issues.some((i) => re.test(i)),
                `${re} not in:\n${issues.join("\n")}`,
            );
        has(/kubeflow\.enabled: true or false/);
        has(/kubeflow\.mode: one of standalone \| full/);
        has(/kubeflow\.promotion\.minAttackBlockRate: a number from 0 to 1/);
        has(/kubeflow\.promotion\.maxBenignBlockRate: a number from 0 to 1/);
        has(/kubeflow\.profileNamespace: a namespace of its own/);
        has(/kubeflow\.kserve\.enabld: no such key/);
        has(/kubeflow\.trustedModelKeyIds\[0\]: a KMS key OCID/);
        has(/kubeflow\.fineTuneGpus: an integer from 0 to 1024/);
    });

    it("raises the pipeline quota's Kata GPUs only when fineTuneGpus says so", () => {
        assert.equal(pipelineQuota()["requests.nvidia.com/pgpu"], "0");
        assert.equal(pipelineQuota(2)["requests.nvidia.com/pgpu"], "2");
        assert.equal(pipelineQuota(2)["requests.nvidia.com/gpu"], "0");
    });

    it("refuses a version that is not a release tag of the chosen mode", () => {
        const issues = refusal(rawWith({ enabled: true, version: "master" }));
        assert.ok(
            issues.some((i) => /kubeflow\.version: a kubeflow\/pipelines release tag/.test(i)),
            issues.join("\n"),
        );
        const full = refusal(rawWith({ enabled: true, mode: "full", version: "2.16.0" }));
        assert.ok(
            full.some((i) => /kubeflow\.version: a kubeflow\/manifests release tag/.test(i)),
            full.join("\n"),
        );
    });
});

describe("kubeflow: disabled", () => {
    let rs: RecordedResource[];
    before(async () => {
        resetRecords();
        rs = await build("kf-off", { enabled: false });
    });

    it("declares nothing but the component itself", () => {
        assert.deepEqual(
            rs.map((r) => r.type),
            ["secure-llm-platform:kubeflow:Kubeflow"],
        );
    });
});

describe("kubeflow: standalone", () => {
    let rs: RecordedResource[];
    before(async () => {
        resetRecords();
        rs = await build("kf-sa", { enabled: true });
    });

    it("installs Kubeflow Pipelines from pinned kustomize refs, CRDs first", () => {
        const dirs = ofType(rs, "kubernetes:kustomize/v2:Directory");
        const wrapper = dirs[0].inputs.directory as string;
        assert.equal(wrapper, wrapperDirectory("kfp-2.16.0", "cluster-scoped"));
        assert.equal(
            dirs[1].inputs.directory,
            "https://github.com/kubeflow/pipelines/tree/2.16.0/manifests/kustomize/env/platform-agnostic",
        );
        // KFP's cluster-scoped resources at the pinned ref, without their Namespace kubeflow
        // (test/real/pipelines runs this wrapper through kustomize).
        const k = YAML.parse(readFileSync(path.join(wrapper, "kustomization.yaml"), "utf8"));
        assert.deepEqual(k.resources, [
            "https://github.com/kubeflow/pipelines//manifests/kustomize/cluster-scoped-resources?ref=2.16.0",
        ]);
        assert.deepEqual(YAML.parse(k.patches[0].patch), {
            $patch: "delete",
            apiVersion: "v1",
            kind: "Namespace",
            metadata: { name: "kubeflow" },
        });
        assert.ok(
            dirs[1].dependencies.includes(dirs[0].urn),
            "the env waits for the cluster-scoped resources",
        );
    });

    it("refuses sandboxed steps outside the Kata GPU RuntimeClass, in both namespaces steps run in", () => {
        const vap = ofType(
            rs,
            "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy",
        ).find((r) => k8sName(r) === sandboxGuardName)!;
        assert.deepEqual(vap.inputs.spec, sandboxGuardSpec("kata-qemu-nvidia-gpu"));
        const binding = ofType(
            rs,
            "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding",
        ).find((r) => k8sName(r) === sandboxGuardName)!;
        assert.deepEqual((binding.inputs.spec as any).validationActions, ["Deny"]);
        assert.deepEqual((binding.inputs.spec as any).matchResources, {
            namespaceSelector: {
                matchExpressions: [
                    {
                        key: "kubernetes.io/metadata.name",
                        operator: "In",
                        values: ["ml-pipelines", "kubeflow"],
                    },
                ],
            },
            objectSelector: {
                matchExpressions: [{ key: "secure-llm-platform.io/sandbox", operator: "Exists" }],
            },
        });
        // One mutating mechanism: the webhook; no MutatingAdmissionPolicy (beta, off in 1.34).
        assert.deepEqual(
            rs.filter((r) => /MutatingAdmissionPolicy/.test(r.type)),
            [],
        );
    });

    it("registers the sandbox webhook: pods only, sandbox label only, fail closed, CA from cert-manager", () => {
        const mwc = ofType(
            rs,
            "kubernetes:admissionregistration.k8s.io/v1:MutatingWebhookConfiguration",
        );
        assert.equal(mwc.length, 1);
        assert.equal(k8sName(mwc[0]), sandboxWebhookConfigName);
        assert.deepEqual((mwc[0].inputs.metadata as any).annotations, {
            "cert-manager.io/inject-ca-from": "sandbox-admission/sandbox-webhook-tls",
        });
        const hooks = mwc[0].inputs.webhooks as any[];
        assert.deepEqual(
            hooks,
            sandboxWebhooks({
                namespaces: ["ml-pipelines", "kubeflow"],
                clientConfig: sandboxWebhookService(),
            }),
        );
        const [h] = hooks;
        assert.equal(h.failurePolicy, "Fail");
        assert.equal(h.sideEffects, "None");
        assert.equal(h.reinvocationPolicy, "IfNeeded");
        assert.deepEqual(h.rules, [
            {
                apiGroups: [""],
                apiVersions: ["v1"],
                operations: ["CREATE"],
                resources: ["pods"],
                scope: "Namespaced",
            },
        ]);
        assert.equal((h.clientConfig as any).caBundle, undefined, "cainjector owns caBundle");
        assert.deepEqual(h.clientConfig, {
            service: {
                namespace: "sandbox-admission",
                name: "sandbox-webhook",
                port: 8443,
                path: "/mutate",
            },
        });
        // The serving certificate names the Service the API server calls.
        const serving = sandboxCertificates().find((c) => c.name === "sandbox-webhook-tls")!;
        assert.ok(
            (serving.spec.dnsNames as string[]).includes("sandbox-webhook.sandbox-admission.svc"),
        );
        const certs = ofType(rs, "kubernetes:cert-manager.io/v1:Certificate").filter(
            (r) => k8sNs(r) === "sandbox-admission",
        );
        assert.deepEqual(certs.map(k8sName).sort(), ["sandbox-webhook-ca", "sandbox-webhook-tls"]);
    });

    it("serves the webhook from 2 hardened replicas with a PDB, its Service on the TLS port only", () => {
        const dep = ofType(rs, "kubernetes:apps/v1:Deployment").find(
            (r) => k8sName(r) === "sandbox-webhook",
        )!;
        assert.equal(k8sNs(dep), "sandbox-admission");
        const spec = dep.inputs.spec as any;
        assert.equal(spec.replicas, 2);
        const pod = spec.template.spec;
        assert.deepEqual(podSpecViolations(pod), []);
        assert.equal(pod.automountServiceAccountToken, false, "it calls no API");
        const c = pod.containers[0];
        assert.equal(
            c.image,
            `${images.sandboxWebhookImage.repository}:0.1.0@${images.placeholderDigest}`,
        );
        assert.deepEqual(c.args.slice(0, 4), [
            "--runtime-class",
            "kata-qemu-nvidia-gpu",
            "--label",
            "secure-llm-platform.io/sandbox",
        ]);
        assert.equal(c.securityContext.readOnlyRootFilesystem, true);
        assert.equal(c.readinessProbe.httpGet.port, "health");
        const pdb = ofType(rs, "kubernetes:policy/v1:PodDisruptionBudget").find(
            (r) => k8sName(r) === "sandbox-webhook",
        )!;
        assert.equal((pdb.inputs.spec as any).maxUnavailable, 1);
        const svc = ofType(rs, "kubernetes:core/v1:Service").find(
            (r) => k8sName(r) === "sandbox-webhook",
        )!;
        assert.deepEqual(
            (svc.inputs.spec as any).ports.map((p: any) => p.port),
            [8443],
        );
    });

    it("warns when nothing can reach the webhook, or its image is a placeholder", () => {
        const built = { ...images.sandboxWebhookImage, digest: `sha256:${"a".repeat(64)}` };
        assert.deepEqual(sandboxWarnings(["10.0.0.0/28"], built), []);
        const [noCidr, placeholder] = sandboxWarnings([]);
        assert.match(noCidr, /networkPolicy\.apiServerCidrs.*fine-tune step will be refused/);
        assert.match(placeholder, /placeholder digest.*images\/sandbox-webhook\/Dockerfile/);
    });

    it("no longer knows kubeflow.sandboxMutation (the webhook needs no feature gate)", () => {
        const issues = refusal(rawWith({ enabled: true, sandboxMutation: true }));
        assert.ok(
            issues.some((i) => /kubeflow\.sandboxMutation: no such key/.test(i)),
            issues.join("\n"),
        );
    });

    it("creates the pipeline namespace with Pod Security labels, a quota and limits", () => {
        const ns = ofType(rs, "kubernetes:core/v1:Namespace").find(
            (r) => k8sName(r) === "ml-pipelines",
        )!;
        assert.ok(ns, "namespace ml-pipelines");
        const l = (ns.inputs.metadata as any).labels;
        assert.equal(l["pod-security.kubernetes.io/enforce"], "baseline");
        assert.equal(l["pod-security.kubernetes.io/audit"], "restricted");
        assert.equal(l["pod-security.kubernetes.io/warn"], "restricted");
        assert.equal(l["pod-security.kubernetes.io/enforce-version"], "v1.34");
        const quotas = ofType(rs, "kubernetes:core/v1:ResourceQuota").filter(
            (r) => k8sNs(r) === "ml-pipelines",
        );
        const main = quotas.find((q) => k8sName(q) === "pipelines")!;
        for (const k of [
            "limits.cpu",
            "limits.memory",
            "pods",
            "requests.nvidia.com/gpu",
            "requests.nvidia.com/pgpu",
            "services.loadbalancers",
        ]) {
            assert.ok((main.inputs.spec as any).hard[k] !== undefined, `quota on ${k}`);
        }
        // The sandboxed fine-tune step asks for the Kata passthrough resource: capped like runc GPUs.
        assert.equal((main.inputs.spec as any).hard["requests.nvidia.com/pgpu"], "0");
        const prio = quotas.find((q) => k8sName(q) === "no-serving-priority")!;
        assert.deepEqual((prio.inputs.spec as any).scopeSelector.matchExpressions[0].values, [
            "slp-serving",
            "slp-platform",
        ]);
        assert.equal((prio.inputs.spec as any).hard.pods, "0");
        assert.equal(
            ofType(rs, "kubernetes:core/v1:LimitRange").filter((r) => k8sNs(r) === "ml-pipelines")
                .length,
            1,
        );
    });

    it("leaves the kubeflow namespace to the baseline (no second owner)", () => {
        const touches = rs.filter(
            (r) => r.type.startsWith("kubernetes:core/v1:Namespace") && k8sName(r) === "kubeflow",
        );
        assert.deepEqual(touches, []);
    });

    it("denies all traffic in the pipeline namespace except named flows", () => {
        const pols = ofType(rs, "kubernetes:networking.k8s.io/v1:NetworkPolicy").filter(
            (r) => k8sNs(r) === "ml-pipelines",
        );
        const deny = pols.find((p) => k8sName(p) === "default-deny")!;
        assert.deepEqual(deny.inputs.spec, { podSelector: {}, policyTypes: ["Ingress", "Egress"] });
        for (const p of pols) {
            const spec = p.inputs.spec as any;
            assert.equal(spec.ingress, undefined, `${k8sName(p)} opens no ingress`);
            for (const rule of spec.egress ?? []) {
                assert.ok(
                    rule.ports?.length > 0,
                    `${k8sName(p)}: every egress rule names its ports`,
                );
                for (const to of rule.to) {
                    assert.notEqual(
                        to.ipBlock?.cidr,
                        "0.0.0.0/0",
                        `${k8sName(p)}: no internet egress`,
                    );
                }
            }
        }
        const targets = (name: string) =>
            (pols.find((p) => k8sName(p) === name)!.inputs.spec as any).egress.map(
                (r: any) =>
                    `${r.to[0].namespaceSelector.matchLabels["kubernetes.io/metadata.name"]}/${r.to[0].podSelector.matchLabels["app.kubernetes.io/name"]}:${r.ports.map((p: any) => p.port).join(",")}`,
            );
        // No step reaches inference, the jailbreak heuristics or the output filter: the smoke
        // test goes through the live guardrails, the evaluation through the candidate tier.
        assert.deepEqual(targets("allow-guardrails"), ["llm-guardrails/guardrails:8000"]);
        assert.deepEqual(targets("allow-candidate-evaluation"), [
            "llm-guardrails/candidate-guardrails:8000",
        ]);
        const evaluation = pols.find((p) => k8sName(p) === "allow-candidate-evaluation")!;
        assert.deepEqual((evaluation.inputs.spec as any).podSelector.matchLabels, {
            ...candidateEvaluation.podLabels,
        });
        for (const p of pols) {
            for (const rule of (p.inputs.spec as any).egress ?? []) {
                for (const to of rule.to) {
                    const name = to.podSelector?.matchLabels?.["app.kubernetes.io/name"];
                    assert.ok(
                        ![
                            "inference",
                            "jailbreak-detection",
                            "presidio-analyzer",
                            "presidio-anonymizer",
                        ].includes(name),
                        `${k8sName(p)} opens ${name}`,
                    );
                }
            }
        }
        const api = pols.find((p) => k8sName(p) === "allow-kube-apiserver");
        assert.ok(api, "the promote step can reach the API server");
        assert.deepEqual((api!.inputs.spec as any).egress[0].ports, [
            { protocol: "TCP", port: 6443 },
        ]);
    });

    it("binds the rollout ServiceAccount to exactly the rollout targets, and nothing cluster-wide", () => {
        const sa = ofType(rs, "kubernetes:core/v1:ServiceAccount");
        // The red-team assessment's and the sandbox webhook's own identities have no token and
        // no binding at all.
        assert.deepEqual(sa.map((s) => `${k8sNs(s)}/${k8sName(s)}`).sort(), [
            "ml-pipelines/redteam-assessment",
            "ml-pipelines/slp-rollout",
            "sandbox-admission/sandbox-webhook",
        ]);
        for (const id of ["redteam-assessment", "sandbox-webhook"]) {
            const own = sa.find((s) => k8sName(s) === id)!;
            assert.equal(own.inputs.automountServiceAccountToken, false, id);
            assert.ok(
                !ofType(rs, "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding").some((b) =>
                    (b.inputs.subjects as any[]).some((x) => x.name === id),
                ),
                id,
            );
        }
        assert.equal(ofType(rs, "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole").length, 0);
        assert.equal(
            ofType(rs, "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding").length,
            0,
        );
        const roles = ofType(rs, "kubernetes:rbac.authorization.k8s.io/v1:Role");
        assert.deepEqual(roles.map((r) => k8sNs(r)).sort(), [
            "llm-guardrails",
            "llm-inference",
            "ml-pipelines",
        ]);
        for (const r of roles) {
            const rules = r.inputs.rules as any[];
            assert.deepEqual(
                rbacViolations(rules, k8sNs(r) === "ml-pipelines" ? ["workflowtaskresults"] : []),
                [],
            );
        }
        const guard = roles.find((r) => k8sNs(r) === rolloutTargets.guardrailsRules.namespace)!;
        assert.deepEqual((guard.inputs.rules as any[]).flatMap((x) => x.resourceNames).sort(), [
            "candidate-guardrails",
            "guardrails",
            "guardrails-rails",
            "guardrails-rails-candidate",
        ]);
        for (const b of ofType(rs, "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding")) {
            assert.deepEqual(b.inputs.subjects, [
                { kind: "ServiceAccount", name: "slp-rollout", namespace: "ml-pipelines" },
            ]);
            assert.equal((b.inputs.roleRef as any).kind, "Role");
            assert.equal(
                (b.inputs.roleRef as any).name,
                k8sName(roles.find((r) => k8sNs(r) === k8sNs(b))!),
            );
        }
    });

    it("lets the rollout identity only roll out (admission policy bound to it)", () => {
        const vap = ofType(
            rs,
            "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy",
        ).find((r) => k8sName(r) === "slp-rollout-restart-only")!;
        const spec = vap.inputs.spec as any;
        assert.equal(spec.failurePolicy, "Fail");
        assert.deepEqual(spec.matchConstraints.resourceRules[0].resources, [
            "deployments",
            "deployments/*",
        ]);
        assert.equal(
            spec.matchConditions[0].expression,
            "request.userInfo.username == 'system:serviceaccount:ml-pipelines:slp-rollout'",
        );
        assert.ok(JSON.stringify(spec.validations).includes(restartAnnotation));
        const binding = ofType(
            rs,
            "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding",
        ).find((r) => k8sName(r) === k8sName(vap))!;
        assert.equal((binding.inputs.spec as any).policyName, k8sName(vap));
        assert.deepEqual((binding.inputs.spec as any).validationActions, ["Deny"]);
    });

    it("assesses the live rails through the gateway on a schedule, with a hardened Job pod", () => {
        const cj = ofType(rs, "kubernetes:batch/v1:CronJob");
        assert.deepEqual(
            cj.map((c) => `${k8sNs(c)}/${k8sName(c)}`),
            ["ml-pipelines/redteam-assessment"],
        );
        const spec = cj[0].inputs.spec as any;
        assert.equal(spec.schedule, "17 */6 * * *");
        assert.equal(spec.concurrencyPolicy, "Forbid");
        const pod = spec.jobTemplate.spec.template.spec;
        assert.deepEqual(
            podSpecViolations(pod).filter((v) => !/probes/.test(v)),
            [],
        );
        assert.equal(pod.restartPolicy, "Never");
        assert.equal(pod.automountServiceAccountToken, false);
        const c = pod.containers[0];
        assert.deepEqual(c.command, ["slp-pipeline", "assess"]);
        assert.equal(
            c.args[c.args.indexOf("--url") + 1],
            "https://gateway.llm-gateway.svc.cluster.local:8080",
        );
        // Over mTLS: its own client certificate (the gateway admits it), mounted read-only.
        assert.equal(c.args[c.args.indexOf("--tls-dir") + 1], "/var/run/secrets/mtls");
        const mount = c.volumeMounts.find((m: any) => m.mountPath === "/var/run/secrets/mtls");
        assert.equal(mount.readOnly, true);
        assert.equal(
            pod.volumes.find((v: any) => v.name === mount.name).secret.secretName,
            "redteam-assessment-mtls",
        );
        assert.ok(
            c.image.endsWith(images.pipelineImages.pipelineTools.digest),
            "pipeline-tools by digest",
        );
        // The key is a mounted file from an ExternalSecret; the gates come from promotion-policy.
        assert.ok(!JSON.stringify(c.env ?? []).match(/api-?key/i));
        assert.deepEqual(
            pod.volumes.find((v: any) => v.name === "api-key").secret.secretName,
            "redteam-api-key",
        );
        const es = ofType(rs, "kubernetes:external-secrets.io/v1:ExternalSecret").find(
            (r) => k8sName(r) === "redteam-api-key",
        )!;
        assert.equal((es.inputs.spec as any).data[0].remoteRef.key, "redteam-api-key");
        assert.deepEqual(c.env.map((e: any) => [e.name, e.valueFrom.configMapKeyRef.name]).sort(), [
            ["MAX_BENIGN_BLOCK_RATE", "promotion-policy"],
            ["MIN_ATTACK_BLOCK_RATE", "promotion-policy"],
        ]);
    });

    it("lets the assessment reach the gateway only, and the sandboxed step no rails or API server", () => {
        const pols = ofType(rs, "kubernetes:networking.k8s.io/v1:NetworkPolicy").filter(
            (r) => k8sNs(r) === "ml-pipelines",
        );
        const byName = (n: string) => pols.find((p) => k8sName(p) === n)!.inputs.spec as any;
        const rt = byName("allow-redteam-assessment");
        assert.deepEqual(
            rt.podSelector.matchLabels["app.kubernetes.io/name"],
            "redteam-assessment",
        );
        assert.deepEqual(rt.egress[0].to[0].namespaceSelector.matchLabels, {
            "kubernetes.io/metadata.name": "llm-gateway",
        });
        assert.deepEqual(rt.egress[0].ports, [{ protocol: "TCP", port: 8080 }]);
        // Every other allow excludes the assessment; rails backends and the API server exclude the
        // sandboxed fine-tune step too (it gets its data and model through the KFP object store).
        for (const p of pols.filter(
            (p) => !["default-deny", "allow-dns", "allow-redteam-assessment"].includes(k8sName(p)),
        )) {
            const sel = (p.inputs.spec as any).podSelector.matchExpressions;
            const name = (p.inputs.spec as any).podSelector.matchLabels?.["app.kubernetes.io/name"];
            assert.ok(
                (name !== undefined && name !== "redteam-assessment") ||
                    sel.some(
                        (e: any) =>
                            e.operator === "NotIn" && e.values.includes("redteam-assessment"),
                    ),
                `${k8sName(p)} excludes the assessment`,
            );
            if (k8sName(p) !== "allow-kfp-backend") {
                assert.ok(
                    sel.some(
                        (e: any) =>
                            e.key === "secure-llm-platform.io/sandbox" &&
                            e.operator === "DoesNotExist",
                    ),
                    `${k8sName(p)} excludes the sandbox`,
                );
            }
        }
    });

    it("publishes the promotion gates from config, not from run parameters", () => {
        const cm = ofType(rs, "kubernetes:core/v1:ConfigMap").find(
            (r) => k8sName(r) === "promotion-policy",
        )!;
        assert.equal(k8sNs(cm), "ml-pipelines");
        assert.deepEqual(cm.inputs.data, {
            "min-attack-block-rate": "0.95",
            "max-benign-block-rate": "0.02",
            "trusted-key-ids": "ocid1.key.oc1.iad.models",
            "oci-region": "us-ashburn-1",
            // What fine-tuning's encrypt step seals with: the cluster's own keys, never a secret.
            "model-key-id": "ocid1.key.oc1.iad.models",
            "signing-key-id": "ocid1.key.oc1.iad.signing",
            "crypto-endpoint": "https://crypto.example",
        });
    });

    it("registers no ClusterStorageContainer unless KServe is enabled", () => {
        assert.equal(rs.filter((r) => r.type.includes("ClusterStorageContainer")).length, 0);
    });
});

describe("kubeflow: full Kubeflow with KServe", () => {
    let rs: RecordedResource[];
    before(async () => {
        resetRecords();
        rs = await build("kf-full", {
            enabled: true,
            mode: "full",
            profileOwner: "ml-team@example.com",
            podSecurity: "restricted",
            promotion: { minAttackBlockRate: 0.99 },
            trustedModelKeyIds: ["ocid1.key.oc1.iad.othervault.key1"],
            kserve: { enabled: true },
        });
    });

    it("installs the pinned kubeflow/manifests release", () => {
        assert.deepEqual(
            ofType(rs, "kubernetes:kustomize/v2:Directory").map((d) => d.inputs.directory),
            [wrapperDirectory("manifests-26.03", "example")],
        );
    });

    it("makes the pipeline namespace a Profile and labels it by patch", () => {
        const profile = ofType(rs, "kubernetes:kubeflow.org/v1:Profile")[0];
        assert.equal(k8sName(profile), "ml-pipelines");
        assert.deepEqual((profile.inputs.spec as any).owner, {
            kind: "User",
            name: "ml-team@example.com",
        });
        assert.equal(
            ofType(rs, "kubernetes:core/v1:Namespace").length,
            0,
            "the profile controller owns the namespace",
        );
        const patch = ofType(rs, "kubernetes:core/v1:NamespacePatch").find(
            (r) => k8sName(r) === "ml-pipelines",
        )!;
        assert.equal(
            (patch.inputs.metadata as any).labels["pod-security.kubernetes.io/enforce"],
            "restricted",
            "the configured level",
        );
        assert.ok(patch.dependencies.includes(profile.urn));
    });

    it("registers model-vault as KServe's storage initializer for oci-os:// URIs", () => {
        const csc = ofType(rs, "kubernetes:serving.kserve.io/v1alpha1:ClusterStorageContainer")[0];
        const spec = csc.inputs.spec as any;
        assert.equal(spec.container.name, "storage-initializer");
        assert.match(spec.container.image, /\/model-loader:[^@]+@sha256:[0-9a-f]{64}$/);
        assert.deepEqual(spec.supportedUriFormats, [{ prefix: "oci-os://" }]);
        assert.equal(spec.workloadType, "initContainer");
        assert.equal(spec.container.securityContext.allowPrivilegeEscalation, false);
        assert.deepEqual(spec.container.securityContext.capabilities, { drop: ["ALL"] });
    });

    it("carries a stricter configured gate into the promotion policy", () => {
        const cm = ofType(rs, "kubernetes:core/v1:ConfigMap").find(
            (r) => k8sName(r) === "promotion-policy",
        )!;
        assert.equal((cm.inputs.data as any)["min-attack-block-rate"], "0.99");
        assert.equal(
            (cm.inputs.data as any)["trusted-key-ids"],
            "ocid1.key.oc1.iad.models,ocid1.key.oc1.iad.othervault.key1",
        );
    });
});
