/**
 * The plan CLI end to end (heavy: it plans a whole two-cluster stack, so it is not in `npm test`):
 * the hybrid stack with one fleet exception removed and a stale one added fails with exit 1, and
 * the fleet section appears in report.md and in --json. Run: npm run test:real:fleet.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse as parseYaml, stringify } from "yaml";
import { runPlanCli } from "../../support/plan-cli";

const root = path.resolve(__dirname, "..", "..", "..");

/** Runs the plan CLI with `--json` and returns its exit code and parsed document. */
async function planJson(args: string[]): Promise<{ code: number; doc: any; out: string }> {
    const { code, out } = await runPlanCli(["--json", ...args]);
    let doc: any;
    try {
        doc = JSON.parse(out.slice(out.indexOf("{")));
    } catch {
        doc = undefined;
    }
    return { code, doc, out };
}

describe("fleet: the plan CLI over the hybrid stack with one exception removed and one stale", function () {
    this.timeout(180000);
    let dir: string;
    let result: { code: number; doc: any; out: string };
    before(async () => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "slp-fleet-"));
        const drift = parseYaml(fs.readFileSync(path.join(root, "Pulumi.hybrid.yaml"), "utf8"));
        const fleet = drift.config["secure-llm-platform:fleet"];
        fleet.exceptions = fleet.exceptions.filter((e: any) => e.name !== "onprem-vault-api-key");
        fleet.exceptions.push({
            name: "stale",
            cluster: "onprem-fra",
            objects: ["CiliumNetworkPolicy/*/*"],
            reason: "left over from an older layout",
        });
        fs.writeFileSync(path.join(dir, "Pulumi.hybrid-drift.yaml"), stringify(drift));
        result = await planJson(["--all", "--config-dir", dir, "--out", path.join(dir, "out")]);
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("fails (exit 1) naming the unaccepted differences and the stale exception, in --json too", () => {
        assert.equal(result.code, 1, result.out.slice(-2000));
        const s = result.doc.stacks[0];
        assert.equal(s.verdict, "violations");
        const fleet = s.problems.filter((p: string) => p.startsWith("fleet: "));
        assert.deepEqual(fleet, [
            "fleet: ClusterSecretStore.external-secrets.io/oci-vault (secret store) differs on onprem-fra at spec.provider.oracle.auth, spec.provider.oracle.principalType, spec.provider.oracle.serviceAccountRef and no fleet.exceptions entry accepts it",
            "fleet: NetworkPolicy.networking.k8s.io/external-secrets/allow-external-secrets (network policy) differs on onprem-fra at spec.egress and no fleet.exceptions entry accepts it",
            "fleet: exception stale (cluster onprem-fra) accepts no difference; remove it or fix its objects",
        ]);
        assert.deepEqual(s.fleet.violations, fleet);
        assert.deepEqual(s.fleet.clusters, ["cloud-fra", "onprem-fra"]);
    });

    it("report.md has the fleet section with every difference and what accepts it", () => {
        const report = fs.readFileSync(path.join(dir, "out", "hybrid-drift", "report.md"), "utf8");
        assert.match(
            report,
            /## Fleet consistency\n\n\d+ object\(s\) compared across `cloud-fra`, `onprem-fra`/,
        );
        assert.match(
            report,
            /\| ClusterSecretStore\.external-secrets\.io\/oci-vault \| .* \| secret store ✗ \| — \|/,
        );
        assert.match(
            report,
            /\| RuntimeClass\.node\.k8s\.io\/kata-qemu \| is missing on onprem-fra \| RuntimeClass \| onprem-no-inference \|/,
        );
    });
});
