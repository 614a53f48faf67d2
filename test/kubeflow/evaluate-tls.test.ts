/**
 * `--tls-dir` of the steps that call a guardrails tier's mTLS sidecar, and of the red-team
 * assessment that calls the gateway (pipelines/cli.ts): an https `--url` needs the step's client
 * certificate and a certificate needs an https URL, both refused before anything is written or
 * called. The handshake itself (client certificate presented, the server's name verified, a
 * subject the tier does not admit refused) runs against the real rendered sidecar in
 * test/real/request-path/evaluate-candidate.test.ts, and `assess` against the real rendered
 * gateway in test/real/request-path/request-path.test.ts.
 */
import { strict as assert } from "assert";
import { mkdtempSync, rmSync, writeFileSync } from "fs";
import * as os from "os";
import * as path from "path";
import { main } from "../../pipelines/cli";
import type { KubeApi } from "../../pipelines/promote/kube";

describe("kubeflow: the steps' mTLS client options", () => {
    let dir: string;
    let prompts: string;
    const calls: string[] = [];
    const api = (): KubeApi => ({
        get: async (p) => {
            calls.push(`get ${p}`);
            throw new Error("no API call expected");
        },
        put: async (p) => {
            calls.push(`put ${p}`);
            throw new Error("no API call expected");
        },
        patch: async (p) => {
            calls.push(`patch ${p}`);
            throw new Error("no API call expected");
        },
    });
    before(() => {
        dir = mkdtempSync(path.join(os.tmpdir(), "slp-tls-"));
        prompts = path.join(dir, "p.jsonl");
        writeFileSync(prompts, JSON.stringify({ id: "a1", category: "x", prompt: "hi" }));
        writeFileSync(path.join(dir, "key"), "k-0123456789abcdef\n");
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    const run = async (command: string, url: string, extra: string[]) => {
        const out: string[] = [];
        const common = ["--url", url, "--model", "m", "--attacks", prompts, "--benign", prompts];
        const args =
            command === "evaluate-candidate"
                ? [
                      command,
                      "--candidate-rules",
                      JSON.stringify({ "config.yml": "models: []\n" }),
                      "--rules-sha256-out",
                      path.join(dir, "o"),
                      ...common,
                  ]
                : command === "smoke-model"
                  ? [command, "--source-uri", "oci-os://n/b/p", ...common]
                  : command === "assess"
                    ? [command, "--api-key-file", path.join(dir, "key"), ...common]
                    : [command, ...common];
        const code = await main([...args, ...extra], {
            env: { MIN_ATTACK_BLOCK_RATE: "0", MAX_BENIGN_BLOCK_RATE: "1" },
            stdout: (l) => out.push(l),
            stderr: (l) => out.push(l),
            api,
        });
        return { code, log: out.join("\n") };
    };

    // assess: the red-team job calls the gateway's mTLS port (its key file exists: only TLS fails).
    for (const command of ["evaluate", "evaluate-candidate", "smoke-model", "assess"]) {
        it(`${command}: an https --url without --tls-dir, or --tls-dir with http, is a usage error (exit 2)`, async () => {
            const https = await run(
                command,
                "https://guardrails.llm-guardrails.svc.cluster.local:8000",
                [],
            );
            assert.equal(https.code, 2, https.log);
            assert.match(https.log, /--url is https: give --tls-dir/);
            const plain = await run(command, "http://127.0.0.1:1", ["--tls-dir", dir]);
            assert.equal(plain.code, 2, plain.log);
            assert.match(plain.log, /--tls-dir needs an https --url/);
            const missing = await run(command, "https://h.example:8000", [
                "--tls-dir",
                path.join(dir, "none"),
            ]);
            assert.equal(missing.code, 2, missing.log);
            assert.match(missing.log, /--tls-dir .*none: .*tls\.crt: ENOENT/);
            assert.deepEqual(calls, [], "refused before any API call");
        });
    }
});
