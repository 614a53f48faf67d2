/**
 * The GitHub workflows run the deploy command: the shell steps of the deploy job
 * (.github/workflows/deploy.yml) and of the preview job (pull-request.yml) are executed as the
 * runner would (bash, `${{ }}` expressions substituted, the step's env), with the `pulumi`, `oci`
 * and `ssh` stand-ins on PATH (test/deploy/fakes). Steps that install tools or exchange the
 * GitHub OIDC token (which needs GitHub and OCI) are not run; their effect, OCI_CONFIG_FILE and
 * OCI_CLI_CONFIG_FILE in the job's environment, is given to the later steps.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { FakeCall, makeFakes } from "../../deploy/fakes";
import { repoRoot } from "../../support/stacks";

interface WorkflowStep {
    id?: string;
    uses?: string;
    run?: string;
    env?: Record<string, string>;
    with?: Record<string, string>;
}

const notRunHere = new Set(["npm-ci", "tools", "oci-token"]);

/** Substitutes the expressions the steps use: matrix.stack, vars.X (|| 'default'), secrets.X. */
function expand(text: string, stack: string, vars: Record<string, string>): string {
    return text.replace(/\$\{\{\s*(.+?)\s*\}\}/g, (_, expr: string) => {
        const [lhs, dflt] = expr.split("||").map((s) => s.trim());
        let v = "";
        if (lhs === "matrix.stack") v = stack;
        else if (lhs!.startsWith("vars.")) v = vars[lhs!.slice(5)] ?? "";
        else if (lhs!.startsWith("secrets.")) v = `test-secret-${lhs!.slice(8)}`;
        else throw new Error(`unexpected expression ${expr}`);
        return v !== "" ? v : (dflt?.replace(/^'|'$/g, "") ?? "");
    });
}

function runJob(workflow: string, job: string, stack: string) {
    const doc = parse(
        fs.readFileSync(path.join(repoRoot, ".github", "workflows", workflow), "utf8"),
    );
    const steps = doc.jobs[job].steps as WorkflowStep[];
    const fakes = makeFakes(["pulumi", "oci", "ssh", "skopeo"]);
    const fixture = path.join(fakes.dir, "outputs.json");
    fs.writeFileSync(
        fixture,
        JSON.stringify({
            privateClusters: ["dev-iad"],
            outputs: {
                clusters: {
                    "dev-iad": {
                        bastionId: "ocid1.bastion.oc1.iad.aaaadev",
                        apiEndpoint: "https://10.10.0.12:6443",
                    },
                },
            },
        }),
    );
    // A preview finds the cloud layer of an earlier deploy.
    if (job === "preview") {
        fakes.writeState("outputs.json", JSON.parse(fs.readFileSync(fixture, "utf8")).outputs);
    }
    const ran: string[] = [];
    for (const step of steps) {
        if (step.run === undefined || notRunHere.has(step.id ?? "")) continue;
        const env = Object.fromEntries(
            Object.entries(step.env ?? {}).map(([k, v]) => [k, expand(String(v), stack, {})]),
        );
        const r = spawnSync("bash", ["-e", "-c", expand(step.run, stack, {})], {
            cwd: repoRoot,
            encoding: "utf8",
            env: {
                ...process.env,
                ...fakes.env,
                FAKE_PULUMI_OUTPUTS: fixture,
                // Written to $GITHUB_ENV by scripts/oci-token-exchange.sh.
                OCI_CONFIG_FILE: "/runner/temp/oci/config",
                OCI_CLI_CONFIG_FILE: "/runner/temp/oci/config",
                ...env,
            },
        });
        assert.equal(r.status, 0, `step ${step.id}: ${r.stdout}\n${r.stderr}`);
        ran.push(step.id ?? "?");
    }
    const calls = fakes.calls();
    fakes.remove();
    return { steps, ran, calls };
}

const ofTool = (calls: FakeCall[], tool: string, first: string) =>
    calls.filter((c) => c.tool === tool && c.argv[0] === first);

describe("GitHub workflows drive the deploy command (stand-in CLIs)", function () {
    this.timeout(600000);

    it("deploy.yml: one job per stack deploys both layers through a Bastion tunnel it opens and closes", () => {
        const { steps, ran, calls } = runJob("deploy.yml", "deploy", "dev");
        assert.deepEqual(ran, ["pulumi-login", "registry-login", "deploy"]);
        assert.ok(
            !steps.some((s) => s.uses?.startsWith("pulumi/actions") && s.with?.command),
            "no pulumi up outside the deploy command",
        );
        const ups = ofTool(calls, "pulumi", "up");
        assert.equal(ups.length, 2);
        assert.ok(ups[0]!.argv.includes("--exclude"));
        assert.deepEqual(JSON.parse(ups[1]!.env.SLP_API_ACCESS!), {
            "dev-iad": "https://127.0.0.1:16443",
        });
        assert.deepEqual(ups[1]!.reached, { "dev-iad": true });
        assert.equal(ups[1]!.env.OCI_CLI_CONFIG_FILE, "/runner/temp/oci/config");
        assert.equal(calls.filter((c) => c.tool === "ssh" && c.closed).length, 1);
        assert.equal(calls.filter((c) => c.tool === "oci" && c.argv[2] === "delete").length, 1);
        assert.ok(
            !calls.some((c) => c.tool === "skopeo"),
            "dev has no image mirror: no registry login",
        );
    });

    it("pull-request.yml: previews through a tunnel, deploys nothing", () => {
        const { ran, calls } = runJob("pull-request.yml", "preview", "dev");
        assert.deepEqual(ran, ["pulumi-login", "deploy"]);
        assert.equal(ofTool(calls, "pulumi", "up").length, 0);
        const previews = ofTool(calls, "pulumi", "preview");
        assert.equal(previews.length, 1);
        assert.deepEqual(previews[0]!.reached, { "dev-iad": true });
        assert.equal(calls.filter((c) => c.tool === "ssh" && c.closed).length, 1);
    });

    it("every job that deploys or previews gets the OIDC token and runs in an environment", () => {
        for (const [file, job] of [
            ["deploy.yml", "deploy"],
            ["pull-request.yml", "preview"],
        ] as const) {
            const doc = parse(
                fs.readFileSync(path.join(repoRoot, ".github", "workflows", file), "utf8"),
            );
            assert.equal(doc.jobs[job].permissions["id-token"], "write");
            assert.ok(doc.jobs[job].environment, `${file} ${job} has no environment`);
        }
    });
});
