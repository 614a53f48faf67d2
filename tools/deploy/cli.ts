/**
 * `npm run deploy -- --stack NAME [--access bastion|direct] [--local-port N] [--preview] [--dry-run]`: the
 * cloud layer, the tunnels to private API endpoints and the cluster layer, in one command
 * (tools/deploy/plan.ts). Needs the Pulumi CLI (driven through the Automation API of the pinned
 * @pulumi/pulumi), and for `--access bastion` the OCI CLI and OpenSSH.
 *
 * Exit codes: 0 deployed; 1 a step failed; 2 a usage or config error (nothing was run).
 */
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { spawn } from "child_process";
import * as fs from "fs";
import { LocalWorkspace } from "@pulumi/pulumi/automation";
import {
    ConfigValidationError,
    decodeConfigValue,
    formatIssue,
    parseConfig,
} from "../../modules/config";
import { ociAuthIssues, providerConfigFile } from "../../modules/access";
import { imageIssues } from "../../modules/images";
import { didYouMean } from "../../modules/config/suggest";
import { StackFileError, listStacks, readStackConfig } from "../plan/stackfile";
import { Access, DeployPlanError, accessModes, planDeploy } from "./plan";
import { MirrorConfigError, mirrorPlan } from "../images/mirror";
import { DeployError, Processes, PulumiStack, privateWorkDir, runDeploy } from "./run";

const hint = didYouMean;

const usage = `usage: npm run deploy -- --stack NAME [--access bastion|direct] [--local-port N] [--preview] [--dry-run]

  --stack NAME       the stack to deploy (Pulumi.NAME.yaml)
  --access MODE      bastion (default): open a Bastion session per private OKE cluster for the
                     cluster layer; direct: this machine reaches the API endpoints (a runner
                     inside the VCN, or public endpoints) — one pulumi up
  --local-port N     first local port of the tunnels (default 16443)
  --preview          pulumi preview through the tunnels (to clusters that exist), change nothing
  --dry-run          print the steps, run nothing

Exit codes: 0 deployed; 1 a step failed; 2 a usage or config error.`;

export interface DeployArgs {
    readonly stack: string;
    readonly access: Access;
    readonly localPort: number;
    readonly dryRun: boolean;
    /** `pulumi preview` through the tunnels instead of a deploy. */
    readonly preview: boolean;
}

/** A usage error (exit 2). */
export class UsageError extends Error {}

export function parseDeployArgs(argv: readonly string[], projectDir: string): DeployArgs {
    let stack: string | undefined;
    let access: Access = "bastion";
    let localPort = 16443;
    let dryRun = false;
    let preview = false;
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i]!;
        const value = () => {
            const v = argv[++i];
            if (v === undefined) throw new UsageError(`${a} needs a value\n${usage}`);
            return v;
        };
        if (a === "--stack" || a === "-s") stack = value();
        else if (a === "--access") {
            const v = value();
            if (!(accessModes as readonly string[]).includes(v)) {
                throw new UsageError(
                    `--access: got ${JSON.stringify(v)}; expected one of ${accessModes.join(", ")}${hint(v, accessModes)}`,
                );
            }
            access = v as Access;
        } else if (a === "--local-port") {
            const v = value();
            if (!/^\d+$/.test(v))
                throw new UsageError(`--local-port: got ${v}; expected a port number`);
            localPort = Number(v);
        } else if (a === "--dry-run") dryRun = true;
        else if (a === "--preview") preview = true;
        else if (a === "--help" || a === "-h") throw new UsageError(usage);
        else throw new UsageError(`unknown argument ${a}\n${usage}`);
    }
    if (stack === undefined) throw new UsageError(`--stack is required\n${usage}`);
    const stacks = listStacks(projectDir);
    if (!stacks.includes(stack)) {
        throw new UsageError(
            `no stack ${stack}: Pulumi.${stack}.yaml does not exist${hint(stack, stacks)}`,
        );
    }
    return { stack, access, localPort, dryRun, preview };
}

/** The stack's validated configuration, read from its stack file (secrets as placeholders). */
export function parsedStack(projectDir: string, stack: string) {
    const sc = readStackConfig(projectDir, stack);
    const raw: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(sc.values)) {
        if (k.startsWith(`${sc.project}:`))
            raw[k.slice(sc.project.length + 1)] = decodeConfigValue(v);
    }
    return parseConfig(raw, { project: sc.project, stack, secretKeys: sc.secretKeys });
}

/** `parsedStack`, refused as the program refuses it (images) and as the mirror would. */
export function stackConfig(projectDir: string, stack: string) {
    const cfg = parsedStack(projectDir, stack);
    const images = imageIssues(cfg);
    if (images.length > 0) throw new ConfigValidationError(images);
    if (cfg.images.mirror !== undefined) {
        // Refuses images that cannot be mirrored before anything runs.
        const issues = mirrorIssues(cfg);
        if (issues.length > 0) throw new ConfigValidationError(issues);
    }
    return cfg;
}

function mirrorIssues(cfg: ReturnType<typeof parseConfig>) {
    try {
        mirrorPlan(cfg);
        return [];
    } catch (e) {
        if (e instanceof MirrorConfigError) return [...e.issues];
        throw e;
    }
}

/** The Pulumi CLI through the Automation API (a local program: this repository). */
export async function automationStack(
    projectDir: string,
    stack: string,
    policyPack: string,
): Promise<PulumiStack> {
    const s = await LocalWorkspace.selectStack({ stackName: stack, workDir: projectDir });
    const ws = s.workspace as LocalWorkspace;
    return {
        async up({ exclude, env, onOutput }) {
            // Set in memory for this run only: never written to the stack file.
            const before = { ...ws.envVars };
            Object.assign(ws.envVars, env);
            try {
                await s.up({
                    exclude: [...exclude],
                    excludeDependents: exclude.length > 0,
                    policyPacks: [policyPack],
                    onOutput,
                });
            } finally {
                for (const k of Object.keys(ws.envVars)) delete ws.envVars[k];
                Object.assign(ws.envVars, before);
            }
        },
        async preview({ env, onOutput }) {
            const before = { ...ws.envVars };
            Object.assign(ws.envVars, env);
            try {
                await s.preview({ policyPacks: [policyPack], onOutput, diff: true });
            } finally {
                for (const k of Object.keys(ws.envVars)) delete ws.envVars[k];
                Object.assign(ws.envVars, before);
            }
        },
        async outputs() {
            return Object.fromEntries(
                Object.entries(await s.outputs()).map(([k, v]) => [k, v.value]),
            );
        },
    };
}

/** Child processes of this machine. */
export const localProcesses: Processes = {
    run(command, args) {
        return new Promise((resolve) => {
            const child = spawn(command, [...args], { stdio: ["ignore", "pipe", "pipe"] });
            let stdout = "";
            let stderr = "";
            // Decoded by the streams, so a UTF-8 character split across two chunks stays whole.
            child.stdout.setEncoding("utf8");
            child.stderr.setEncoding("utf8");
            child.stdout.on("data", (d: string) => (stdout += d));
            child.stderr.on("data", (d: string) => (stderr += d));
            child.on("error", (e) =>
                resolve({ code: 127, stdout, stderr: `${command}: ${e.message}` }),
            );
            child.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr }));
        });
    },
    start(command, args) {
        const child = spawn(command, [...args], { stdio: ["ignore", "ignore", "inherit"] });
        const exited = new Promise<number | null>((resolve) => {
            child.on("error", () => resolve(127));
            child.on("exit", (code) => resolve(code));
        });
        return { exited, kill: () => void child.kill("SIGTERM") };
    },
    waitForPort(port, timeoutMs) {
        const deadline = Date.now() + timeoutMs;
        return new Promise((resolve, reject) => {
            const attempt = () => {
                const sock = net.connect({ host: "127.0.0.1", port }, () => {
                    sock.destroy();
                    resolve();
                });
                sock.on("error", () => {
                    sock.destroy();
                    if (Date.now() > deadline) {
                        reject(
                            new DeployError(
                                `127.0.0.1:${port} did not open within ${timeoutMs / 1000} s`,
                            ),
                        );
                    } else {
                        setTimeout(attempt, 250);
                    }
                });
            };
            attempt();
        });
    },
};

/**
 * Environment of every `pulumi up` (and of this process's OCI CLI calls): the OCI CLI of the
 * kubeconfig's exec plugin reads `OCI_CLI_CONFIG_FILE` (oci-cli 3.95.1 `cli_constants.py`
 * OCI_CLI_CONFIG_FILE_ENV_VAR), set to the file the OCI providers read
 * ({@link providerConfigFile}), so both authenticate with the same profile of the same file.
 */
export function pulumiEnv(
    env: NodeJS.ProcessEnv,
    homedir = os.userInfo().homedir,
): Record<string, string> {
    return { OCI_CLI_CONFIG_FILE: providerConfigFile(env, homedir) };
}

/**
 * The stack's `ociAuth` checked against the OCI config file the providers and the exec plugin
 * will read: refused before anything runs (exit 2) when they could not authenticate with it.
 */
export function authIssues(
    cfg: ReturnType<typeof parseConfig>,
    env: NodeJS.ProcessEnv,
    homedir = os.userInfo().homedir,
) {
    const file = providerConfigFile(env, homedir);
    const text = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : undefined;
    return ociAuthIssues(cfg.ociAuth, file, text, cfg.project);
}

/**
 * One line for a failed step: the CLI's `error:` lines (the Automation API's CommandError carries
 * the whole stdout and stderr), else the first line.
 */
export function failure(e: unknown): string {
    const message = e instanceof Error ? e.message : String(e);
    const errors = [...new Set(message.split("\n").filter((l) => /^error: /.test(l.trim())))];
    return errors.length > 0 ? errors.map((l) => l.trim()).join("; ") : message.split("\n")[0]!;
}

export async function main(
    argv: readonly string[],
    projectDir = path.resolve(__dirname, "..", ".."),
): Promise<number> {
    let args: DeployArgs;
    let cfg;
    let plan;
    try {
        args = parseDeployArgs(argv, projectDir);
        cfg = stackConfig(projectDir, args.stack);
        plan = planDeploy(cfg, args.access, args.localPort, args.preview ? "preview" : "up");
    } catch (e) {
        if (e instanceof ConfigValidationError) {
            console.error(e.issues.map((i) => `config: ${formatIssue(i)}`).join("\n"));
            return 2;
        }
        if (
            e instanceof UsageError ||
            e instanceof DeployPlanError ||
            e instanceof StackFileError
        ) {
            console.error(e.message);
            return 2;
        }
        throw e;
    }
    const log = (line: string) => console.error(line);
    log(`deploy ${args.stack} (${args.access} access): ${plan.steps.length} steps`);
    if (args.dryRun) {
        plan.steps.forEach((s, n) => console.log(`[${n + 1}/${plan.steps.length}] ${s.title}`));
        return 0;
    }
    // The providers and the exec plugin must be able to authenticate with the same profile.
    const auth = authIssues(cfg, process.env);
    if (auth.length > 0) {
        console.error(auth.map((i) => `config: ${formatIssue(i)}`).join("\n"));
        return 2;
    }
    // The OCI CLI of this process's children (bastion, artifacts) reads the same config file.
    Object.assign(process.env, pulumiEnv(process.env));
    const workDir = privateWorkDir(os.tmpdir());
    try {
        await runDeploy({
            cfg,
            steps: plan.steps,
            pulumi: await automationStack(projectDir, args.stack, path.join(projectDir, "policy")),
            processes: localProcesses,
            workDir,
            log,
            output: (t) => process.stdout.write(t),
            env: pulumiEnv(process.env),
        });
        log(`deploy ${args.stack}: done`);
        return 0;
    } catch (e) {
        log(`deploy ${args.stack} failed: ${failure(e)}`);
        return 1;
    } finally {
        fs.rmSync(workDir, { recursive: true, force: true });
    }
}

if (require.main === module) {
    main(process.argv.slice(2)).then(
        (code) => (process.exitCode = code),
        (e) => {
            console.error(e);
            process.exitCode = 1;
        },
    );
}
