/**
 * The one-command deploy end to end under mocks: the real driver (tools/deploy/cli.ts main) and
 * the real Automation API of @pulumi/pulumi 3.248.0, with the `pulumi`, `oci` and `ssh`
 * executables replaced by stand-ins on PATH (test/deploy/fakes) that record their argv and answer
 * like the real CLIs; `ssh-keygen` is the real one. The fake `ssh` really listens on the local
 * port and the fake `pulumi up` of the cluster layer really connects through it, so a tunnel
 * that is not open when the cluster layer runs fails the test.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import { parse, stringify } from "yaml";
import { main, parseDeployArgs } from "../../../tools/deploy/cli";
import { FakeCall, Fakes, makeFakes, withEnv } from "../../deploy/fakes";
import { parse as parseStack, repoRoot } from "../../support/stacks";
import { mirrorManifest } from "../../../modules/images";
import { twinRaw, useFixtureLock } from "../../images/fixtures";

/** A project directory holding Pulumi.yaml and one stack file `twin`: prod's two private clusters, as staging. */
function twinProject(dir: string, edit: (raw: any) => void = () => undefined): string {
    const project = path.join(dir, "project");
    fs.mkdirSync(project);
    fs.copyFileSync(path.join(repoRoot, "Pulumi.yaml"), path.join(project, "Pulumi.yaml"));
    const doc = parse(fs.readFileSync(path.join(repoRoot, "Pulumi.prod.yaml"), "utf8"));
    doc.config["secure-llm-platform:environment"] = "staging";
    // No image mirror unless a test sets one (our images are placeholders).
    delete doc.config["secure-llm-platform:images"];
    edit(doc.config);
    fs.writeFileSync(path.join(project, "Pulumi.twin.yaml"), stringify(doc));
    return project;
}

const outputsFixture = {
    privateClusters: ["prod-iad", "prod-fra"],
    outputs: {
        environment: "staging",
        clusters: {
            "prod-iad": {
                target: "oke",
                region: "us-ashburn-1",
                bastionId: "ocid1.bastion.oc1.iad.aaaafakeiad",
                apiEndpoint: "https://10.30.0.12:6443",
                kubeconfig: "apiVersion: v1\nkind: Config\n",
            },
            "prod-fra": {
                target: "oke",
                region: "eu-frankfurt-1",
                bastionId: "ocid1.bastion.oc1.fra.aaaafakefra",
                apiEndpoint: "https://10.31.0.12:6443",
                kubeconfig: "apiVersion: v1\nkind: Config\n",
            },
        },
    },
};

const opt = (c: FakeCall, name: string) => c.argv[c.argv.indexOf(name) + 1];

async function portOpen(port: number): Promise<boolean> {
    return new Promise((resolve) => {
        const s = net.connect({ host: "127.0.0.1", port }, () => {
            s.destroy();
            resolve(true);
        });
        s.on("error", () => resolve(false));
    });
}

/** Runs the deploy CLI in this process with the fakes first on PATH; stderr lines are collected. */
async function deploy(
    fakes: Fakes,
    argv: string[],
    projectDir: string,
    env: Record<string, string> = {},
) {
    const lines: string[] = [];
    const err = console.error;
    const out = process.stdout.write.bind(process.stdout);
    console.error = (...a: unknown[]) => void lines.push(a.join(" "));
    (process.stdout as any).write = (chunk: unknown) => (lines.push(String(chunk)), true);
    try {
        const code = await withEnv({ ...fakes.env, ...env }, () => main(argv, projectDir));
        return { code, lines };
    } finally {
        console.error = err;
        (process.stdout as any).write = out;
    }
}

describe("deploy: one command, two layers, tunnels opened and closed by the tool", function () {
    this.timeout(60000);

    describe("through the Bastion (two private clusters in two regions)", () => {
        let fakes: Fakes;
        let project: string;
        let result: { code: number; lines: string[] };
        let calls: FakeCall[];
        let stackFileBefore: string;
        before(async () => {
            fakes = makeFakes(["pulumi", "oci", "ssh"]);
            project = twinProject(fakes.dir);
            const fixture = path.join(fakes.dir, "outputs.json");
            fs.writeFileSync(fixture, JSON.stringify(outputsFixture));
            stackFileBefore = fs.readFileSync(path.join(project, "Pulumi.twin.yaml"), "utf8");
            result = await deploy(fakes, ["--stack", "twin", "--access", "bastion"], project, {
                FAKE_PULUMI_OUTPUTS: fixture,
            });
            calls = fakes.calls();
        });
        after(() => fakes.remove());

        it("exits 0 and reports each step", () => {
            assert.equal(result.code, 0, result.lines.join("\n"));
            const steps = result.lines.filter((l) => /^\[\d\/\d\]/.test(l));
            assert.deepEqual(
                steps.map((s) => s.replace(/:.*/, "")),
                [
                    "[1/5] cloud layer",
                    "[2/5] tunnel",
                    "[3/5] tunnel",
                    "[4/5] platform",
                    "[5/5] tunnels",
                ],
            );
        });

        it("runs the cloud layer first without the cluster layer: the Kubernetes providers and their dependents excluded", () => {
            const ups = calls.filter((c) => c.tool === "pulumi" && c.argv[0] === "up");
            assert.equal(ups.length, 2);
            const first = ups[0]!;
            const excluded = first.argv.filter((_, i) => first.argv[i - 1] === "--exclude");
            assert.deepEqual(excluded, [
                "urn:pulumi:twin::secure-llm-platform::pulumi:providers:kubernetes::prod-iad-k8s",
                "urn:pulumi:twin::secure-llm-platform::pulumi:providers:kubernetes::prod-fra-k8s",
            ]);
            assert.ok(first.argv.includes("--exclude-dependents"));
            assert.ok(first.argv.includes("--yes") && first.argv.includes("--skip-preview"));
            assert.equal(opt(first, "--policy-pack"), path.join(project, "policy"));
            assert.equal(opt(first, "--stack"), "twin");
            assert.equal(first.env.SLP_API_ACCESS, undefined, "no tunnel in the cloud layer run");
        });

        it("opens one port-forwarding session per cluster to its private endpoint, in its region, as the stack authenticates", () => {
            const creates = calls.filter(
                (c) =>
                    c.tool === "oci" &&
                    c.argv.slice(0, 3).join(" ") === "bastion session create-port-forwarding",
            );
            assert.deepEqual(
                creates.map((c) => [
                    opt(c, "--bastion-id"),
                    opt(c, "--target-private-ip"),
                    opt(c, "--target-port"),
                    opt(c, "--region"),
                ]),
                [
                    ["ocid1.bastion.oc1.iad.aaaafakeiad", "10.30.0.12", "6443", "us-ashburn-1"],
                    ["ocid1.bastion.oc1.fra.aaaafakefra", "10.31.0.12", "6443", "eu-frankfurt-1"],
                ],
            );
            for (const c of creates) {
                assert.equal(opt(c, "--session-ttl"), "10800");
                assert.equal(opt(c, "--profile"), "DEFAULT");
                assert.equal(
                    opt(c, "--auth"),
                    "security_token",
                    "prod authenticates with a session token",
                );
                assert.match(opt(c, "--ssh-public-key-file")!, /bastion_ed25519\.pub$/);
            }
        });

        it("starts ssh only once the session is ACTIVE, to the session's own bastion host, bound to 127.0.0.1", () => {
            const sshCalls = calls.filter((c) => c.tool === "ssh" && c.listening !== undefined);
            assert.equal(sshCalls.length, 2);
            assert.deepEqual(
                sshCalls.map((c) => opt(c, "-L")),
                ["127.0.0.1:16443:10.30.0.12:6443", "127.0.0.1:16444:10.31.0.12:6443"],
            );
            assert.ok(
                !calls.some((c) => c.tool === "ssh" && c.refused),
                "no ssh refused by the fake bastion",
            );
            for (const c of sshCalls) {
                assert.ok(c.argv.includes("StrictHostKeyChecking=accept-new"));
                assert.match(
                    c.argv[c.argv.length - 1]!,
                    /^ocid1\.bastionsession\.oc1\.[a-z0-9-]+\.fake\d@host\.bastion\.[a-z0-9-]+\.oci\.oraclecloud\.com$/,
                );
            }
        });

        it("runs the whole stack through the open tunnels, handed over in the environment, not the stack file", () => {
            const second = calls.filter((c) => c.tool === "pulumi" && c.argv[0] === "up")[1]!;
            assert.ok(!second.argv.includes("--exclude"));
            assert.deepEqual(JSON.parse(second.env.SLP_API_ACCESS!), {
                "prod-iad": "https://127.0.0.1:16443",
                "prod-fra": "https://127.0.0.1:16444",
            });
            assert.deepEqual(second.reached, { "prod-iad": true, "prod-fra": true });
            assert.equal(
                second.env.OCI_CLI_CONFIG_FILE,
                fakes.ociConfig,
                "the exec plugin's OCI CLI reads the file the OCI providers read",
            );
            assert.equal(
                fs.readFileSync(path.join(project, "Pulumi.twin.yaml"), "utf8"),
                stackFileBefore,
                "the stack file is unchanged",
            );
        });

        it("closes the tunnels and deletes the sessions after the cluster layer", async () => {
            const second = calls.filter((c) => c.tool === "pulumi" && c.argv[0] === "up")[1]!;
            const closed = calls.filter((c) => c.tool === "ssh" && c.closed !== undefined);
            const deletes = calls.filter((c) => c.tool === "oci" && c.argv[2] === "delete");
            assert.equal(closed.length, 2);
            assert.equal(deletes.length, 2);
            for (const c of [...closed, ...deletes]) assert.ok(c.t >= second.t);
            for (const d of deletes) assert.ok(d.argv.includes("--force"));
            const sessions = fakes.stateFile<Record<string, { state: string }>>("sessions.json");
            assert.deepEqual(
                Object.values(sessions).map((s) => s.state),
                ["DELETED", "DELETED"],
            );
            assert.equal(await portOpen(16443), false);
            assert.equal(await portOpen(16444), false);
        });
    });

    it("closes tunnels and sessions when the cluster layer fails, and exits 1", async () => {
        const fakes = makeFakes(["pulumi", "oci", "ssh"]);
        try {
            const project = twinProject(fakes.dir);
            const fixture = path.join(fakes.dir, "outputs.json");
            fs.writeFileSync(fixture, JSON.stringify(outputsFixture));
            const r = await deploy(fakes, ["--stack", "twin"], project, {
                FAKE_PULUMI_OUTPUTS: fixture,
                FAKE_PULUMI_FAIL_CLUSTER_LAYER: "1",
            });
            assert.equal(r.code, 1);
            assert.ok(
                r.lines.some((l) => /deploy twin failed: .*update failed/.test(l)),
                r.lines.join("\n"),
            );
            const sessions = fakes.stateFile<Record<string, { state: string }>>("sessions.json");
            assert.deepEqual(
                Object.values(sessions).map((s) => s.state),
                ["DELETED", "DELETED"],
            );
            assert.equal(fakes.calls().filter((c) => c.tool === "ssh" && c.closed).length, 2);
        } finally {
            fakes.remove();
        }
    });

    it("mirrors and signs the images between the cloud layer and the cluster layer when images.mirror is set", async () => {
        const fakes = makeFakes(["pulumi", "oci", "ssh", "skopeo"]);
        const lock = useFixtureLock(); // the chart images' digests, as a committed lock gives them
        try {
            const raw = twinRaw();
            const project = twinProject(fakes.dir, (config) => {
                config["secure-llm-platform:images"] = raw.images;
                config["secure-llm-platform:tiers"] = raw.tiers;
                config["secure-llm-platform:kubeflow"] = raw.kubeflow;
                config["secure-llm-platform:networkPolicy"] = raw.networkPolicy;
                for (const c of config["secure-llm-platform:clusters"]) c.imageSigning = true;
            });
            const fixture = path.join(fakes.dir, "outputs.json");
            const withKeys = JSON.parse(JSON.stringify(outputsFixture));
            for (const [name, c] of Object.entries<any>(withKeys.outputs.clusters)) {
                c.vaultId = `ocid1.vault.oc1.x.${name}`;
                c.keyIds = { signing: `ocid1.key.oc1.x.${name}` };
            }
            fs.writeFileSync(fixture, JSON.stringify(withKeys));
            const manifest = mirrorManifest(parseStack(raw));
            fakes.writeState(
                "upstream.json",
                Object.fromEntries(manifest.map((e) => [`${e.repository}@${e.digest}`, "{}"])),
            );
            const r = await deploy(fakes, ["--stack", "twin"], project, {
                FAKE_PULUMI_OUTPUTS: fixture,
            });
            assert.equal(r.code, 0, r.lines.join("\n"));
            const calls = fakes.calls();
            const ups = calls.filter((c) => c.tool === "pulumi" && c.argv[0] === "up");
            const signs = calls.filter((c) => c.tool === "oci" && c.argv[3] === "sign-upload");
            assert.equal(signs.length, manifest.length);
            assert.ok(
                manifest.some((e) => e.chart?.name === "kube-prometheus-stack"),
                "chart images are mirrored and signed too",
            );
            assert.ok(
                signs.every((c) => c.t > ups[0]!.t && c.t < ups[1]!.t),
                "signed after the cloud layer, before the cluster layer",
            );
        } finally {
            fakes.remove();
            lock.restore();
        }
    });

    it("previews through tunnels to the clusters that exist, creating and changing nothing (--preview)", async () => {
        const fakes = makeFakes(["pulumi", "oci", "ssh"]);
        try {
            const project = twinProject(fakes.dir);
            const fixture = path.join(fakes.dir, "outputs.json");
            fs.writeFileSync(
                fixture,
                JSON.stringify({ ...outputsFixture, privateClusters: ["prod-iad"] }),
            );
            // The cloud layer exists for prod-iad only (a cluster added since the last deploy).
            const outputs = JSON.parse(JSON.stringify(outputsFixture.outputs));
            delete outputs.clusters["prod-fra"];
            fakes.writeState("outputs.json", outputs);
            const r = await deploy(fakes, ["--stack", "twin", "--preview"], project, {
                FAKE_PULUMI_OUTPUTS: fixture,
            });
            assert.equal(r.code, 0, r.lines.join("\n"));
            const calls = fakes.calls();
            assert.ok(
                !calls.some((c) => c.tool === "pulumi" && c.argv[0] === "up"),
                "no pulumi up",
            );
            const preview = calls.find((c) => c.tool === "pulumi" && c.argv[0] === "preview")!;
            assert.deepEqual(JSON.parse(preview.env.SLP_API_ACCESS!), {
                "prod-iad": "https://127.0.0.1:16443",
            });
            assert.deepEqual(preview.reached, { "prod-iad": true });
            assert.ok(
                r.lines.some((l) =>
                    /prod-fra is not created yet: previewed without a tunnel/.test(l),
                ),
            );
            const sessions = fakes.stateFile<Record<string, { state: string }>>("sessions.json");
            assert.deepEqual(
                Object.values(sessions).map((s) => s.state),
                ["DELETED"],
            );
        } finally {
            fakes.remove();
        }
    });

    it("deploys in one pulumi up with --access direct (a runner inside the VCN): no Bastion, no ssh", async () => {
        const fakes = makeFakes(["pulumi", "oci", "ssh"]);
        try {
            const project = twinProject(fakes.dir);
            const fixture = path.join(fakes.dir, "outputs.json");
            // From inside the VCN the endpoints are reachable without a tunnel.
            fs.writeFileSync(fixture, JSON.stringify({ ...outputsFixture, privateClusters: [] }));
            const r = await deploy(fakes, ["--stack", "twin", "--access", "direct"], project, {
                FAKE_PULUMI_OUTPUTS: fixture,
            });
            assert.equal(r.code, 0, r.lines.join("\n"));
            const calls = fakes.calls();
            assert.equal(calls.filter((c) => c.tool === "pulumi" && c.argv[0] === "up").length, 1);
            assert.ok(!calls.some((c) => c.tool === "oci" || c.tool === "ssh"));
        } finally {
            fakes.remove();
        }
    });

    it("refuses prod before running anything: its images are not all mirrored and signed (exit 2)", async () => {
        const fakes = makeFakes(["pulumi", "oci", "ssh"]);
        try {
            const r = await deploy(fakes, ["--stack", "prod"], repoRoot);
            assert.equal(r.code, 2);
            assert.ok(
                r.lines.some((l) =>
                    /config: images\/chart-images\.lock\.json quay\.io\/prometheus\/prometheus:v3\.10\.0: .*--write-lock/.test(
                        l,
                    ),
                ),
                r.lines.join("\n"),
            );
            assert.deepEqual(fakes.calls(), [], "no executable was run");
        } finally {
            fakes.remove();
        }
    });

    it("refuses an OCI config the providers and the exec plugin cannot authenticate with, before running anything (exit 2)", async () => {
        const fakes = makeFakes(["pulumi", "oci", "ssh"]);
        try {
            const project = twinProject(fakes.dir);
            // The session profile is gone: an API key profile is all the file holds.
            fs.writeFileSync(
                fakes.ociConfig,
                "[DEFAULT]\nuser=ocid1.user.oc1..u\nfingerprint=aa\nkey_file=/k.pem\ntenancy=ocid1.tenancy.oc1..t\n",
            );
            const r = await deploy(fakes, ["--stack", "twin", "--access", "direct"], project);
            assert.equal(r.code, 2, r.lines.join("\n"));
            assert.ok(
                r.lines.some((l) =>
                    l.startsWith(
                        `config: secure-llm-platform:ociAuth.method: got "SecurityToken"; expected a method profile DEFAULT of ${fakes.ociConfig} can serve: it lacks security_token_file`,
                    ),
                ),
                r.lines.join("\n"),
            );
            assert.deepEqual(fakes.calls(), [], "no executable was run");
        } finally {
            fakes.remove();
        }
    });

    it("refuses bad arguments with exit 2 and a suggestion", async () => {
        assert.throws(
            () => parseDeployArgs(["--stack", "prd"], repoRoot),
            /no stack prd.*did you mean "prod"/,
        );
        assert.throws(
            () => parseDeployArgs(["--stack", "dev", "--access", "bastian"], repoRoot),
            /--access: got "bastian"; expected one of bastion, direct \(did you mean "bastion"\?\)/,
        );
        const fakes = makeFakes(["pulumi"]);
        try {
            const r = await deploy(fakes, ["--stak", "dev"], repoRoot);
            assert.equal(r.code, 2);
            assert.deepEqual(fakes.calls(), []);
        } finally {
            fakes.remove();
        }
    });

    it("--dry-run prints the steps and runs nothing", async () => {
        const fakes = makeFakes(["pulumi", "oci", "ssh"]);
        try {
            const project = twinProject(fakes.dir);
            const r = await deploy(fakes, ["--stack", "twin", "--dry-run"], project);
            assert.equal(r.code, 0);
            assert.ok(
                r.lines.some((l) =>
                    /\[3\/5\] tunnel: Bastion session to prod-fra's API endpoint on 127\.0\.0\.1:16444/.test(
                        l,
                    ),
                ),
            );
            assert.deepEqual(fakes.calls(), []);
        } finally {
            fakes.remove();
        }
    });
});
