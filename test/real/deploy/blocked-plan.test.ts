/**
 * The offline plan of prod renders the whole stack and reports it "blocked" (exit 0): every check
 * passes, but `pulumi up` and `npm run deploy` refuse it until our images are built and pushed and
 * the charts' images are mirrored (modules/images.ts). The deploy's own refusal (exit 2, nothing
 * run) is in deploy.test.ts. Heavy (plans prod), so it runs in `npm run test:real:deploy`.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { planStack, resources } from "../support/plan";

describe("deploy blockers: the offline plan of prod", function () {
    this.timeout(300000);
    let dir: string;
    before(() => {
        dir = planStack("prod"); // throws unless the CLI exits 0
    });

    it("renders every resource although a deploy would refuse the stack", () => {
        assert.ok(resources("prod").length > 400, "the whole stack is rendered");
        assert.ok(fs.existsSync(path.join(dir, "manifests", "prod-iad.yaml")));
    });

    it("says blocked, not clean, and lists each blocker with its key", () => {
        const report = fs.readFileSync(path.join(dir, "report.md"), "utf8");
        assert.match(report, /\*\*Verdict: blocked\.\*\*/);
        assert.doesNotMatch(report, /\*\*Verdict: clean\.\*\*/);
        const section = report.split("## Deploy blockers")[1]?.split("\n## ")[0] ?? "";
        assert.match(
            section,
            /deploy refused: secure-llm-platform:clusters\[0\]\.tiers\.guardrails\.image\.digest/,
        );
        assert.match(section, /deploy refused: secure-llm-platform:clusters\[1\]\.imageSigning/);
    });
});
