/**
 * Runs the steps of tools/deploy/plan.ts. Everything outside this process goes through two
 * injectable boundaries: `PulumiStack` (the Automation API over the Pulumi CLI in production) and
 * `Processes` (the `oci`, `ssh` and `ssh-keygen` executables), so the tests run the same code
 * against fake executables that answer like the real CLIs.
 *
 * OCI CLI commands and JSON shapes, from the OCI CLI source (oracle/oci-cli):
 * - `oci bastion session create-port-forwarding --bastion-id --ssh-public-key-file
 *   --target-private-ip --target-port --session-ttl --display-name` prints the new session,
 *   `{"data": {"id": …, "lifecycle-state": "CREATING", …}}`
 *   (services/bastion/src/oci_cli_bastion/bastion_cli_extended.py, `create_port_forwarding`);
 * - `oci bastion session get --session-id` prints `{"data": {"lifecycle-state": "ACTIVE",
 *   "ssh-metadata": {"command": "ssh -i <privateKey> -N -L <localPort>:<ip>:<port> -p 22
 *   <session-id>@host.bastion.<region>.oci.oraclecloud.com"}}}` once the session is active;
 * - `oci bastion session delete --session-id --force` deletes it (generated bastion_cli.py).
 */
import * as fs from "fs";
import * as path from "path";
import { apiAccessEnv, ociCliAuthArgs } from "../../modules/access";
import type { PlatformConfig } from "../../modules/config";
import { mirrorPlan, runMirror, signingKeys } from "../images/mirror";
import { Step, TunnelPlan } from "./plan";

/** One `pulumi` stack as the driver uses it. */
export interface PulumiStack {
    /** `pulumi up`; `env` is added to the CLI's environment for this run only. */
    up(opts: {
        exclude: readonly string[];
        env: Readonly<Record<string, string>>;
        onOutput: (text: string) => void;
    }): Promise<void>;
    /** `pulumi preview` (changes nothing); `env` as for `up`. */
    preview(opts: {
        env: Readonly<Record<string, string>>;
        onOutput: (text: string) => void;
    }): Promise<void>;
    /** Stack outputs, secrets in plain text (never printed). */
    outputs(): Promise<Record<string, unknown>>;
}

/** A long-running child process (the ssh tunnel). */
export interface Running {
    /** Resolves with the exit code when it exits. */
    readonly exited: Promise<number | null>;
    kill(): void;
}

/** The executables the driver runs. */
export interface Processes {
    run(
        command: string,
        args: readonly string[],
    ): Promise<{ code: number; stdout: string; stderr: string }>;
    start(command: string, args: readonly string[]): Running;
    /** Resolves when 127.0.0.1:`port` accepts a TCP connection; rejects after `timeoutMs`. */
    waitForPort(port: number, timeoutMs: number): Promise<void>;
}

export interface DeployContext {
    readonly cfg: PlatformConfig;
    readonly steps: readonly Step[];
    readonly pulumi: PulumiStack;
    readonly processes: Processes;
    /** A private directory (0700) for the session key and known_hosts; removed by the caller. */
    readonly workDir: string;
    /** Progress lines. */
    readonly log: (line: string) => void;
    /** Output of `pulumi up`, streamed. */
    readonly output?: (text: string) => void;
    /** Extra environment of every `pulumi up` (e.g. OCI_CLI_CONFIG_FILE). */
    readonly env?: Readonly<Record<string, string>>;
    /** Poll interval and limits (tests shorten them). */
    readonly timing?: Timing;
}

/** Session polling (1 s, 2 s, then every `pollMs`) and limits. */
export interface Timing {
    readonly pollMs: number;
    readonly sessionTimeoutMs: number;
    readonly portTimeoutMs: number;
}

/** A step that failed (exit 1). */
export class DeployError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "DeployError";
    }
}

interface OpenTunnel {
    readonly plan: TunnelPlan;
    sessionId?: string;
    ssh?: Running;
}

/** What the OCI CLI prints (`{"data": …}`, keys in kebab-case), the fields the tools read. */
export interface OciOutput {
    readonly data?: {
        readonly id?: string;
        readonly "lifecycle-state"?: string;
        readonly "ssh-metadata"?: { readonly command?: string };
        readonly "management-endpoint"?: string;
        readonly "current-key-version"?: string;
        readonly items?: readonly { readonly id?: string }[];
    };
}

/** Bastion session TTL: the Bastion's `maxSessionTtlInSeconds` (modules/oci/index.ts). */
const sessionTtlSeconds = 10800;

/** Runs every step in order; tunnels are closed whatever happens. */
export async function runDeploy(ctx: DeployContext): Promise<void> {
    const timing = ctx.timing ?? { pollMs: 5000, sessionTimeoutMs: 300000, portTimeoutMs: 60000 };
    const tunnels: OpenTunnel[] = [];
    const total = ctx.steps.length;
    let keyFile: string | undefined;
    try {
        for (const [n, step] of ctx.steps.entries()) {
            ctx.log(`[${n + 1}/${total}] ${step.title}`);
            if (step.kind === "up" || step.kind === "preview") {
                const access = Object.fromEntries(
                    tunnels
                        .filter((t) => step.through.includes(t.plan.cluster))
                        .map((t) => [t.plan.cluster, `https://127.0.0.1:${t.plan.localPort}`]),
                );
                const env = {
                    ...ctx.env,
                    ...(Object.keys(access).length > 0
                        ? { [apiAccessEnv]: JSON.stringify(access) }
                        : {}),
                };
                const onOutput = ctx.output ?? (() => undefined);
                if (step.kind === "up") {
                    await ctx.pulumi.up({ exclude: step.exclude, env, onOutput });
                } else {
                    await ctx.pulumi.preview({ env, onOutput });
                }
            } else if (step.kind === "mirror-images") {
                const manifest = mirrorPlan(ctx.cfg);
                const keys = signingKeys(ctx.cfg, await ctx.pulumi.outputs());
                await runMirror({
                    cfg: ctx.cfg,
                    manifest,
                    keys,
                    processes: ctx.processes,
                    log: (l) => ctx.log(`  ${l}`),
                });
            } else if (step.kind === "open-tunnel") {
                if (step.ifCreated && !(await created(ctx, step.tunnel.cluster))) {
                    ctx.log(
                        `  ${step.tunnel.cluster} is not created yet: previewed without a tunnel`,
                    );
                    continue;
                }
                keyFile ??= await sessionKey(ctx);
                const t: OpenTunnel = { plan: step.tunnel };
                tunnels.push(t);
                await openTunnel(ctx, t, keyFile, timing);
            } else {
                await closeTunnels(ctx, tunnels);
            }
        }
    } finally {
        // Also on failure: no session or ssh process outlives the deploy.
        await closeTunnels(ctx, tunnels);
    }
}

/** An ephemeral ed25519 key for the Bastion sessions of this run. */
async function sessionKey(ctx: DeployContext): Promise<string> {
    const key = path.join(ctx.workDir, "bastion_ed25519");
    const r = await ctx.processes.run("ssh-keygen", [
        "-q",
        "-t",
        "ed25519",
        "-N",
        "",
        "-C",
        `slp-deploy-${ctx.cfg.stack}`,
        "-f",
        key,
    ]);
    if (r.code !== 0) {
        throw new DeployError(`ssh-keygen failed (exit ${r.code}): ${r.stderr.trim()}`);
    }
    return key;
}

async function oci(ctx: DeployContext, region: string, args: string[]): Promise<OciOutput> {
    const full = [...args, "--region", region, ...ociCliAuthArgs(ctx.cfg.ociAuth)];
    const r = await ctx.processes.run("oci", full);
    if (r.code !== 0) {
        throw new DeployError(
            `oci ${args.slice(0, 3).join(" ")} failed (exit ${r.code}): ${r.stderr.trim()}`,
        );
    }
    if (r.stdout.trim() === "") {
        return {};
    }
    try {
        return JSON.parse(r.stdout) as OciOutput;
    } catch {
        throw new DeployError(
            `oci ${args.slice(0, 3).join(" ")} printed no JSON: ${r.stdout.slice(0, 200)}`,
        );
    }
}

/** Whether the cloud layer has created the cluster's Bastion and endpoint (stack outputs). */
async function created(ctx: DeployContext, cluster: string): Promise<boolean> {
    const all = (await ctx.pulumi.outputs()).clusters as
        | Record<string, { bastionId?: string; apiEndpoint?: string }>
        | undefined;
    return Boolean(all?.[cluster]?.bastionId && all[cluster]?.apiEndpoint);
}

/** The cluster's entry of the `clusters` stack output, written by the cloud layer. */
function clusterOutput(
    outputs: Record<string, unknown>,
    cluster: string,
): { bastionId: string; apiEndpoint: string } {
    const all = outputs.clusters as Record<string, { bastionId?: string; apiEndpoint?: string }>;
    const c = all?.[cluster];
    if (!c?.bastionId || !c.apiEndpoint) {
        throw new DeployError(
            `stack output clusters.${cluster} has no bastionId/apiEndpoint after the cloud layer`,
        );
    }
    return { bastionId: c.bastionId, apiEndpoint: c.apiEndpoint };
}

async function openTunnel(
    ctx: DeployContext,
    t: OpenTunnel,
    keyFile: string,
    timing: Timing,
): Promise<void> {
    const { cluster, region, localPort } = t.plan;
    const out = clusterOutput(await ctx.pulumi.outputs(), cluster);
    const endpoint = new URL(out.apiEndpoint);
    const targetIp = endpoint.hostname;
    const targetPort = endpoint.port || "6443";
    const made = await oci(ctx, region, [
        "bastion",
        "session",
        "create-port-forwarding",
        "--bastion-id",
        out.bastionId,
        "--display-name",
        `slp-deploy-${ctx.cfg.stack}-${cluster}`,
        "--ssh-public-key-file",
        `${keyFile}.pub`,
        "--target-private-ip",
        targetIp,
        "--target-port",
        targetPort,
        "--session-ttl",
        String(sessionTtlSeconds),
    ]);
    const sessionId = made.data?.id;
    if (!sessionId) {
        throw new DeployError(`oci bastion session create-port-forwarding returned no data.id`);
    }
    t.sessionId = sessionId;
    ctx.log(`  session ${sessionId} created; waiting for it to be ACTIVE`);
    const deadline = Date.now() + timing.sessionTimeoutMs;
    let session: OciOutput["data"];
    for (let attempt = 0; ; attempt++) {
        session = (await oci(ctx, region, ["bastion", "session", "get", "--session-id", sessionId]))
            ?.data;
        const state = session?.["lifecycle-state"];
        if (state === "ACTIVE") break;
        if (state !== "CREATING") {
            throw new DeployError(`Bastion session ${sessionId} is ${state}, not ACTIVE`);
        }
        if (Date.now() > deadline) {
            throw new DeployError(
                `Bastion session ${sessionId} not ACTIVE after ${timing.sessionTimeoutMs / 1000} s`,
            );
        }
        const wait = attempt === 0 ? 1000 : attempt === 1 ? 2000 : timing.pollMs;
        await new Promise((r) => setTimeout(r, Math.min(wait, timing.pollMs)));
    }
    const { destination, port } = sshDestination(session?.["ssh-metadata"]?.command);
    t.ssh = ctx.processes.start("ssh", [
        "-i",
        keyFile,
        "-N",
        "-L",
        `127.0.0.1:${localPort}:${targetIp}:${targetPort}`,
        "-p",
        port,
        "-o",
        "ExitOnForwardFailure=yes",
        "-o",
        "ServerAliveInterval=30",
        "-o",
        "IdentitiesOnly=yes",
        // The Bastion's host key is not published: trusted on first use, in this run's own file.
        "-o",
        "StrictHostKeyChecking=accept-new",
        "-o",
        `UserKnownHostsFile=${path.join(ctx.workDir, "known_hosts")}`,
        destination,
    ]);
    const exitedEarly = t.ssh.exited.then((code) => {
        throw new DeployError(`ssh to the Bastion exited (code ${code}) before the tunnel opened`);
    });
    await Promise.race([ctx.processes.waitForPort(localPort, timing.portTimeoutMs), exitedEarly]);
    exitedEarly.catch(() => undefined);
    ctx.log(`  tunnel 127.0.0.1:${localPort} → ${targetIp}:${targetPort} open`);
}

/** `<session-id>@host.bastion.<region>.oci.oraclecloud.com` and the port, from the session's ssh command. */
export function sshDestination(command: unknown): { destination: string; port: string } {
    if (typeof command !== "string") {
        throw new DeployError("the Bastion session has no ssh-metadata.command");
    }
    const words = command.trim().split(/\s+/);
    const destination = words.find((w) => /^ocid1\.bastionsession\.[^@]+@[a-z0-9.-]+$/.test(w));
    const p = words.indexOf("-p");
    const port = p >= 0 ? words[p + 1] : "22";
    if (destination === undefined || port === undefined || !/^\d+$/.test(port)) {
        throw new DeployError(`cannot read the ssh destination from: ${command}`);
    }
    return { destination, port };
}

async function closeTunnels(ctx: DeployContext, tunnels: OpenTunnel[]): Promise<void> {
    for (const t of tunnels.splice(0)) {
        if (t.ssh) {
            t.ssh.kill();
            await t.ssh.exited.catch(() => undefined);
        }
        if (t.sessionId) {
            try {
                await oci(ctx, t.plan.region, [
                    "bastion",
                    "session",
                    "delete",
                    "--session-id",
                    t.sessionId,
                    "--force",
                ]);
                ctx.log(`  session ${t.sessionId} deleted`);
            } catch (e) {
                ctx.log(
                    `  could not delete session ${t.sessionId} (it expires after its TTL): ${(e as Error).message}`,
                );
            }
        }
    }
}

/** Creates a private working directory for one run. */
export function privateWorkDir(parent: string): string {
    const dir = fs.mkdtempSync(path.join(parent, "slp-deploy-"));
    fs.chmodSync(dir, 0o700);
    return dir;
}
