/**
 * The configuration mistakes of test/config/mistakes.test.ts, end to end through the offline plan
 * CLI: exit 2, each mistake once at its stack-file line, no secret, no stack trace, and a
 * missing rails folder as a config error rather than a "program error".
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { lineOf, mistakesStack, prodWith, secret, token, writeStack } from "../../support/mistakes";
import { runPlanCli } from "../../support/plan-cli";

const project = "secure-llm-platform";

const plan = runPlanCli;

describe("config errors through the offline plan", function () {
    this.timeout(300000);
    let dir: string;
    before(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "slp-config-errors-"));
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("end to end: the plan exits 2 with each mistake once at its line, no secret, no trace", async () => {
        const text = mistakesStack();
        writeStack(dir, "m", text);
        const out = path.join(dir, "out");
        const r = await plan(["-s", "m", "--config-dir", dir, "--out", out]);
        assert.equal(r.code, 2, r.out);
        const file = path.join(dir, "Pulumi.m.yaml");
        assert.ok(
            r.out.includes(
                `${file}:${lineOf(text, "replicas: 0")}: ${project}:tiers.guardrails.replicas:`,
            ),
            r.out,
        );
        assert.equal(r.out.split("tiers.guardrails.replicas").length, 2, r.out);
        assert.ok(
            r.out.includes(
                `${file}:${lineOf(text, "rateLimitRps: 0")}: ${project}:clusters[1].tiers.gateway.rateLimitRps`,
            ),
            r.out,
        );
        assert.ok(!r.out.includes(secret) && !r.out.includes(token), r.out);
        assert.doesNotMatch(r.out, /\n\s+at |program error/);
        writeStack(
            dir,
            "rails",
            prodWith([
                [
                    "    guardrails:\n      replicas: 3",
                    "    guardrails:\n      replicas: 3\n      configId: no-such-rails",
                ],
            ]),
        );
        const rails = await plan(["-s", "rails", "--config-dir", dir, "--out", out]);
        assert.equal(rails.code, 2, rails.out);
        assert.match(
            rails.out,
            /config: .*Pulumi\.rails\.yaml:\d+: secure-llm-platform:tiers\.guardrails\.configId: got "no-such-rails"/,
        );
        assert.doesNotMatch(rails.out, /program error/);
    });
});
