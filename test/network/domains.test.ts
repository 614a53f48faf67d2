import * as assert from "assert";
import { ConfigValidationError, parseConfig } from "../../modules/config";
import { domainProblem } from "../../modules/k8s/network/intent";
import { okeCluster } from "./fixtures";

describe("network: egress domain validation", () => {
    it("accepts fully qualified names and one leading '*.' wildcard over at least two labels", () => {
        for (const d of [
            "objectstorage.us-ashburn-1.oraclecloud.com",
            "*.kms.us-ashburn-1.oraclecloud.com",
            "hooks.slack.com",
            "a-b.example.io",
        ]) {
            assert.strictEqual(domainProblem(d), undefined, d);
        }
    });

    it("refuses '*', malformed wildcards, IPs, upper case, trailing dots and bare labels", () => {
        const refused: Record<string, RegExp> = {
            "*": /whole internet/,
            "*.": /whole internet/,
            "*.com": /top-level domain/,
            "*foo.com": /at most one wildcard/,
            "a.*.com": /at most one wildcard/,
            "**.example.com": /at most one wildcard/,
            "*.*.example.com": /at most one wildcard/,
            "10.0.0.1": /not an IP/,
            "10.0.0.0/8": /not an IP/,
            "Example.com": /lower-case/,
            "example.com.": /trailing dot/,
            localhost: /two DNS labels/,
            "-bad.example.com": /DNS labels/,
            "example.123": /not numeric/,
            "": /domain name/,
        };
        for (const [d, why] of Object.entries(refused)) {
            const problem = domainProblem(d);
            assert.ok(problem !== undefined && why.test(problem), `${d}: ${problem}`);
        }
    });

    it("reports bad allowlist entries with their key path before anything is created", () => {
        let err: ConfigValidationError | undefined;
        try {
            okeCluster("proxy", {
                alertReceiverDomains: ["hooks.slack.com", "*"],
                extraEgress: { guardrails: ["a.*.com"] },
            });
        } catch (e) {
            err = e as ConfigValidationError;
        }
        assert.ok(err instanceof ConfigValidationError);
        const paths = err.issues.map((i) => i.path);
        assert.ok(
            paths.some((p) => p.endsWith("networkPolicy.alertReceiverDomains[1]")),
            paths.join(),
        );
        assert.ok(
            paths.some((p) => p.endsWith("networkPolicy.extraEgress.guardrails[0]")),
            paths.join(),
        );
    });

    it("refuses extra egress for inference: its allowlist is its model supply chain only", () => {
        assert.throws(
            () => okeCluster("cilium", { extraEgress: { inference: ["huggingface.co"] } }),
            /extraEgress\.inference.*model supply chain|supply chain/s,
        );
    });
});

describe("network: networkPolicy config", () => {
    it("installs open-source Calico by default on OKE with the proxy engine only", () => {
        assert.strictEqual(okeCluster("proxy").layer.networkPolicy.installCalico, true);
        assert.strictEqual(okeCluster("cilium").layer.networkPolicy.installCalico, false);
        assert.strictEqual(
            okeCluster("calico-enterprise").layer.networkPolicy.installCalico,
            false,
        );
        assert.throws(
            () => okeCluster("cilium", { installCalico: true }),
            /installCalico.*cilium/s,
        );
    });

    it("takes the OCI region of an OKE cluster from the cluster", () => {
        assert.strictEqual(okeCluster("proxy").layer.networkPolicy.ociRegion, "us-ashburn-1");
        assert.throws(() => okeCluster("proxy", { ociRegion: "eu-frankfurt-1" }), /ociRegion/);
    });

    it("requires ociRegion and apiServerCidrs for an existing cluster, naming the keys", () => {
        const raw = (networkPolicy: Record<string, unknown>) => ({
            environment: "dev",
            clusters: [
                {
                    name: "onprem",
                    target: "existing",
                    region: "on-prem-fra",
                    capabilities: { cni: "calico" },
                    networkPolicy,
                },
            ],
            "kubeconfig-onprem": "apiVersion: v1",
        });
        const opts = { stack: "test", secretKeys: ["secure-llm-platform:kubeconfig-onprem"] };
        let err: ConfigValidationError | undefined;
        try {
            parseConfig(raw({}), opts);
        } catch (e) {
            err = e as ConfigValidationError;
        }
        assert.ok(err instanceof ConfigValidationError);
        const paths = err.issues.map((i) => i.path).join(" ");
        assert.match(paths, /networkPolicy\.ociRegion/);
        assert.match(paths, /networkPolicy\.apiServerCidrs/);
        const ok = parseConfig(
            raw({ ociRegion: "eu-frankfurt-1", apiServerCidrs: ["192.168.10.0/28"] }),
            opts,
        );
        assert.strictEqual(ok.clusters[0].layer.networkPolicy.ociRegion, "eu-frankfurt-1");
        assert.strictEqual(ok.clusters[0].layer.networkPolicy.installCalico, false);
        assert.throws(
            () =>
                parseConfig(
                    raw({ ociRegion: "eu-frankfurt-1", apiServerCidrs: ["0.0.0.0/0"] }),
                    opts,
                ),
            /not 0\.0\.0\.0\/0/,
        );
    });
});
