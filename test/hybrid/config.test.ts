/** Remote inference config (issue 16): every refusal names the key and what is expected. */
import { strict as assert } from "assert";
import { parse, refusal, stackRaw } from "../support/stacks";

const secretKeys = ["secure-llm-platform:kubeconfig-onprem-fra"];
const hybrid = () => stackRaw("hybrid");
const onprem = (raw: Record<string, any>) => raw.clusters[1];
const refused = (raw: Record<string, unknown>) => refusal(raw, secretKeys);
/** Inference on a cluster without Kata (allowed outside prod) with a model of its own. */
const unsandboxed = {
    enabled: true,
    runtimeClass: "none",
    allowUnsandboxed: true,
    model: { source: "oci-os://ns/bucket/model" },
};
const key = "secure-llm-platform:clusters[1].tiers.guardrails.inferenceFrom";

describe("hybrid: remote inference config", () => {
    it("the hybrid stack parses: the on-premises guardrails name cloud-fra over an IPSec link", () => {
        const cfg = parse(hybrid(), secretKeys);
        const [cloud, site] = cfg.clusters;
        assert.equal(site!.layer.tiers.guardrails.inferenceFrom, "cloud-fra");
        assert.deepEqual(site!.privateLink, {
            to: "cloud-fra",
            cidrs: ["192.168.20.0/24"],
            entryAddress: "10.40.4.20",
            ipsec: { cpeAddress: "203.0.113.10" },
        });
        // The serving cluster learns its callers (derived once, in config).
        assert.deepEqual(cloud!.inferenceClients, [
            {
                cluster: "onprem-fra",
                cidrs: ["192.168.20.0/24"],
                entryAddress: "10.40.4.20",
                vaultReaderUserOcid:
                    "ocid1.user.oc1..aaaaaaaahybridesouser000000000000000000000000000000000000",
            },
        ]);
        assert.equal(site!.inferenceClients, undefined);
    });

    it("refuses a cluster that names itself", () => {
        const raw = hybrid();
        onprem(raw).tiers.guardrails.inferenceFrom = "onprem-fra";
        assert.deepEqual(refused(raw), [
            `${key}: another cluster of the stack: a cluster cannot serve its own remote inference`,
        ]);
    });

    it("refuses a cluster that does not exist, with a did-you-mean", () => {
        const raw = hybrid();
        onprem(raw).tiers.guardrails.inferenceFrom = "cloud-fr";
        assert.deepEqual(refused(raw), [
            `${key}: the name of a cluster of the stack (cloud-fra, onprem-fra) (did you mean "cloud-fra"?)`,
        ]);
    });

    it("refuses a target without inference", () => {
        const raw = hybrid();
        raw.clusters[0].tiers = { inference: { enabled: false } };
        const problems = refused(raw);
        assert.ok(
            problems.includes(
                `${key}: a cluster that serves inference; cloud-fra has tiers.inference.enabled: false`,
            ),
            problems.join("\n"),
        );
    });

    it("refuses a target that is not OKE (the program creates only OCI's side of a link)", () => {
        const raw = hybrid();
        raw.clusters.push({
            ...JSON.parse(JSON.stringify(onprem(raw))),
            name: "onprem-ber",
            tiers: { inference: unsandboxed },
            privateLink: undefined,
            kubeconfigKey: "kubeconfig-onprem-fra",
        });
        onprem(raw).tiers.guardrails.inferenceFrom = "onprem-ber";
        onprem(raw).privateLink.to = "onprem-ber";
        const problems = refused(raw);
        assert.ok(
            problems.includes(
                `${key}: an OKE cluster (the program creates the OCI side of the private link); onprem-ber is target existing`,
            ),
            problems.join("\n"),
        );
    });

    it("refuses remote inference without a private link, or with a link to another cluster", () => {
        let raw = hybrid();
        delete onprem(raw).privateLink;
        const missing = refused(raw);
        assert.equal(missing.length, 1);
        assert.match(
            missing[0]!,
            /^secure-llm-platform:clusters\[1\]\.privateLink: a private link to cloud-fra: \{ to: cloud-fra, cidrs:/,
        );
        raw = hybrid();
        raw.clusters.push({ ...JSON.parse(JSON.stringify(raw.clusters[0])), name: "cloud-ber" });
        raw.clusters[2].network.vcnCidr = "10.41.0.0/16";
        onprem(raw).privateLink.to = "cloud-ber";
        assert.deepEqual(refused(raw), [
            "secure-llm-platform:clusters[1].privateLink.to: cloud-fra, the cluster tiers.guardrails.inferenceFrom names: there is no private link to cloud-fra",
        ]);
    });

    it("refuses a link on a cluster that calls nobody, and a link on an OKE cluster", () => {
        let raw = hybrid();
        delete onprem(raw).tiers.guardrails;
        onprem(raw).tiers.inference = unsandboxed;
        assert.deepEqual(refused(raw), [
            "secure-llm-platform:clusters[1].privateLink: tiers.guardrails.inferenceFrom naming the cluster the link reaches (a private link carries only remote inference)",
        ]);
        raw = hybrid();
        raw.clusters[0].privateLink = onprem(raw).privateLink;
        assert.ok(
            refused(raw).includes(
                "secure-llm-platform:clusters[0].privateLink: privateLink only on a cluster of target existing (OKE clusters of a stack are connected by peering)",
            ),
        );
    });

    it("refuses an entry address outside the target's load balancer subnet and link CIDRs inside its VCN", () => {
        const raw = hybrid();
        onprem(raw).privateLink.entryAddress = "10.40.64.5";
        onprem(raw).privateLink.cidrs = ["10.40.0.0/20", "192.168.20.0/24"];
        assert.deepEqual(refused(raw), [
            "secure-llm-platform:clusters[1].privateLink.entryAddress: an address in cloud-fra's load balancer subnet 10.40.4.0/22",
            "secure-llm-platform:clusters[1].privateLink.cidrs[0]: an on-premises CIDR outside cloud-fra's VCN 10.40.0.0/16",
        ]);
    });

    it("refuses malformed link fields, naming each", () => {
        const raw = hybrid();
        onprem(raw).privateLink = {
            to: "cloud-fra",
            cidrs: ["192.168.20.0"],
            entryAddress: "x",
            ipsec: {},
        };
        assert.deepEqual(refused(raw), [
            "secure-llm-platform:clusters[1].privateLink.cidrs[0]: an IPv4 CIDR block such as 10.0.0.0/16",
            "secure-llm-platform:clusters[1].privateLink.entryAddress: a private IPv4 address in the serving cluster's load balancer subnet",
            "secure-llm-platform:clusters[1].privateLink.ipsec.cpeAddress: the public IPv4 address of the on-premises VPN device",
        ]);
    });

    it("refuses inferenceFrom on a cluster that serves inference itself, or without External Secrets", () => {
        let raw = hybrid();
        onprem(raw).tiers.inference = unsandboxed;
        assert.deepEqual(refused(raw), [
            `${key}: no inferenceFrom while this cluster serves inference itself (tiers.inference.enabled: true)`,
        ]);
        raw = hybrid();
        delete onprem(raw).baseline;
        assert.ok(
            refused(raw).includes(
                "secure-llm-platform:clusters[1].baseline.secrets.existingClusterAuth: External Secrets with an API key: the guardrails' client certificate comes from the serving cluster's vault",
            ),
        );
    });

    it("refuses two callers of one serving cluster that dial different entry addresses", () => {
        const raw = hybrid();
        const second = JSON.parse(JSON.stringify(onprem(raw)));
        second.name = "onprem-ber";
        second.kubeconfigKey = "kubeconfig-onprem-fra";
        second.privateLink.entryAddress = "10.40.4.21";
        second.privateLink.cidrs = ["192.168.30.0/24"];
        raw.clusters.push(second);
        assert.deepEqual(refused(raw), [
            "secure-llm-platform:clusters[2].privateLink.entryAddress: 10.40.4.20, the address onprem-fra gives cloud-fra's entry (one entry per serving cluster)",
        ]);
        second.privateLink.entryAddress = "10.40.4.20";
        const cfg = parse(raw, secretKeys);
        assert.deepEqual(
            cfg.clusters[0]!.inferenceClients!.map((c) => c.cluster),
            ["onprem-fra", "onprem-ber"],
        );
    });
});
