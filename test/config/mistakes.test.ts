/**
 * The classes of configuration mistakes (issue 18): each is reported once, as an exit-2 config
 * error, at the stack-file line the user wrote, without echoing a secret or a stack trace.
 * In process through parseConfig/preflight with the plan's line mapping; the same stacks through
 * the plan CLI are in test/real/config (two plan runs are too slow for the fast suite).
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import {
    ConfigIssue,
    ConfigValidationError,
    decodeConfigValue,
    formatIssue,
    parseConfig,
    stackFileLocator,
} from "../../modules/config";
import { preflightIssues } from "../../modules/preflight";
import { stackRaw } from "../support/stacks";
import { readStackConfig } from "../../tools/plan/stackfile";
import { lineOf, mistakesStack, prodWith, secret, token, writeStack } from "../support/mistakes";

const project = "secure-llm-platform";

/** Issues of a stack file as the plan reports them: parsed, then placed at their lines. */
function located(dir: string, name: string): readonly ConfigIssue[] {
    const sc = readStackConfig(dir, name);
    const raw: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(sc.values)) {
        if (k.startsWith(`${project}:`)) {
            raw[k.slice(project.length + 1)] = decodeConfigValue(v);
        }
    }
    try {
        const cfg = parseConfig(raw, { stack: name, secretKeys: sc.secretKeys });
        const issues = preflightIssues(cfg);
        return new ConfigValidationError(issues).withLocations(stackFileLocator(sc.file, project))
            .issues;
    } catch (e) {
        assert.ok(e instanceof ConfigValidationError, String(e));
        return e.withLocations(stackFileLocator(sc.file, project)).issues;
    }
}

describe("configuration mistakes: once, at the user's line, no secrets", function () {
    this.timeout(60000);
    let dir: string;
    let text: string;
    let issues: readonly ConfigIssue[];
    before(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "slp-mistakes-"));
        text = mistakesStack();
        writeStack(dir, "m", text);
        issues = located(dir, "m");
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    const at = (p: string) => issues.filter((i) => i.path === `${project}:${p}`);

    it("reports a stack-level mistake of a two-cluster stack once, at the stack-level line", () => {
        const hits = issues.filter((i) => i.path.endsWith("tiers.guardrails.replicas"));
        assert.equal(hits.length, 1, issues.map(formatIssue).join("\n"));
        assert.equal(hits[0].path, `${project}:tiers.guardrails.replicas`);
        assert.equal(hits[0].location, `Pulumi.m.yaml:${lineOf(text, "replicas: 0")}`);
        assert.match(hits[0].expected, /an integer from 1 to 50/);
    });

    it("reports a cluster override's mistake at the cluster's own line, and nothing it did not write", () => {
        const [rps] = at("clusters[1].tiers.gateway.rateLimitRps");
        assert.ok(rps, issues.map(formatIssue).join("\n"));
        assert.equal(rps.location, `Pulumi.m.yaml:${lineOf(text, "rateLimitRps: 0")}`);
        const [replicas] = at("clusters[1].tiers.inference.replicas");
        assert.ok(replicas, "a section rule (prod needs 2 replicas) at the override's key");
        assert.match(replicas.expected, /at least 2 in prod/);
        assert.equal(replicas.location, `Pulumi.m.yaml:${lineOf(text, "          replicas: 1")}`);
        assert.deepEqual(
            issues.filter((i) => i.path.includes("clusters[1].tiers.guardrails")),
            [],
            "the inherited guardrails value is the stack's, not the cluster's",
        );
        assert.deepEqual(
            issues.filter((i) => i.path.includes("clusters[0]")),
            [],
            "the first cluster wrote nothing wrong",
        );
    });

    it("never echoes a value under an unknown key, and suggests the key meant", () => {
        const [made] = at("dbPassword");
        assert.ok(made);
        assert.equal(made.location, `Pulumi.m.yaml:${lineOf(text, "dbPassword")}`);
        const [typo] = at("clusters[1].tiers.gateway.replicaz");
        assert.match(typo.expected, /did you mean "replicas"\?/);
        const [key] = at("clusters[1].tiers.gateway.apiKey");
        assert.ok(key);
        const all = new ConfigValidationError(issues).message;
        assert.ok(!all.includes(secret), all);
        assert.ok(!all.includes(token), all);
        assert.match(all, /dbPassword: got a value \(value not shown\)/);
    });

    it("suggests the enum value meant", () => {
        const [mode] = at("vault.protectionMode");
        assert.match(mode.expected, /one of HSM \| SOFTWARE \(did you mean "HSM"\?\)/);
        assert.equal(mode.location, `Pulumi.m.yaml:${lineOf(text, "protectionMode: HMS")}`);
    });

    it("does not echo credential-looking values even under known keys", () => {
        const raw = { environment: "dev", clusters: [], tags: { x: 5 } };
        const e = (() => {
            try {
                parseConfig({ ...raw, homeRegion: `${secret}` }, { stack: "t" });
            } catch (err) {
                return err as ConfigValidationError;
            }
            return assert.fail("refused");
        })();
        assert.ok(
            e.message.includes(
                "homeRegion: got a value (value not shown: it looks like a credential)",
            ),
            e.message,
        );
        assert.ok(!e.message.includes(secret));
    });

    it("refuses a missing rails folder as a configuration error at the key that names it", () => {
        const t = prodWith([
            [
                "    guardrails:\n      replicas: 3",
                "    guardrails:\n      replicas: 3\n      configId: no-such-rails",
            ],
        ]);
        writeStack(dir, "rails", t);
        const found = located(dir, "rails");
        assert.equal(found.length, 1, found.map(formatIssue).join("\n"));
        assert.equal(found[0].path, `${project}:tiers.guardrails.configId`);
        assert.equal(
            found[0].location,
            `Pulumi.rails.yaml:${lineOf(t, "configId: no-such-rails")}`,
        );
        assert.match(found[0].expected, /rails configuration no-such-rails not found/);
    });

    it("is a pulumi.RunError whose whole text is the list, once, without a stack trace", () => {
        const e = new ConfigValidationError(issues);
        assert.ok(pulumi.RunError.isInstance(e), "pulumi's run handler prints only err.message");
        assert.doesNotMatch(e.message, /\n\s+at /);
        assert.doesNotMatch(String(e.stack), /\n\s+at /);
        assert.equal(e.message.split("secure-llm-platform:tiers.guardrails.replicas").length, 2);
    });
});

describe("configuration mistakes: a stack-level rule broken for several clusters", () => {
    it("is one issue at the stack-level key naming every cluster it breaks", () => {
        const raw = stackRaw("prod");
        delete raw.observability;
        let e: ConfigValidationError | undefined;
        try {
            parseConfig(raw, { stack: "prod" });
        } catch (err) {
            e = err as ConfigValidationError;
        }
        assert.ok(e instanceof ConfigValidationError);
        const hits = e.issues.filter((i) => i.path.endsWith("observability.alerting.receivers"));
        assert.equal(hits.length, 1, e.message);
        assert.equal(hits[0].path, "secure-llm-platform:observability.alerting.receivers");
        assert.match(hits[0].expected, /\(cluster prod-iad, prod-fra\)/);
    });
});

describe("configuration mistakes: one switch for a public ingress load balancer", function () {
    this.timeout(60000);
    // Each row: edits of the prod stack (prod-iad's override sets ingress.public: true), then
    // the issues at their lines, or, when accepted, each OKE cluster's resolved
    // network.publicLoadBalancers (it follows baseline.ingress.public).
    const iadNet = "        vcnCidr: 10.30.0.0/16\n";
    const rows: {
        readonly name: string;
        readonly edits: [string, string][];
        readonly refused?: { at: string; path: string; expected: string }[];
        readonly resolved?: boolean[];
    }[] = [
        {
            name: "a public ingress: the LB network follows it, unset or agreeing",
            edits: [[iadNet, `${iadNet}        publicLoadBalancers: true\n`]],
            resolved: [true, true],
        },
        {
            name: "a public ingress with a private LB network is refused, naming both keys",
            edits: [[iadNet, `${iadNet}        publicLoadBalancers: false\n`]],
            refused: [
                {
                    at: "publicLoadBalancers: false",
                    path: "clusters[0].network.publicLoadBalancers",
                    expected: `true or no value: it follows ${project}:clusters[0].baseline.ingress.public (true), the one switch for a public ingress load balancer; change that key instead`,
                },
            ],
        },
        {
            name: "a public LB network under an internal ingress is refused, naming the stack-level key",
            edits: [
                // prod-iad's ingress becomes internal (the default) ...
                ["      baseline:\n        ingress:\n          public: true\n", ""],
                // ... so it cannot be the steered entry (its monitors probe from the internet).
                [
                    "    policy: FAILOVER\n    ttl: 30\n    clusters: [prod-iad, prod-fra]\n",
                    "    policy: FAILOVER\n    ttl: 30\n    clusters: [prod-fra, prod-fra2]\n",
                ],
                [iadNet, `${iadNet}        publicLoadBalancers: true\n`],
            ],
            refused: [
                {
                    at: "publicLoadBalancers: true",
                    path: "clusters[0].network.publicLoadBalancers",
                    // Unset at both levels: named where the stack file holds more of its path.
                    expected: `false or no value: it follows ${project}:baseline.ingress.public (false), the one switch for a public ingress load balancer; change that key instead`,
                },
            ],
        },
    ];
    let dir: string;
    before(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "slp-public-lb-"));
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    rows.forEach((row, n) => {
        it(row.name, () => {
            const text = prodWith(row.edits);
            writeStack(dir, `lb${n}`, text);
            const issues = located(dir, `lb${n}`).filter((i) => !i.path.includes("globalEntry"));
            if (row.refused === undefined) {
                assert.deepEqual(issues.map(formatIssue), []);
                const sc = readStackConfig(dir, `lb${n}`);
                const raw = Object.fromEntries(
                    Object.entries(sc.values).map(([k, v]) => [
                        k.slice(project.length + 1),
                        decodeConfigValue(v),
                    ]),
                );
                const cfg = parseConfig(raw, { stack: `lb${n}` });
                assert.deepEqual(
                    cfg.clusters.map((c) => c.network?.publicLoadBalancers),
                    row.resolved,
                );
                return;
            }
            assert.deepEqual(
                issues.map(formatIssue),
                row.refused.map(
                    (r) =>
                        `Pulumi.lb${n}.yaml:${lineOf(text, r.at)}: ${project}:${r.path}: got ${r.at.endsWith("true") ? "true" : "false"}; expected ${r.expected}`,
                ),
            );
        });
    });
});
