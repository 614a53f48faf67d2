/**
 * The GitHub workflows run the deploy command: the shell steps of the deploy job
 * (.github/workflows/deploy.yml) and of the preview job (pull-request.yml) are executed as the
 * runner would (bash, `${{ }}` expressions substituted, the step's env, each step's $GITHUB_ENV
 * lines added to the later steps' environment), with the `pulumi`, `oci` and `ssh` stand-ins on
 * PATH (test/deploy/fakes). The token-exchange step (scripts/oci-token-exchange.sh: real bash,
 * curl, jq, openssl) runs against a STAND-IN of GitHub's OIDC token endpoint and of the identity
 * domain's token-exchange endpoint (a local HTTP server answering as their documentation says).
 * Steps that install tools are not run.
 */
import { strict as assert } from "assert";
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as path from "path";
import { parse } from "yaml";
import {
    kubeconfigForRun,
    ociAuthIssues,
    ociConfigProfiles,
    providerConfigFile,
} from "../../../modules/access";
import { parsedStack } from "../../../tools/deploy/cli";
import { fakeKubeconfig } from "../../../tools/plan/fakes/oci";
import { FakeCall, makeFakes } from "../../deploy/fakes";
import { repoRoot } from "../../support/stacks";
import { ensureVenv } from "../support/install";
import { planStack } from "../support/plan";

interface WorkflowStep {
    id?: string;
    uses?: string;
    run?: string;
    env?: Record<string, string>;
    with?: Record<string, string>;
}

const notRunHere = new Set(["npm-ci", "tools"]);

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

const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
/** An unsigned JWT with the claims a session token carries (the OCI CLI checks only `exp`). */
export function jwt(claims: Record<string, unknown>): string {
    return `${b64url({ alg: "RS256", typ: "JWT" })}.${b64url(claims)}.c2lnbmF0dXJl`;
}

/** What the stand-in identity endpoints were asked and answered. */
export interface Identity {
    readonly url: string;
    readonly githubToken: string;
    /** The session token (UPST) the token exchange issued. */
    readonly upst: string;
    /** The form of each token-exchange request. */
    readonly exchanges: URLSearchParams[];
    close(): Promise<void>;
}

/**
 * Stand-in of GitHub's OIDC token endpoint (`GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=…` with
 * the request token as bearer → `{"value": <JWT>}`) and of the identity domain's
 * `/oauth2/v1/token` token exchange (client credentials as basic auth, the GitHub JWT as
 * subject_token, the session key's public key → `{"token": <UPST>}`).
 */
export async function identityStandIn(): Promise<Identity> {
    const now = Math.floor(Date.now() / 1000);
    const githubToken = jwt({ iss: "https://token.actions.githubusercontent.com", exp: now + 300 });
    const upst = jwt({ sub: "ocid1.user.oc1..ci", iat: now, exp: now + 3600, ttype: "upst" });
    const exchanges: URLSearchParams[] = [];
    const server = http.createServer((req, res) => {
        let body = "";
        req.on("data", (d) => (body += d));
        req.on("end", () => {
            const url = new URL(req.url ?? "/", "http://x");
            const reply = (code: number, v: unknown) => {
                res.writeHead(code, { "content-type": "application/json" });
                res.end(JSON.stringify(v));
            };
            if (req.method === "GET" && url.pathname === "/oidc") {
                if (req.headers.authorization !== "Bearer test-request-token")
                    return reply(401, {});
                return reply(200, { value: githubToken });
            }
            if (req.method === "POST" && url.pathname === "/oauth2/v1/token") {
                const expected = `Basic ${Buffer.from("test-client:test-secret-OCI_TOKEN_EXCHANGE_CLIENT_SECRET").toString("base64")}`;
                const form = new URLSearchParams(body);
                exchanges.push(form);
                if (req.headers.authorization !== expected) return reply(401, {});
                if (form.get("subject_token") !== githubToken) return reply(400, {});
                return reply(200, { token: upst });
            }
            reply(404, {});
        });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    return {
        url: `http://127.0.0.1:${port}`,
        githubToken,
        upst,
        exchanges,
        close: () => new Promise((r) => server.close(() => r())),
    };
}

function bash(script: string, env: NodeJS.ProcessEnv) {
    return new Promise<{ status: number; out: string }>((resolve) => {
        const child = spawn("bash", ["-e", "-c", script], { cwd: repoRoot, env });
        let out = "";
        child.stdout.on("data", (d) => (out += d));
        child.stderr.on("data", (d) => (out += d));
        child.on("exit", (code) => resolve({ status: code ?? -1, out }));
    });
}

/** Runs a job's shell steps; returns them, the ids that ran, the stand-ins' calls and the job env. */
export async function runJob(
    workflow: string,
    job: string,
    stack: string,
    /** Runs after the steps, before the job's files are removed. */
    during?: (job: {
        calls: FakeCall[];
        jobEnv: Record<string, string>;
        identity: Identity;
    }) => Promise<void> | void,
) {
    const doc = parse(
        fs.readFileSync(path.join(repoRoot, ".github", "workflows", workflow), "utf8"),
    );
    const steps = doc.jobs[job].steps as WorkflowStep[];
    const fakes = makeFakes(["pulumi", "oci", "ssh", "skopeo"]);
    const identity = await identityStandIn();
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
    const runnerTemp = path.join(fakes.dir, "runner-temp");
    fs.mkdirSync(runnerTemp);
    const githubEnv = path.join(fakes.dir, "github-env");
    fs.writeFileSync(githubEnv, "");
    const vars = {
        OCI_DOMAIN_URL: identity.url,
        OCI_TOKEN_EXCHANGE_CLIENT_ID: "test-client",
        OCI_REGION: "us-ashburn-1",
    };
    // The runner's own environment has no OCI config: only what the job's steps set.
    const { TF_HOME_OVERRIDE: _ignored, ...fakesEnv } = fakes.env;
    void _ignored;
    const jobEnv: Record<string, string> = {};
    const ran: string[] = [];
    try {
        for (const step of steps) {
            if (step.run === undefined || notRunHere.has(step.id ?? "")) continue;
            const env = Object.fromEntries(
                Object.entries(step.env ?? {}).map(([k, v]) => [k, expand(String(v), stack, vars)]),
            );
            const r = await bash(expand(step.run, stack, vars), {
                ...process.env,
                ...fakesEnv,
                FAKE_PULUMI_OUTPUTS: fixture,
                RUNNER_TEMP: runnerTemp,
                GITHUB_ENV: githubEnv,
                ACTIONS_ID_TOKEN_REQUEST_URL: `${identity.url}/oidc?api-version=2.0`,
                ACTIONS_ID_TOKEN_REQUEST_TOKEN: "test-request-token",
                ...jobEnv,
                ...env,
            });
            assert.equal(r.status, 0, `step ${step.id}: ${r.out}`);
            ran.push(step.id ?? "?");
            // What a step appends to $GITHUB_ENV is in the environment of the later steps.
            for (const line of fs.readFileSync(githubEnv, "utf8").split("\n")) {
                const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
                if (m) jobEnv[m[1]!] = m[2]!;
            }
        }
        const calls = fakes.calls();
        await during?.({ calls, jobEnv, identity });
        return { steps, ran, calls, jobEnv, identity };
    } finally {
        await identity.close();
        fakes.remove();
    }
}

const ofTool = (calls: FakeCall[], tool: string, first: string) =>
    calls.filter((c) => c.tool === tool && c.argv[0] === first);

describe("GitHub workflows drive the deploy command (stand-in CLIs)", function () {
    this.timeout(600000);

    it("deploy.yml: one job per stack deploys both layers through a Bastion tunnel it opens and closes", async () => {
        const { steps, ran, calls, jobEnv } = await runJob("deploy.yml", "deploy", "dev");
        assert.deepEqual(ran, ["oci-token", "pulumi-login", "registry-login", "deploy"]);
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
        assert.equal(ups[1]!.env.OCI_CLI_CONFIG_FILE, `${jobEnv.TF_HOME_OVERRIDE}/.oci/config`);
        assert.equal(calls.filter((c) => c.tool === "ssh" && c.closed).length, 1);
        assert.equal(calls.filter((c) => c.tool === "oci" && c.argv[2] === "delete").length, 1);
        assert.ok(
            !calls.some((c) => c.tool === "skopeo"),
            "dev has no image mirror: no registry login",
        );
    });

    it("pull-request.yml: previews through a tunnel, deploys nothing", async () => {
        const { ran, calls } = await runJob("pull-request.yml", "preview", "dev");
        assert.deepEqual(ran, ["oci-token", "pulumi-login", "deploy"]);
        assert.equal(ofTool(calls, "pulumi", "up").length, 0);
        const previews = ofTool(calls, "pulumi", "preview");
        assert.equal(previews.length, 1);
        assert.deepEqual(previews[0]!.reached, { "dev-iad": true });
        assert.equal(calls.filter((c) => c.tool === "ssh" && c.closed).length, 1);
    });

    it("the OCI providers and the kubeconfig's exec plugin (real oci-cli 3.95.1) use the job's session token", async function () {
        // Python 3.11 wheels, as the other venvs of the suite (python3 on the machine).
        const oci = ensureVenv(
            "oci-cli",
            path.join(repoRoot, "tools", "deploy", "oci-cli.lock"),
        ).bin("oci");
        const cfg = parsedStack(repoRoot, "dev");
        // The providers as the program renders them (the offline plan of dev).
        const rendered = JSON.parse(
            fs.readFileSync(path.join(planStack("dev"), "resources.json"), "utf8"),
        ) as { type: string; inputs: Record<string, unknown> }[];
        const providers = rendered.filter((r) => r.type === "pulumi:providers:oci");
        assert.ok(providers.length > 0);
        await runJob("deploy.yml", "deploy", "dev", async ({ calls, jobEnv, identity }) => {
            // The token exchange was asked as the identity domain documents it.
            assert.equal(identity.exchanges.length, 1);
            const form = identity.exchanges[0]!;
            assert.equal(form.get("grant_type"), "urn:ietf:params:oauth:grant-type:token-exchange");
            assert.equal(form.get("requested_token_type"), "urn:oci:token-type:oci-upst");
            assert.ok((form.get("public_key") ?? "").length > 300, "the session key's public key");
            const up = ofTool(calls, "pulumi", "up")[1]!;
            // Providers: auth and profile from the rendered inputs, the file they read from the
            // environment `pulumi up` (and so the provider plugin) runs in.
            const providerFile = providerConfigFile(up.env, "/home/nobody-here");
            assert.equal(providerFile, `${jobEnv.TF_HOME_OVERRIDE}/.oci/config`);
            for (const p of providers) {
                assert.equal(p.inputs.auth, "SecurityToken");
                assert.equal(p.inputs.configFileProfile, cfg.ociAuth.profile);
            }
            const profile = ociConfigProfiles(fs.readFileSync(providerFile, "utf8"))[
                cfg.ociAuth.profile
            ];
            assert.ok(profile, `profile ${cfg.ociAuth.profile} in ${providerFile}`);
            assert.equal(fs.readFileSync(profile.security_token_file!, "utf8"), identity.upst);
            assert.deepEqual(
                ociAuthIssues(
                    cfg.ociAuth,
                    providerFile,
                    fs.readFileSync(providerFile, "utf8"),
                    cfg.project,
                ),
                [],
            );
            // The exec plugin: the kubeconfig the program gives the Kubernetes provider, its
            // command run by the real OCI CLI in the environment of `pulumi up`.
            const kubeconfig = parse(
                kubeconfigForRun(
                    fakeKubeconfig("ocid1.cluster.oc1.us-ashburn-1.aaaadev", "PRIVATE_ENDPOINT"),
                    cfg.ociAuth,
                ),
            ) as { users: { user: { exec: { command: string; args: string[] } } }[] };
            const exec = kubeconfig.users[0]!.user.exec;
            assert.equal(exec.command, "oci");
            assert.equal(exec.args[exec.args.indexOf("--profile") + 1], cfg.ociAuth.profile);
            assert.equal(exec.args[exec.args.indexOf("--auth") + 1], "security_token");
            const emptyHome = path.join(path.dirname(providerFile), "..", "..", "no-home");
            fs.mkdirSync(emptyHome, { recursive: true });
            const run = (args: string[]) =>
                spawnSync(oci, args, {
                    encoding: "utf8",
                    env: {
                        PATH: process.env.PATH,
                        HOME: emptyHome, // no ~/.oci: only OCI_CLI_CONFIG_FILE can be read
                        OCI_CLI_CONFIG_FILE: up.env.OCI_CLI_CONFIG_FILE,
                        OCI_CLI_SUPPRESS_FILE_PERMISSIONS_WARNING: "True",
                    },
                });
            // The check can fail: without `--auth security_token` the CLI signs with an API key
            // (the profile has none), so no session-token credential comes out.
            const i = exec.args.indexOf("--auth");
            const apiKey = run([...exec.args.slice(0, i), ...exec.args.slice(i + 2)]);
            assert.ok(
                apiKey.status !== 0 || !apiKey.stdout.includes("ExecCredential"),
                apiKey.stdout,
            );
            const r = run(exec.args);
            assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
            const credential = JSON.parse(r.stdout) as { kind: string; status: { token: string } };
            assert.equal(credential.kind, "ExecCredential");
            const signed = new URL(Buffer.from(credential.status.token, "base64url").toString());
            assert.equal(signed.host, "containerengine.us-ashburn-1.oraclecloud.com");
            const authorization = signed.searchParams.get("authorization") ?? "";
            // Signed with the session token (keyId "ST$<token>"), not an API key.
            assert.ok(
                authorization.includes(`keyId="ST$${identity.upst}"`),
                authorization.slice(0, 200),
            );
        });
    });

    it("every stack the deploy workflow deploys declares the auth the job produces", () => {
        const doc = parse(
            fs.readFileSync(path.join(repoRoot, ".github", "workflows", "deploy.yml"), "utf8"),
        );
        const script = fs.readFileSync(
            path.join(repoRoot, "scripts", "oci-token-exchange.sh"),
            "utf8",
        );
        const written = /profile="\$\{OCI_PROFILE:-([A-Za-z0-9_-]+)\}"/.exec(script)?.[1];
        assert.equal(written, "DEFAULT");
        for (const { stack } of doc.jobs.deploy.strategy.matrix.include as { stack: string }[]) {
            const auth = parsedStack(repoRoot, stack).ociAuth;
            assert.deepEqual(auth, { method: "SecurityToken", profile: written }, stack);
        }
    });

    it("every job installs the OCI CLI this suite runs: the hash-locked oci-cli 3.95.1 on Python 3.11", () => {
        const lock = fs.readFileSync(
            path.join(repoRoot, "tools", "deploy", "oci-cli.lock"),
            "utf8",
        );
        assert.match(lock, /^oci-cli==3\.95\.1 \\\n    --hash=sha256:[0-9a-f]{64}$/m);
        for (const [file, job] of [
            ["deploy.yml", "deploy"],
            ["pull-request.yml", "preview"],
        ] as const) {
            const doc = parse(
                fs.readFileSync(path.join(repoRoot, ".github", "workflows", file), "utf8"),
            );
            const steps = doc.jobs[job].steps as WorkflowStep[];
            const python = steps.findIndex((s) => s.uses?.startsWith("actions/setup-python@"));
            const tools = steps.findIndex((s) => s.id === "tools");
            assert.ok(python >= 0 && python < tools, file);
            assert.equal(steps[python]!.with?.["python-version"], "3.11", file);
            assert.match(
                steps[tools]!.run!,
                /pip install --user --require-hashes --no-deps --only-binary=:all: -r tools\/deploy\/oci-cli\.lock/,
                file,
            );
        }
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
