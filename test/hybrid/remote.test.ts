/**
 * Remote inference (issue 16) under mocks and in pure form: the hybrid stack's OCI side of the
 * private link, the two ends in the clusters, the network intent, and the cross-cluster verdicts
 * on the rendered manifests (including manifests changed to break them).
 */
import { strict as assert } from "assert";
import { buildIntent, intentInputs } from "../../modules/k8s/network/intent";
import { protectionRows, renderProtectionMarkdown } from "../../modules/k8s/network/protection";
import { analyzeReachability } from "../../modules/k8s/network/reachability";
import {
    ClusterReachability,
    crossClusterEdges,
    crossClusterViolations,
    renderCrossClusterMarkdown,
} from "../../modules/k8s/network/reachability/cross-cluster";
import { reachabilityViolations } from "../../modules/k8s/network/reachability/verdicts";
import { nginxProxyConf } from "../../modules/k8s/llm/mtls";
import { entryNginxConf, inferenceListener } from "../../modules/k8s/llm/remote";
import {
    linkNsgRules,
    privateLinkPlan,
    privateLinkStatements,
} from "../../modules/oci/private-link";
import { servingFirst } from "../../modules/platform";
import { isKubernetesObject, toManifest } from "../../tools/plan/manifests";
import {
    RecordedResource,
    recordedResources,
    resetRecords,
    settle,
    unwrapSecrets,
} from "../../tools/plan/mocks";
import { parse, stackRaw } from "../support/stacks";

type Any = any;
const secretKeys = ["secure-llm-platform:kubeconfig-onprem-fra"];

/**
 * Renders the whole platform of `cfg` under the mocks, the existing cluster's kubeconfig read from
 * the Pulumi config as in a deployment, and returns what was recorded (secrets unwrapped).
 */
async function renderHybrid(cfg: () => ReturnType<typeof parse>): Promise<RecordedResource[]> {
    resetRecords();
    const pulumi = await import("@pulumi/pulumi");
    pulumi.runtime.setAllConfig(
        { "secure-llm-platform:kubeconfig-onprem-fra": "apiVersion: v1\nkind: Config" },
        secretKeys,
    );
    const { deployPlatform, platformLookups } = await import("../../modules/platform");
    const c = cfg();
    deployPlatform(c, await platformLookups(c));
    await settle();
    return recordedResources().map((r) => ({
        ...r,
        inputs: unwrapSecrets(r.inputs) as Record<string, unknown>,
    }));
}
const hybrid = () => parse(stackRaw("hybrid"), secretKeys);

describe("hybrid: remote inference, pure", () => {
    it("plans one link ending in cloud-fra, routing and admitting only the on-premises CIDRs", () => {
        const [link, ...rest] = privateLinkPlan(hybrid().clusters);
        assert.equal(rest.length, 0);
        assert.equal(link!.cluster, "cloud-fra");
        assert.deepEqual(link!.routedCidrs, ["192.168.20.0/24"]);
        assert.deepEqual(
            linkNsgRules(link!, "vcn-native").map((r) => [r.nsg, r.cidr, r.ports]),
            [
                ["lb", "192.168.20.0/24", [8443, 8443]],
                ["pods", "192.168.20.0/24", [8443, 8443]],
            ],
        );
        assert.deepEqual(
            linkNsgRules(link!, "flannel").map((r) => [r.nsg, r.ports]),
            [
                ["lb", [8443, 8443]],
                ["workers", [30000, 32767]],
            ],
        );
    });

    it("IAM: External Secrets writes only the site's secret; the site's user reads only it", () => {
        const [link] = privateLinkPlan(hybrid().clusters);
        const st = privateLinkStatements({
            compartmentId: "ocid1.compartment.oc1..c",
            clusterId: "ocid1.cluster.oc1..k",
            vaultId: "ocid1.vault.oc1..v",
            keyId: "ocid1.key.oc1..s",
            servingCluster: "cloud-fra",
            sites: link!.sites,
        });
        const secret = "target.secret.name = 'inference-client-cloud-fra-onprem-fra'";
        const manage = st.filter((s) => s.includes("manage secret-family"));
        assert.equal(manage.length, 1);
        assert.ok(
            manage[0]!.includes(secret) &&
                manage[0]!.includes("target.vault.id = 'ocid1.vault.oc1..v'"),
        );
        assert.ok(manage[0]!.includes("request.principal.service_account = 'external-secrets'"));
        const read = st.filter((s) => s.includes("read secret-bundles"));
        assert.equal(read.length, 1);
        assert.ok(
            read[0]!.includes(secret) &&
                read[0]!.includes("request.user.id = 'ocid1.user.oc1..aaaaaaaahybridesouser"),
        );
        assert.ok(
            st.every((s) => s.startsWith("Allow any-user to ") && s.includes(" where ALL {")),
        );
    });

    it("the entry requires a client certificate of its CA and forwards only POST chat completions", () => {
        const conf = entryNginxConf(["onprem-fra"]);
        assert.match(conf, /ssl_verify_client on;/);
        assert.match(conf, /ssl_client_certificate \/etc\/mtls\/remote\/ca\.crt;/);
        assert.match(conf, /"CN=guardrails\.onprem-fra" 1;/);
        assert.match(conf, /ssl_protocols TLSv1\.3;/);
        assert.equal(conf.match(/location /g)!.length, 4, "chat completions, 404, healthz, 404");
        assert.match(conf, /location = \/v1\/chat\/completions \{\s+limit_except POST/);
        assert.match(conf, /server inference\.llm-inference\.svc\.cluster\.local:8000;/);
        // On to inference's sidecar over mTLS with the entry's own tier certificate.
        assert.match(conf, /proxy_pass https:\/\/inference_entry_upstream;/);
        assert.match(conf, /proxy_ssl_certificate \/etc\/mtls\/tls\/tls\.crt;/);
        assert.match(conf, /proxy_ssl_name inference\.llm-inference\.svc\.cluster\.local;/);
    });

    it("the uplink listens on loopback only and verifies the entry's name and CA", () => {
        const conf = nginxProxyConf({
            name: "t",
            listeners: [
                inferenceListener({
                    servingCluster: "cloud-fra",
                    address: "10.40.4.20",
                    port: 8443,
                }),
            ],
            health: { port: 8081 },
        });
        assert.match(conf, /listen 127\.0\.0\.1:8001;/);
        assert.match(conf, /server 10\.40\.4\.20:8443;/);
        assert.match(conf, /proxy_ssl_verify on;/);
        assert.match(conf, /proxy_ssl_name inference-entry\.cloud-fra\.internal;/);
        assert.match(conf, /proxy_ssl_certificate \/etc\/mtls\/remote\/tls\.crt;/);
    });

    it("the intent: the entry admits only the link CIDRs on 8443, only the guardrails reach its address", () => {
        const [cloud, site] = hybrid().clusters;
        const serving = buildIntent(intentInputs(cloud!));
        assert.deepEqual(
            serving.cidrIngress
                .filter((c) => c.to === "inference-entry")
                .map((c) => [c.cidrs, c.ports]),
            [[["192.168.20.0/24"], [8443]]],
        );
        assert.deepEqual(
            serving.flows
                .filter((f) => f.to === "inference" && f.port === 8000)
                .map((f) => f.from)
                .sort(),
            ["guardrails", "inference-entry"],
        );
        const calling = buildIntent(intentInputs(site!));
        const toEntry = calling.cidrEgress.filter((c) => c.cidrs.includes("10.40.4.20/32"));
        assert.deepEqual(
            toEntry.map((c) => [c.from, c.ports]),
            [["guardrails", [8443]]],
        );
        assert.equal(toEntry[0]!.protection!.kind, "mtls");
        assert.ok(
            !calling.workloads.some((w) => w.id === "inference" || w.id === "inference-entry"),
        );
    });

    it("serving clusters are declared before the clusters that call them", () => {
        const [cloud, site] = hybrid().clusters;
        assert.deepEqual(
            servingFirst([site!, cloud!]).map((c) => c.name),
            ["cloud-fra", "onprem-fra"],
        );
    });
});

describe("hybrid: remote inference under mocks", () => {
    let resources: RecordedResource[] = [];
    const clusterObjects = (cluster: string) =>
        resources
            .filter(
                (r) => isKubernetesObject(r) && (r.provider ?? "").includes(`::${cluster}-k8s::`),
            )
            .map((r) => toManifest(r) as unknown as Record<string, unknown>);
    const find = (cluster: string, kind: string, name: string) => {
        const o = clusterObjects(cluster).find(
            (m: Any) => m.kind === kind && m.metadata.name === name,
        ) as Any;
        assert.ok(o, `${cluster}: no ${kind} ${name}`);
        return o;
    };
    const reach = (cluster: string): ClusterReachability => {
        const manifests = clusterObjects(cluster);
        return { cluster, manifests, result: analyzeReachability(manifests) };
    };

    before(async () => {
        resources = await renderHybrid(hybrid);
    });

    it("OCI: a DRG, the CPE, an IPSec connection with static routes, the VCN attached and routed", () => {
        const of = (type: string) => resources.filter((r) => r.type === type);
        assert.equal(of("oci:Core/drg:Drg").length, 1);
        const cpe = of("oci:Core/cpe:Cpe");
        assert.deepEqual(
            cpe.map((c) => c.inputs.ipAddress),
            ["203.0.113.10"],
        );
        const ipsec = of("oci:Core/ipsec:Ipsec");
        assert.equal(ipsec.length, 1);
        assert.deepEqual(ipsec[0]!.inputs.staticRoutes, ["192.168.20.0/24"]);
        assert.equal(ipsec[0]!.inputs.sharedSecret, undefined, "OCI generates the tunnel secrets");
        const att = resources.find((r) => r.name === "cloud-fra-net-drg-attachment");
        assert.ok(att, "the VCN attaches to the DRG");
        const rt = resources.find((r) => r.name === "cloud-fra-net-private-rt")!;
        const routes = (rt.inputs.routeRules as Any[]).filter(
            (x) => x.destination === "192.168.20.0/24",
        );
        assert.equal(routes.length, 1);
        const nsgRules = of(
            "oci:Core/networkSecurityGroupSecurityRule:NetworkSecurityGroupSecurityRule",
        ).filter((r) => r.inputs.source === "192.168.20.0/24");
        assert.deepEqual(
            nsgRules.map((r) => (r.inputs.tcpOptions as Any).destinationPortRange),
            [
                { min: 8443, max: 8443 },
                { min: 8443, max: 8443 },
            ],
        );
        const policy = resources.find((r) => r.name === "cloud-fra-private-link-access-policy")!;
        assert.equal((policy.inputs.statements as string[]).length, 3);
    });

    it("cloud-fra: CA, certificates, entry, internal NLB on the fixed address, client bundle pushed", () => {
        const ca = find("cloud-fra", "Certificate", "secure-llm-platform-mtls-ca");
        assert.equal(ca.spec.isCA, true);
        assert.equal(ca.metadata.namespace, "cert-manager");
        const server = find("cloud-fra", "Certificate", "inference-entry-server");
        assert.deepEqual(server.spec.ipAddresses, ["10.40.4.20"]);
        assert.deepEqual(server.spec.issuerRef, {
            name: "secure-llm-platform-mtls",
            kind: "ClusterIssuer",
            group: "cert-manager.io",
        });
        const client = find("cloud-fra", "Certificate", "guardrails-client-onprem-fra");
        assert.equal(client.spec.commonName, "guardrails.onprem-fra");
        assert.deepEqual(client.spec.usages, ["client auth", "digital signature"]);
        const svc = find("cloud-fra", "Service", "inference-entry-lb");
        assert.equal(svc.spec.type, "LoadBalancer");
        assert.equal(svc.spec.externalTrafficPolicy, "Local");
        assert.equal(
            svc.metadata.annotations["oci-network-load-balancer.oraclecloud.com/internal"],
            "true",
        );
        assert.equal(
            svc.metadata.annotations[
                "oci-network-load-balancer.oraclecloud.com/assigned-private-ipv4"
            ],
            "10.40.4.20",
        );
        assert.deepEqual(svc.spec.selector["app.kubernetes.io/name"], "inference-entry");
        const push = find("cloud-fra", "PushSecret", "guardrails-client-onprem-fra");
        assert.equal(
            push.spec.data[0].match.remoteRef.remoteKey,
            "inference-client-cloud-fra-onprem-fra",
        );
        // The CA's key is never pushed anywhere.
        assert.ok(
            !clusterObjects("cloud-fra").some(
                (m: Any) =>
                    m.kind === "PushSecret" &&
                    m.spec.selector.secret.name === "secure-llm-platform-mtls-ca",
            ),
        );
    });

    it("onprem-fra: guardrails call the uplink on loopback; only the sidecar mounts the key", () => {
        const rails = find("onprem-fra", "ConfigMap", "guardrails-rails");
        assert.match(rails.data["config.yml"], /base_url: http:\/\/127\.0\.0\.1:8001\/v1/);
        const dep = find("onprem-fra", "Deployment", "guardrails");
        const containers = dep.spec.template.spec.containers as Any[];
        const mountsTls = containers.filter((c) =>
            (c.volumeMounts ?? []).some((m: Any) => m.name === "mtls-remote"),
        );
        assert.deepEqual(
            mountsTls.map((c) => c.name),
            ["mtls"],
        );
        const es = find("onprem-fra", "ExternalSecret", "guardrails-uplink-tls");
        assert.equal(es.spec.dataFrom[0].extract.key, "inference-client-cloud-fra-onprem-fra");
        assert.equal(es.spec.target.template.type, "kubernetes.io/tls");
    });

    it("the cross-cluster verdict: only onprem-fra's guardrails reach the entry; the plan is clean", () => {
        const clusters = [reach("cloud-fra"), reach("onprem-fra")];
        for (const c of clusters) assert.deepEqual(reachabilityViolations(c.result), []);
        assert.deepEqual(crossClusterViolations(clusters), []);
        assert.deepEqual(
            crossClusterEdges(clusters).map(
                (e) => `${e.fromCluster}/${e.fromPod} → ${e.address}:${e.port}`,
            ),
            ["onprem-fra/guardrails → 10.40.4.20:8443"],
        );
        const rows = protectionRows(clusters[1]!.result, clusters[1]!.manifests);
        const mtls = rows.filter((r) => r.protection.kind === "mtls");
        // Every tier hop on premises is mTLS, and the one that leaves the cluster.
        assert.deepEqual(mtls.map((r) => [r.from, r.to]).sort(), [
            ["gateway", "guardrails"],
            ["guardrails", "10.40.4.20/32"],
            ["guardrails", "jailbreak-detection"],
            ["guardrails", "presidio-analyzer"],
            ["guardrails", "presidio-anonymizer"],
            ["ingress-nginx", "gateway"],
        ]);
        // What is left plaintext between platform workloads says why.
        for (const r of rows.filter((r) => r.protection.kind === "none")) {
            assert.ok(r.protection.how.length > 20, `${r.from} → ${r.to}`);
        }
    });

    it("the report states the cross-cluster verdict and, per flow, how it is protected", () => {
        const clusters = [reach("cloud-fra"), reach("onprem-fra")];
        const cross = renderCrossClusterMarkdown(clusters);
        assert.match(
            cross,
            /\| cloud-fra \| llm-inference\/inference-entry-lb \| 10\.40\.4\.20:8443 \| yes \| inference-entry \| 192\.168\.20\.0\/24 TCP\/8443 \| onprem-fra\/guardrails \|/,
        );
        assert.match(
            cross,
            /\*\*Verdict:\*\* every path to inference goes through a guardrails tier/,
        );
        const site = renderProtectionMarkdown(clusters[1]!.result, clusters[1]!.manifests);
        assert.match(
            site,
            /\| guardrails \| 10\.40\.4\.20\/32 \| TCP\/8443 \| mTLS \| mTLS \(TLS 1\.3\)/,
        );
        assert.match(
            site,
            /\| gateway \| guardrails \| TCP\/8000 \| mTLS \| mTLS \(TLS 1\.3\): client certificate CN=gateway\.llm-gateway\.svc\.cluster\.local, server certificate guardrails\.llm-guardrails\.svc\.cluster\.local/,
        );
        assert.match(
            site,
            /\| guardrails \| jailbreak-detection \| TCP\/1337 \| mTLS \| .*jailbreak-detection's listener admits only CN=guardrails\.llm-guardrails\.svc\.cluster\.local, CN=candidate-guardrails\.llm-guardrails\.svc\.cluster\.local \|/,
        );
        const cloud = renderProtectionMarkdown(clusters[0]!.result, clusters[0]!.manifests);
        assert.match(cloud, /\| 192\.168\.20\.0\/24 \| inference-entry \| TCP\/8443 \| mTLS \|/);
        assert.match(
            cloud,
            /\| inference-entry \| inference \| TCP\/8000 \| mTLS \| .*inference's listener admits only CN=guardrails\.llm-guardrails\.svc\.cluster\.local, CN=candidate-guardrails\.llm-guardrails\.svc\.cluster\.local, CN=inference-entry\.llm-inference\.svc\.cluster\.local \|/,
        );
        assert.match(cloud, /\| guardrails \| inference \| TCP\/8000 \| mTLS \|/);
    });

    it("fails when another on-premises pod may reach the entry's address", () => {
        const site = reach("onprem-fra");
        const manifests = site.manifests.map((m: Any) =>
            m.kind === "NetworkPolicy" && m.metadata.name === "allow-gateway"
                ? {
                      ...m,
                      spec: {
                          ...m.spec,
                          egress: [
                              ...m.spec.egress,
                              {
                                  to: [{ ipBlock: { cidr: "10.40.0.0/16" } }],
                                  ports: [{ protocol: "TCP", port: 8443 }],
                              },
                          ],
                      },
                  }
                : m,
        );
        const broken = { cluster: "onprem-fra", manifests, result: analyzeReachability(manifests) };
        assert.deepEqual(crossClusterViolations([reach("cloud-fra"), broken]), [
            "cross-cluster: onprem-fra/gateway can reach cloud-fra llm-inference/inference-entry-lb (10.40.4.20:8443) " +
                "in front of inference: only the guardrails may reach a remote inference entry",
        ]);
    });

    it("fails when a pod of the serving cluster can open the entry, or a load balancer fronts inference", () => {
        const cloud = reach("cloud-fra");
        // The entry open to every pod, and the gateway allowed out to every pod.
        const opened = cloud.manifests.map((m: Any) =>
            m.kind === "NetworkPolicy" && m.metadata.name === "allow-inference-entry"
                ? {
                      ...m,
                      spec: {
                          ...m.spec,
                          ingress: [...m.spec.ingress, { from: [{ namespaceSelector: {} }] }],
                      },
                  }
                : m.kind === "NetworkPolicy" && m.metadata.name === "allow-gateway"
                  ? {
                        ...m,
                        spec: {
                            ...m.spec,
                            egress: [...m.spec.egress, { to: [{ namespaceSelector: {} }] }],
                        },
                    }
                  : m,
        );
        const r = analyzeReachability(opened);
        assert.ok(
            reachabilityViolations(r).some((v) =>
                v.includes(
                    "llm-inference/inference-entry can connect to llm-inference/inference on TCP/8000",
                ),
            ),
        );
        const direct = cloud.manifests.map((m: Any) =>
            m.kind === "Service" && m.metadata.name === "inference-entry-lb"
                ? { ...m, spec: { ...m.spec, selector: { "app.kubernetes.io/name": "inference" } } }
                : m,
        );
        const v = crossClusterViolations([
            { cluster: "cloud-fra", manifests: direct, result: cloud.result },
            reach("onprem-fra"),
        ]);
        assert.ok(
            v[0]!.includes(
                "LoadBalancer llm-inference/inference-entry-lb fronts inference pods directly",
            ),
            v.join("\n"),
        );
    });
});

describe("hybrid: the candidate guardrails tier of a calling cluster (Kubeflow on onprem-fra)", () => {
    let resources: RecordedResource[] = [];
    const objects = (cluster: string) =>
        resources
            .filter(
                (r) => isKubernetesObject(r) && (r.provider ?? "").includes(`::${cluster}-k8s::`),
            )
            .map((r) => toManifest(r) as unknown as Record<string, unknown>);

    before(async () => {
        resources = await renderHybrid(() => {
            const raw = stackRaw("hybrid");
            const site = raw.clusters.find((c: Any) => c.name === "onprem-fra");
            site.kubeflow = { enabled: true };
            return parse(raw, secretKeys);
        });
    });

    it("reaches the remote inference through its own sidecar with the shared uplink certificate, and counts as guardrails across clusters", () => {
        const site = objects("onprem-fra");
        const dep = site.find(
            (m: Any) => m.kind === "Deployment" && m.metadata.name === "candidate-guardrails",
        ) as Any;
        assert.ok(dep, "candidate-guardrails on onprem-fra");
        const pod = dep.spec.template.spec;
        assert.deepEqual(
            (pod.containers as Any[]).map((c) => c.name),
            ["guardrails", "mtls"],
        );
        // Its own identity and sidecar configuration; the uplink's client certificate is the
        // cluster's one (the entry admits CN=guardrails.onprem-fra), mounted read-only.
        const secrets = Object.fromEntries(
            (pod.volumes as Any[])
                .filter((v) => v.secret)
                .map((v) => [v.name, v.secret.secretName]),
        );
        assert.deepEqual(secrets, {
            "mtls-tls": "candidate-guardrails-mtls",
            "mtls-remote": "guardrails-uplink-tls",
        });
        const conf = site.find(
            (m: Any) =>
                m.kind === "ConfigMap" && m.metadata.name === "candidate-guardrails-mtls-nginx",
        ) as Any;
        assert.match(
            conf.data["nginx.conf"],
            /listen 127\.0\.0\.1:\d+;\n\s+set \$mtls_listener uplink;/,
        );
        assert.match(
            conf.data["nginx.conf"],
            /"CN=candidate-evaluation\.pipelines\.secure-llm-platform" 1;/,
        );
        assert.doesNotMatch(conf.data["nginx.conf"], /"CN=gateway\./);
        // One uplink client certificate Secret, shared by both tiers.
        assert.equal(
            site.filter(
                (m: Any) =>
                    m.kind === "ExternalSecret" && m.metadata.name === "guardrails-uplink-tls",
            ).length,
            1,
        );
        const clusters: ClusterReachability[] = ["cloud-fra", "onprem-fra"].map((c) => ({
            cluster: c,
            manifests: objects(c),
            result: analyzeReachability(objects(c)),
        }));
        for (const c of clusters) assert.deepEqual(reachabilityViolations(c.result), []);
        assert.deepEqual(crossClusterViolations(clusters), []);
        assert.deepEqual(
            crossClusterEdges(clusters)
                .map((e) => `${e.fromCluster}/${e.fromPod} → ${e.address}:${e.port}`)
                .sort(),
            [
                "onprem-fra/candidate-guardrails → 10.40.4.20:8443",
                "onprem-fra/guardrails → 10.40.4.20:8443",
            ],
        );
    });
});
