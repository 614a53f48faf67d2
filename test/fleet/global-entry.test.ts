/**
 * The steered entry (modules/oci/steering.ts, modules/config/fleet.ts): what OCI DNS traffic
 * management is told (answers, rules, monitor), what a resolver gets as regions fail, and every
 * config error, without mocks. The rule semantics `steer` applies are OCI's documented ones
 * (FILTER → HEALTH → PRIORITY/WEIGHTED → LIMIT); OCI itself does not run here.
 */
import { strict as assert } from "assert";
import type { PlatformConfig } from "../../modules/config";
import { planGlobalEntry, steer } from "../../modules/oci/steering";
import { parse, refusal, stackRaw } from "../support/stacks";

const entryKey = "secure-llm-platform:globalEntry";

function prod(): PlatformConfig {
    return parse(stackRaw("prod"));
}

describe("global entry: planning the steering policy", () => {
    it("prod: FAILOVER over the two regions' own gateway names, in globalEntry.clusters order", () => {
        const cfg = prod();
        const plan = planGlobalEntry(cfg.clusters, cfg.globalEntry!);
        assert.equal(plan.hostname, "llm.example.com");
        assert.equal(plan.template, "FAILOVER");
        assert.deepEqual(
            plan.answers.map((a) => [a.name, a.rtype, a.rdata, a.rank, a.region]),
            [
                ["prod-iad", "CNAME", "llm-iad.example.com", 0, "us-ashburn-1"],
                ["prod-fra", "CNAME", "llm-fra.example.com", 1, "eu-frankfurt-1"],
            ],
        );
        // The template's rule order (dns/steeringPolicy.d.ts): FILTER, HEALTH, PRIORITY, LIMIT.
        assert.deepEqual(
            plan.rules.map((r) => r.ruleType),
            ["FILTER", "HEALTH", "PRIORITY", "LIMIT"],
        );
        assert.deepEqual(plan.rules[0].defaultAnswerDatas, [
            { answerCondition: "answer.isDisabled != true", shouldKeep: true },
        ]);
        assert.deepEqual(plan.rules[2].defaultAnswerDatas, [
            { answerCondition: "answer.pool == 'prod-iad'", value: 0 },
            { answerCondition: "answer.pool == 'prod-fra'", value: 1 },
        ]);
        assert.equal(plan.rules[3].defaultCount, 1);
    });

    it("monitors exactly the answers' rdata over HTTPS on the health path (no key, no guardrails)", () => {
        const cfg = prod();
        const plan = planGlobalEntry(cfg.clusters, cfg.globalEntry!);
        // An answer whose rdata matches no target is "assumed healthy": every answer must be a target.
        assert.deepEqual(
            plan.monitor.targets,
            plan.answers.map((a) => a.rdata),
        );
        assert.deepEqual(
            [plan.monitor.protocol, plan.monitor.port, plan.monitor.method, plan.monitor.path],
            ["HTTPS", 443, "GET", "/healthz"],
        );
        assert.deepEqual([plan.monitor.intervalSeconds, plan.monitor.timeoutSeconds], [10, 10]);
    });

    it("a client is sent to a lost region for at most interval + timeout + TTL seconds", () => {
        const cfg = prod();
        assert.equal(planGlobalEntry(cfg.clusters, cfg.globalEntry!).worstCaseFailoverSeconds, 50);
        const slow = {
            ...cfg.globalEntry!,
            ttl: 300,
            monitor: {
                ...cfg.globalEntry!.monitor,
                intervalSeconds: 60 as const,
                timeoutSeconds: 30 as const,
            },
        };
        assert.equal(planGlobalEntry(cfg.clusters, slow).worstCaseFailoverSeconds, 390);
    });
});

describe("global entry: what a resolver gets as regions fail", () => {
    const cfg = prod();
    const plan = planGlobalEntry(cfg.clusters, cfg.globalEntry!);

    it("both healthy: the first region of globalEntry.clusters", () => {
        const r = steer(plan);
        assert.equal(r.answer?.rdata, "llm-iad.example.com");
        assert.equal(r.empty, false);
    });

    it("the first region's probe fails: the second region", () => {
        assert.equal(steer(plan, { unhealthy: ["prod-iad"] }).answer?.rdata, "llm-fra.example.com");
    });

    it("the second region fails: still the first; an operator-disabled first region: the second", () => {
        assert.equal(steer(plan, { unhealthy: ["prod-fra"] }).answer?.name, "prod-iad");
        assert.equal(steer(plan, { disabled: ["prod-iad"] }).answer?.name, "prod-fra");
    });

    it("globalEntry.disabled drains a region through the FILTER rule, healthy or not", () => {
        const drained = planGlobalEntry(cfg.clusters, {
            ...cfg.globalEntry!,
            disabled: ["prod-iad"],
        });
        assert.deepEqual(
            drained.answers.map((a) => [a.name, a.isDisabled]),
            [
                ["prod-iad", true],
                ["prod-fra", false],
            ],
        );
        assert.equal(steer(drained).answer?.name, "prod-fra");
        assert.equal(steer(drained, { unhealthy: ["prod-fra"] }).empty, true);
    });

    it("no healthy region: no answer left (OCI's reply then is not documented; see docs/multi-region.md)", () => {
        const r = steer(plan, { unhealthy: ["prod-iad", "prod-fra"] });
        assert.equal(r.empty, true);
        assert.equal(r.answer, undefined);
        assert.deepEqual(r.candidates, []);
    });

    it("LOAD_BALANCE: shares by weight among the healthy regions, weight 0 never served", () => {
        const lb = planGlobalEntry(cfg.clusters, {
            ...cfg.globalEntry!,
            policy: "LOAD_BALANCE",
            weights: { "prod-iad": 3, "prod-fra": 1 },
        });
        assert.deepEqual(
            lb.rules.map((r) => r.ruleType),
            ["FILTER", "HEALTH", "WEIGHTED", "LIMIT"],
        );
        assert.deepEqual(steer(lb).shares, { "prod-iad": 0.75, "prod-fra": 0.25 });
        assert.deepEqual(steer(lb, { unhealthy: ["prod-iad"] }).shares, { "prod-fra": 1 });
        const drained = planGlobalEntry(cfg.clusters, {
            ...cfg.globalEntry!,
            policy: "LOAD_BALANCE",
            weights: { "prod-iad": 0, "prod-fra": 1 },
        });
        assert.deepEqual(steer(drained).shares, { "prod-fra": 1 });
        assert.equal(steer(drained, { unhealthy: ["prod-fra"] }).empty, true);
    });
});

describe("global entry: config errors name the key before any resource", () => {
    const withEntry = (patch: (e: Record<string, any>, raw: Record<string, any>) => void) => {
        const raw = stackRaw("prod");
        patch(raw.globalEntry, raw);
        return raw;
    };
    const at = (lines: string[], key: string) =>
        lines.filter((l) => l.startsWith(`${entryKey}${key}:`));

    it("accepts prod as written", () => {
        assert.equal(prod().globalEntry?.hostname, "llm.example.com");
    });

    it("refuses a zone OCID of another kind and a zone name with a trailing dot", () => {
        const lines = refusal(
            withEntry((e) => {
                e.zoneId = "ocid1.compartment.oc1..aaaa";
                e.zone = "example.com.";
            }),
        );
        assert.match(at(lines, ".zoneId")[0], /a DNS zone OCID \(ocid1\.dns-zone\.oc1\.\.aaaa…\)/);
        assert.match(at(lines, ".zone")[0], /public OCI DNS zone .* \(no trailing dot\)/);
    });

    it("refuses a hostname outside the zone", () => {
        const lines = refusal(withEntry((e) => (e.hostname = "llm.example.org")));
        assert.match(at(lines, ".hostname")[0], /a name inside the zone example\.com/);
    });

    it("refuses one region only", () => {
        const lines = refusal(withEntry((e) => (e.clusters = ["prod-iad"])));
        assert.match(
            at(lines, ".clusters")[0],
            /at least 2 clusters in at least 2 regions \(found 1 in 1\)/,
        );
    });

    it("refuses an unknown cluster with a did-you-mean", () => {
        const lines = refusal(withEntry((e) => (e.clusters = ["prod-iad", "prod-fr"])));
        assert.match(at(lines, ".clusters[1]")[0], /did you mean "prod-fra"\?/);
    });

    it("refuses clusters that do not serve the same model", () => {
        const lines = refusal(
            withEntry((_, raw) => {
                raw.clusters[1].tiers.inference = { model: { name: "mistral-7b-instruct" } };
            }),
        );
        assert.match(
            at(lines, ".clusters")[0],
            /clusters that serve the same model .*mistral-7b-instruct on prod-fra/,
        );
    });

    it("refuses a cluster that does not serve the model, or whose gateway is off", () => {
        const lines = refusal(
            withEntry((_, raw) => {
                raw.clusters[1].tiers.inference = { enabled: false };
            }),
        );
        assert.match(
            at(lines, ".clusters[1]")[0],
            /a cluster that serves the model \(prod-fra has tiers\.inference\.enabled: false/,
        );
        const off = refusal(withEntry((_, raw) => (raw.clusters[0].tiers.gateway.enabled = false)));
        assert.match(at(off, ".clusters[0]")[0], /gateway is enabled/);
    });

    it("refuses a region name no public resolver answers, an internal load balancer and ACME", () => {
        const lines = refusal(
            withEntry((_, raw) => {
                delete raw.clusters[0].tiers.gateway.hostname;
                raw.clusters[1].baseline.ingress.public = false;
            }),
        );
        assert.match(
            at(lines, ".clusters[0]")[0],
            /public name \(prod-iad has llm\.prod-iad\.internal\)/,
        );
        assert.match(
            at(lines, ".clusters[1]")[0],
            /baseline\.ingress\.public: true .*vantage points cannot probe/,
        );
        const acme = refusal(
            withEntry(
                (_, raw) => (raw.clusters[0].baseline.ingress.acme = { email: "ops@example.com" }),
            ),
        );
        assert.match(at(acme, ".clusters[0]")[0], /without baseline\.ingress\.acme .*HTTP-01/);
    });

    it("refuses a region name equal to the steered name or to another region's", () => {
        const same = refusal(
            withEntry((_, raw) => (raw.clusters[0].tiers.gateway.hostname = "llm.example.com")),
        );
        assert.match(
            at(same, ".clusters[0]")[0],
            /its own name, not the steered llm\.example\.com/,
        );
        const dup = refusal(
            withEntry((_, raw) => (raw.clusters[1].tiers.gateway.hostname = "llm-iad.example.com")),
        );
        assert.match(at(dup, ".clusters[1]")[0], /llm-iad\.example\.com is also prod-iad's/);
    });

    it("refuses draining an unknown cluster (did-you-mean) or every cluster", () => {
        const lines = refusal(withEntry((e) => (e.disabled = ["prod-iad", "prod-fr"])));
        assert.match(at(lines, ".disabled[1]")[0], /did you mean "prod-fra"\?/);
        const all = refusal(withEntry((e) => (e.disabled = ["prod-iad", "prod-fra"])));
        assert.match(at(all, ".disabled")[0], /at least one cluster left enabled/);
    });

    it("refuses a TTL out of range, a monitor interval OCI does not offer and a timeout above it", () => {
        const lines = refusal(
            withEntry((e) => {
                e.ttl = 5;
                e.monitor = { intervalSeconds: 15, timeoutSeconds: 60 };
            }),
        );
        assert.match(at(lines, ".ttl")[0], /an integer from 10 to 300/);
        assert.match(at(lines, ".monitor.intervalSeconds")[0], /one of 10 \| 30 \| 60/);
        assert.match(at(lines, ".monitor.timeoutSeconds")[0], /at most intervalSeconds \(30\)/);
    });

    it("refuses a misspelt policy with a did-you-mean, weights under FAILOVER, and unknown keys", () => {
        const lines = refusal(
            withEntry((e) => {
                e.policy = "FAILOVR";
                e.weights = { "prod-iad": 2 };
                e.healthPath = "/";
            }),
        );
        assert.match(
            at(lines, ".policy")[0],
            /one of FAILOVER \| LOAD_BALANCE \(did you mean "FAILOVER"\?\)/,
        );
        assert.match(at(lines, ".weights")[0], /no weights unless policy is LOAD_BALANCE/);
        assert.match(at(lines, ".healthPath")[0], /no such key/);
    });

    it("needs a compartment and home region (the policy and monitor live there)", () => {
        const raw = stackRaw("prod");
        delete raw.homeRegion;
        assert.ok(
            refusal(raw).some(
                (l) =>
                    l.startsWith("secure-llm-platform:homeRegion:") &&
                    /globalEntry creates/.test(l),
            ),
        );
    });
});

describe("fleet exceptions: config errors", () => {
    const key = "secure-llm-platform:fleet.exceptions[0]";
    it("refuses an unknown cluster (did-you-mean), a bad pattern, no reason, duplicate names", () => {
        const raw = stackRaw("hybrid");
        raw["kubeconfig-onprem-fra"] = "apiVersion: v1\nkind: Config";
        raw.fleet.exceptions[0].cluster = "onprem-fr";
        raw.fleet.exceptions[0].objects = ["NetworkPolicy//x y"];
        delete raw.fleet.exceptions[0].reason;
        raw.fleet.exceptions[1].name = raw.fleet.exceptions[0].name;
        const lines = refusal(raw, ["secure-llm-platform:kubeconfig-onprem-fra"]);
        assert.match(
            lines.find((l) => l.startsWith(`${key}.cluster:`))!,
            /did you mean "onprem-fra"\?/,
        );
        assert.match(
            lines.find((l) => l.startsWith(`${key}.objects[0]:`))!,
            /Kind\/namespace\/name/,
        );
        assert.match(lines.find((l) => l.startsWith(`${key}.reason:`))!, /a sentence/);
        assert.ok(lines.some((l) => l.startsWith("secure-llm-platform:fleet.exceptions[1].name:")));
    });
});
