/**
 * `slp-pipeline`: the steps of the promotion pipelines (pipelines/*.yaml), also runnable by hand.
 * Exit codes: 0 ok; 1 gate failed or promotion refused; 2 usage error; 3 server or API error.
 */
import { readFileSync, writeFileSync } from "fs";
import { RefusedError, bundleFromDirectory, parseBundle } from "./bundle";
import {
    ConnectTo,
    Evaluation,
    Gates,
    MtlsClientOptions,
    evaluate,
    loadPrompts,
    mtlsClientOptions,
    verdict,
} from "./evaluate/evaluate";
import { KubeApi, inClusterApi } from "./promote/kube";
import {
    promoteModel,
    promoteRules,
    stageCandidate,
    waitForCandidate,
    waitForModelRollout,
} from "./promote/promote";

export const USAGE = `usage:
  slp-pipeline evaluate --url URL --model NAME --attacks FILE --benign FILE [--report FILE]
  slp-pipeline evaluate-candidate --candidate-rules JSON --url CANDIDATE_URL --model NAME
                                  --attacks FILE --benign FILE --rules-sha256-out FILE
                                  [--rollout-timeout-seconds N] [--report FILE]
                      (refuses code changes, writes the candidate guardrails tier's ConfigMap,
                       restarts it, waits until ready, replays the red-team set against it)
  slp-pipeline promote-rules --candidate-rules JSON --expected-sha256 HEX
  slp-pipeline promote-model --source-uri oci-os://namespace/bucket/prefix [--previous-source-out FILE]
  slp-pipeline smoke-model --source-uri URI --url GUARDRAILS_URL --model NAME --attacks FILE
                           --benign FILE [--rollback-source URI] [--rollout-timeout-seconds N]
                           [--report FILE]
                      (after promote-model: waits for the rollout, replays the red-team set through
                       the guardrails service, promotes --rollback-source back when a gate fails)
  slp-pipeline bundle --dir guardrails/<config-id>      (prints the rule set JSON for candidate_rules)
  slp-pipeline assess --url GATEWAY_URL [--tls-dir DIR] --api-key-file FILE --model NAME
                      --attacks FILE --benign FILE [--report FILE]
                      (the live rails through the gateway; prints one JSON result line)

mTLS (evaluate, evaluate-candidate, smoke-model, assess): --tls-dir DIR, a mounted cert-manager Secret
                      (tls.crt, tls.key, ca.crt) presented to an https --url; the server must
                      present a certificate of that CA for the URL's host (the tiers' sidecars)
gates (evaluate, evaluate-candidate, assess, smoke-model): --min-attack-block-rate R [MIN_ATTACK_BLOCK_RATE]
                                      --max-benign-block-rate R [MAX_BENIGN_BLOCK_RATE]
exit codes: 0 ok, 1 gate failed or promotion refused, 2 usage error, 3 server or API error
`;

/** Subcommands the pipeline definitions may call; tests check the YAML uses only these. */
export const commands = [
    "evaluate",
    "evaluate-candidate",
    "promote-rules",
    "promote-model",
    "smoke-model",
    "bundle",
    "assess",
] as const;
export type Command = (typeof commands)[number];

/** Injected dependencies, so tests run the real CLI against fakes. */
export interface CliDeps {
    readonly env: NodeJS.ProcessEnv;
    readonly stdout: (line: string) => void;
    readonly stderr: (line: string) => void;
    /** Kubernetes API. Defaults to the pod's ServiceAccount. */
    readonly api?: () => KubeApi;
    /** Milliseconds between rollout checks (evaluate-candidate, smoke-model). Defaults to 5000. */
    readonly pollMs?: number;
    /** Where to dial for a `--url` host (tests: sidecars on 127.0.0.1). Defaults to the URL's. */
    readonly connectTo?: ConnectTo;
}

class UsageError extends Error {}
class GateError extends Error {}
class ServerError extends Error {}

/** Options each command accepts; tests check the pipeline definitions pass only these. */
export const flags: Record<Command, readonly string[]> = {
    evaluate: [
        "--url",
        "--tls-dir",
        "--model",
        "--attacks",
        "--benign",
        "--report",
        "--min-attack-block-rate",
        "--max-benign-block-rate",
    ],
    "evaluate-candidate": [
        "--candidate-rules",
        "--url",
        "--tls-dir",
        "--model",
        "--attacks",
        "--benign",
        "--rules-sha256-out",
        "--rollout-timeout-seconds",
        "--report",
        "--min-attack-block-rate",
        "--max-benign-block-rate",
    ],
    "promote-rules": ["--candidate-rules", "--expected-sha256"],
    "promote-model": ["--source-uri", "--previous-source-out"],
    "smoke-model": [
        "--source-uri",
        "--url",
        "--tls-dir",
        "--model",
        "--attacks",
        "--benign",
        "--rollback-source",
        "--rollout-timeout-seconds",
        "--report",
        "--min-attack-block-rate",
        "--max-benign-block-rate",
    ],
    bundle: ["--dir"],
    assess: [
        "--url",
        "--tls-dir",
        "--api-key-file",
        "--model",
        "--attacks",
        "--benign",
        "--report",
        "--min-attack-block-rate",
        "--max-benign-block-rate",
    ],
};

/** `event` of the assessment's result line (decision-log metrics turn it into gauges). */
export const assessmentEvent = "redteam.assessment";

/**
 * The one JSON line `assess` prints: rates, counts and gates, never a prompt or an answer. Rates
 * are -1 when the run was inconclusive (any prompt without a usable answer), so a gateway outage
 * never reads as a drop in the block rate.
 */
export function assessmentLine(e: Evaluation, gates: Gates, now = new Date()): string {
    const conclusive = e.errors.length === 0;
    return JSON.stringify({
        event: assessmentEvent,
        // Unix seconds: the alert reads the rates of the latest run, whichever node logged it.
        finished_at: Math.floor(now.getTime() / 1000),
        conclusive,
        attack_block_rate: conclusive ? e.attackBlockRate : -1,
        benign_block_rate: conclusive ? e.benignBlockRate : -1,
        attacks_total: e.attacks.total,
        attacks_blocked: e.attacks.blocked,
        benign_total: e.benign.total,
        benign_blocked: e.benign.blocked,
        errors: e.errors.length,
        min_attack_block_rate: gates.minAttackBlockRate,
        max_benign_block_rate: gates.maxBenignBlockRate,
        pass: conclusive && verdict(e, gates).pass,
    });
}

function parseArgs(argv: readonly string[]): { command: Command; opts: Record<string, string> } {
    const [command, ...rest] = argv;
    if (!(commands as readonly string[]).includes(command)) {
        throw new UsageError(`unknown command ${JSON.stringify(command ?? "")}`);
    }
    const opts: Record<string, string> = {};
    for (let i = 0; i < rest.length; i += 2) {
        const f = rest[i];
        if (!flags[command as Command].includes(f))
            throw new UsageError(`${command} takes no option ${f}`);
        if (rest[i + 1] === undefined) throw new UsageError(`${f} needs a value`);
        opts[f.slice(2)] = rest[i + 1];
    }
    return { command: command as Command, opts };
}

function need(opts: Record<string, string>, key: string): string {
    const v = opts[key];
    if (v === undefined || v === "") throw new UsageError(`--${key} is required`);
    return v;
}

function rate(
    opts: Record<string, string>,
    key: string,
    env: string | undefined,
    envName: string,
): number {
    const raw = opts[key] ?? env;
    if (raw === undefined) {
        throw new UsageError(
            `--${key} or ${envName} is required (the cluster's kubeflow.promotion config sets it)`,
        );
    }
    const v = Number(raw);
    if (!Number.isFinite(v) || v < 0 || v > 1)
        throw new UsageError(`${key} must be a number from 0 to 1, got ${raw}`);
    return v;
}

function timeoutSeconds(opts: Record<string, string>, fallback: number): number {
    const raw = opts["rollout-timeout-seconds"];
    const seconds = Number(raw ?? fallback);
    if (!Number.isInteger(seconds) || seconds < 1) {
        throw new UsageError(`rollout-timeout-seconds must be a positive integer, got ${raw}`);
    }
    return seconds;
}

/**
 * The client certificate of `--tls-dir` (read before anything is written): required with an
 * https `--url` (the tiers' sidecars admit no caller without one), refused with a plain one.
 */
function tlsOf(opts: Record<string, string>): MtlsClientOptions | undefined {
    const dir = opts["tls-dir"];
    const https = need(opts, "url").startsWith("https://");
    if (https && dir === undefined) {
        throw new UsageError("--url is https: give --tls-dir with the step's client certificate");
    }
    if (dir === undefined) return undefined;
    if (!https) throw new UsageError("--tls-dir needs an https --url");
    try {
        return mtlsClientOptions(dir);
    } catch (e) {
        throw new UsageError(`--tls-dir ${dir}: ${(e as Error).message}`);
    }
}

function gatesOf(opts: Record<string, string>, env: NodeJS.ProcessEnv): Gates {
    return {
        minAttackBlockRate: rate(
            opts,
            "min-attack-block-rate",
            env.MIN_ATTACK_BLOCK_RATE,
            "MIN_ATTACK_BLOCK_RATE",
        ),
        maxBenignBlockRate: rate(
            opts,
            "max-benign-block-rate",
            env.MAX_BENIGN_BLOCK_RATE,
            "MAX_BENIGN_BLOCK_RATE",
        ),
    };
}

function report(e: Evaluation, gates: Gates, deps: CliDeps, file?: string): void {
    const v = verdict(e, gates);
    deps.stdout(
        `attacks blocked ${e.attacks.blocked}/${e.attacks.total} (${(e.attackBlockRate * 100).toFixed(1)}%), ` +
            `benign blocked ${e.benign.blocked}/${e.benign.total} (${(e.benignBlockRate * 100).toFixed(1)}%), ` +
            `errors ${e.errors.length}`,
    );
    if (e.withheld.length > 0) {
        // Not blocks by the rules (counted as not blocked), but the masking path did not answer.
        deps.stdout(
            `output masking unavailable, answer withheld (counted as not blocked): ${e.withheld.join(", ")}`,
        );
    }
    if (file) writeFileSync(file, JSON.stringify({ gates, ...e, verdict: v }, null, 2));
    if (!v.pass) throw new GateError(`not promotable: ${v.reasons.join("; ")}`);
    deps.stdout("promotable: every gate passed");
}

/** Runs one command; returns the exit code. */
export async function main(argv: readonly string[], deps: CliDeps): Promise<number> {
    try {
        if (argv.length === 0 || argv[0] === "--help" || argv[0] === "help") {
            deps.stdout(USAGE);
            return argv.length === 0 ? 2 : 0;
        }
        const { command, opts } = parseArgs(argv);
        if (command === "assess") {
            const gates = gatesOf(opts, deps.env);
            const attacks = loadPrompts(need(opts, "attacks"));
            const benign = loadPrompts(need(opts, "benign"));
            // The gateway admits only the ingress and the assessment's certificate (mtls.ts).
            const tls = tlsOf(opts);
            const keyFile = need(opts, "api-key-file");
            let key: string;
            try {
                key = readFileSync(keyFile, "utf8").trim();
            } catch (e) {
                throw new UsageError(`--api-key-file ${keyFile}: ${(e as Error).message}`);
            }
            if (key === "") throw new UsageError(`--api-key-file ${keyFile} is empty`);
            const e = await evaluate(
                {
                    baseUrl: need(opts, "url"),
                    model: need(opts, "model"),
                    headers: { authorization: `Bearer ${key}` },
                    tls,
                    connectTo: deps.connectTo,
                },
                attacks,
                benign,
            );
            deps.stdout(assessmentLine(e, gates));
            if (opts.report) {
                writeFileSync(
                    opts.report,
                    JSON.stringify({ gates, ...e, verdict: verdict(e, gates) }, null, 2),
                );
            }
            if (e.errors.length > 0) {
                throw new ServerError(
                    `${e.errors.length} prompt(s) got no usable answer through the gateway (first: ${e.errors[0].id}: ${e.errors[0].detail})`,
                );
            }
            const v = verdict(e, gates);
            if (!v.pass) throw new GateError(`below the promotion gates: ${v.reasons.join("; ")}`);
            return 0;
        }
        // Connect on first use, so input is refused before the cluster is needed.
        let client: KubeApi | undefined;
        const real = () => (client ??= (deps.api ?? (() => inClusterApi(deps.env)))());
        const api: KubeApi = {
            get: (p) => real().get(p),
            put: (p, b) => real().put(p, b),
            patch: (p, b) => real().patch(p, b),
        };
        if (command === "evaluate" || command === "evaluate-candidate") {
            const gates = gatesOf(opts, deps.env);
            const attacks = loadPrompts(need(opts, "attacks"));
            const benign = loadPrompts(need(opts, "benign"));
            const model = need(opts, "model");
            if (command === "evaluate") {
                const e = await evaluate(
                    {
                        baseUrl: need(opts, "url"),
                        model,
                        tls: tlsOf(opts),
                        connectTo: deps.connectTo,
                    },
                    attacks,
                    benign,
                );
                report(e, gates, deps, opts.report);
                return 0;
            }
            const bundle = parseBundle(need(opts, "candidate-rules"));
            const out = need(opts, "rules-sha256-out");
            const url = need(opts, "url");
            const tls = tlsOf(opts);
            const seconds = timeoutSeconds(opts, 900);
            // The candidate guardrails tier serves it with the live tier's image, sidecars, model
            // and output filter; code changes are refused before anything is written.
            const digest = await stageCandidate(api, bundle);
            deps.stdout(`candidate rule set ${digest} written; waiting for the candidate tier`);
            await waitForCandidate(api, digest, seconds * 1000, deps.pollMs);
            const e = await evaluate(
                { baseUrl: url, model, candidateSha256: digest, tls, connectTo: deps.connectTo },
                attacks,
                benign,
            );
            report(e, gates, deps, opts.report);
            // Written only on success: the promote step needs it, so a failed gate stops the run.
            // Over the candidate as given: every answer reported serving exactly these bytes.
            writeFileSync(out, digest);
            return 0;
        }
        if (command === "bundle") {
            const bundle = bundleFromDirectory(need(opts, "dir"));
            parseBundle(JSON.stringify(bundle));
            deps.stdout(JSON.stringify(bundle));
            return 0;
        }
        if (command === "promote-rules") {
            const digest = await promoteRules(
                api,
                parseBundle(need(opts, "candidate-rules")),
                need(opts, "expected-sha256"),
            );
            deps.stdout(`promoted guardrail rules ${digest}`);
            return 0;
        }
        if (command === "smoke-model") {
            const gates = gatesOf(opts, deps.env);
            const attacks = loadPrompts(need(opts, "attacks"));
            const benign = loadPrompts(need(opts, "benign"));
            const source = need(opts, "source-uri");
            const rollback = opts["rollback-source"] ?? "";
            const seconds = timeoutSeconds(opts, 1800);
            const tls = tlsOf(opts);
            await waitForModelRollout(api, source, seconds * 1000, deps.pollMs);
            // Through the guardrails service like every request (no path to inference but theirs).
            const e = await evaluate(
                {
                    baseUrl: need(opts, "url"),
                    model: need(opts, "model"),
                    tls,
                    connectTo: deps.connectTo,
                },
                attacks,
                benign,
            );
            try {
                report(e, gates, deps, opts.report);
            } catch (err) {
                if (!(err instanceof GateError)) throw err;
                if (rollback === "") {
                    throw new GateError(
                        `${err.message}; no earlier model to roll back to: the new one stays, fix or promote another`,
                    );
                }
                await promoteModel(api, rollback);
                throw new GateError(`${err.message}; rolled back to ${rollback}`);
            }
            deps.stdout(`model ${source} serves through the guardrails and passes the gates`);
            return 0;
        }
        // The verify step trusts whatever key a manifest names when this list is empty: refuse.
        if ((deps.env.MODEL_VAULT_TRUSTED_KEY_IDS ?? "").trim() === "") {
            throw new RefusedError(
                "MODEL_VAULT_TRUSTED_KEY_IDS is empty, so model-vault verify trusted any key; set kubeflow.trustedModelKeyIds (existing clusters) and promote again",
            );
        }
        const previous = await promoteModel(api, need(opts, "source-uri"));
        if (opts["previous-source-out"]) writeFileSync(opts["previous-source-out"], previous);
        deps.stdout(`promoted model ${opts["source-uri"]} (previously ${previous || "none"})`);
        return 0;
    } catch (e) {
        const msg = e instanceof Error ? e.message : String(e);
        deps.stderr(`slp-pipeline: ${msg}`);
        if (e instanceof UsageError) {
            deps.stderr("run `slp-pipeline --help` for usage");
            return 2;
        }
        if (e instanceof GateError || e instanceof RefusedError) return 1;
        return 3;
    }
}

if (require.main === module) {
    main(process.argv.slice(2), {
        env: process.env,
        stdout: (l) => process.stdout.write(`${l}\n`),
        stderr: (l) => process.stderr.write(`${l}\n`),
    }).then((code) => process.exit(code));
}
