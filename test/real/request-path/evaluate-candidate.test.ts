/**
 * The guardrail-promotion pipeline's evaluation step (`slp-pipeline evaluate-candidate`, the CLI
 * the compiled IR runs) against the REAL guardrails entrypoint (python -m slp_guardrails on
 * nemoguardrails[server] 0.24.1) serving the dev stack's rendered rails as the candidate: the same
 * code path as the guardrails pod, decisions read from its audit stream by request id.
 *
 * Stand-ins, as in the request-path suite: the inference server (vLLM's API, no GPU here) and the
 * jailbreak-heuristics stub (its GPT-2 model cannot be had here); Presidio is the evaluation's own
 * loopback stand-in (pipelines/evaluate/presidio-standin.ts), as in the pipeline pod. The one test
 * edit of the candidate: the in-cluster inference and jailbreak URLs of config.yml point at those
 * stand-ins on 127.0.0.1 (each must match exactly once).
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { RuleBundle, bundleDigest } from "../../../pipelines/bundle";
import { main } from "../../../pipelines/cli";
import { serveCandidate } from "../../../pipelines/evaluate/candidate";
import { Evaluation, verdict } from "../../../pipelines/evaluate/evaluate";
import { repoRoot, scratchDir } from "../support/env";
import { ensureVenv } from "../support/install";
import { freePort } from "../support/proc";
import { JailbreakStub, rendered, rewriteOnce, startJailbreakStub } from "./stack";
import { StandinInference, startStandinInference } from "./standin-inference";

const redteam = (f: string) => path.join(repoRoot, "pipelines", "redteam", f);
const prompts = (f: string) =>
    fs
        .readFileSync(redteam(f), "utf8")
        .split("\n")
        .filter((l) => l.trim())
        .map((l) => JSON.parse(l).prompt as string);

describe("guardrail-promotion evaluation on the real guardrails entrypoint (0.24.1)", function () {
    let scratch: string;
    let inference: StandinInference;
    let jailbreak: JailbreakStub;
    let candidate: RuleBundle;
    let model: string;
    let python: string;
    const serverLines: string[] = [];

    before(async function () {
        python = ensureVenv(
            "guardrails",
            path.join(repoRoot, "images/guardrails/requirements.lock"),
        ).python;
        scratch = scratchDir("evaluate-candidate");
        const r = rendered();
        const data = (r.railsConfigMap as any).data as Record<string, string>;
        const vllm = (r.inference as any).spec.template.spec.containers.find(
            (c: any) => c.name === "vllm",
        );
        model = vllm.args[vllm.args.indexOf("--served-model-name") + 1];
        inference = await startStandinInference(model);
        jailbreak = await startJailbreakStub();
        let cfg = data["config.yml"];
        // The rendered rails call inference through the guardrails pod's mTLS sidecar on loopback
        // (modules/k8s/llm/mtls.ts); here the candidate calls the stand-in there directly.
        cfg = rewriteOnce(
            cfg,
            "http://127.0.0.1:8001",
            `http://127.0.0.1:${inference.port}`,
            "candidate inference",
        );
        cfg = rewriteOnce(
            cfg,
            "http://jailbreak-detection.llm-guardrails.svc.cluster.local:1337",
            `http://127.0.0.1:${jailbreak.port}`,
            "candidate jailbreak heuristics",
        );
        candidate = { ...data, "config.yml": cfg };
    });

    after(async function () {
        await inference?.close();
        await jailbreak?.close();
        if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
    });

    const run = async (name: string, gates: [string, string]) => {
        const out = path.join(scratch, `${name}.sha256`);
        const report = path.join(scratch, `${name}.json`);
        const lines: string[] = [];
        const code = await main(
            [
                "evaluate-candidate",
                "--candidate-rules",
                JSON.stringify(candidate),
                "--model",
                model,
                "--attacks",
                redteam("attacks.jsonl"),
                "--benign",
                redteam("benign.jsonl"),
                "--rules-sha256-out",
                out,
                "--report",
                report,
                "--min-attack-block-rate",
                gates[0],
                "--max-benign-block-rate",
                gates[1],
            ],
            {
                env: {},
                stdout: (l) => lines.push(l),
                stderr: (l) => lines.push(l),
                serve: async (bundle) =>
                    serveCandidate(bundle, {
                        command: python,
                        env: {
                            // The image installs slp_guardrails into the venv; here from the repository.
                            PYTHONPATH: path.join(repoRoot, "images", "guardrails"),
                            HOME: scratch,
                        },
                        port: await freePort(),
                        metricsPort: await freePort(),
                        echo: (l) => serverLines.push(l),
                    }),
            },
        );
        const result = JSON.parse(fs.readFileSync(report, "utf8")) as Evaluation & {
            verdict: { pass: boolean; reasons: string[] };
        };
        return { code, out, result, log: lines.join("\n") };
    };

    it("evaluates the rendered rails: decisions per rail from the audit stream, digest certified on a pass", async function () {
        const before = inference.requests.length;
        const r = await run("pass", ["0.1", "0"]);
        assert.equal(r.code, 0, r.log);
        const e = r.result;
        assert.equal(e.attacks.total, 38);
        assert.equal(e.benign.total, 38);
        assert.deepEqual(e.errors, []);
        assert.deepEqual(e.withheld, [], "the Presidio stand-in answered every masking call");
        assert.deepEqual(e.blockedBenign, []);
        // The stand-in model never says "block" and the jailbreak stub passes everything: what
        // blocks is the LLM-free pattern rail, and the decision lines name it.
        assert.ok(e.attacks.blocked > 0);
        assert.deepEqual(e.attacksBlockedBy, { "detect prompt injection": e.attacks.blocked });
        console.log(
            `      candidate = rendered dev rails: ${e.attacks.blocked}/38 attacks blocked ` +
                `(${JSON.stringify(e.attacksBlockedBy)}), 0/38 benign blocked`,
        );
        // The production gate (≥ 95 %) refuses these rails with this model: it needs the LLM's
        // self-check, which a stand-in cannot provide.
        assert.equal(
            verdict(e, { minAttackBlockRate: 0.95, maxBenignBlockRate: 0.02 }).pass,
            false,
        );
        assert.equal(fs.readFileSync(r.out, "utf8"), bundleDigest(candidate));
        // Prompts reached the stand-in model through the served rails (self checks and generation).
        assert.ok(inference.requests.length - before >= 38);
        // The step's log (the server's stdout) carries decisions, never a prompt.
        assert.ok(serverLines.some((l) => l.includes('"guardrails.decision"')));
        const logged = serverLines.join("\n") + r.log;
        for (const p of [...prompts("attacks.jsonl"), ...prompts("benign.jsonl")]) {
            assert.ok(!logged.includes(p), `a prompt reached the step's log: ${p.slice(0, 30)}`);
        }
    });

    it("a failing jailbreak check makes the evaluation inconclusive (exit 1, no digest), never a pass", async function () {
        jailbreak.mode = "error";
        try {
            const r = await run("jailbreak-error", ["0", "1"]);
            assert.equal(r.code, 1, r.log);
            assert.equal(r.result.errors.length, 76);
            assert.match(r.result.errors[0].detail!, /jailbreak detection heuristics.*HTTPError/);
            assert.match(r.log, /inconclusive/);
            assert.ok(!fs.existsSync(r.out), "no digest for an inconclusive evaluation");
        } finally {
            jailbreak.mode = "pass";
        }
    });
});
