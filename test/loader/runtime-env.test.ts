import * as assert from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";

import { asInImage, imageEnv, npmScriptEnv } from "../../bench/model-vault";

/** glibc's dynamic loader, which lists the tunables as it parsed them (glibc ≥ 2.33). */
const LD_SO = "/lib64/ld-linux-x86-64.so.2";

describe("model-loader runtime environment", () => {
    it("the image and `npm run model-vault` run the loader with the same malloc tunables", () => {
        const image = imageEnv();
        assert.ok(image.GLIBC_TUNABLES, "the model-loader Dockerfile sets no GLIBC_TUNABLES");
        // No NODE_OPTIONS for the CLI: a V8 flag (e.g. --max-old-space-size) makes the crypto
        // threads refuse Node's code cache and start twice as slowly (docs/model-vault.md,
        // "Start-up"); the image accepts that for its heap cap.
        assert.deepStrictEqual(npmScriptEnv(), { GLIBC_TUNABLES: image.GLIBC_TUNABLES });
        assert.strictEqual(image.NODE_EXTRA_CA_CERTS, undefined);
    });

    it("glibc reads every tunable the image sets, with the value given", function () {
        if (process.platform !== "linux" || process.arch !== "x64" || !fs.existsSync(LD_SO)) {
            this.skip(); // CI and the image are x86-64 Linux; glibc ignores unknown names silently
        }
        const tunables = imageEnv().GLIBC_TUNABLES;
        const listed = execFileSync(LD_SO, ["--list-tunables"], {
            env: { GLIBC_TUNABLES: tunables },
            encoding: "utf8",
        });
        for (const pair of tunables.split(":")) {
            const [name, value] = pair.split("=");
            const line = listed.split("\n").find((l) => l.startsWith(`${name}:`));
            assert.ok(line, `glibc has no tunable ${name} (a typo is ignored silently)`);
            const parsed = Number(/^\S+: (0x[0-9a-f]+|\d+)/.exec(line)![1]);
            assert.strictEqual(parsed, Number(value), `${name} was read as ${line}`);
        }
    });

    it("reads unquoted KEY=VALUE pairs across continuation lines, and refuses anything else", () => {
        const text = "FROM x\nENV A=1 \\\n    B=two \\\n    C=x:y=3\nUSER 1\nENV D=4\n";
        assert.deepStrictEqual(imageEnv(text), { A: "1", B: "two", C: "x:y=3", D: "4" });
        assert.throws(
            () => imageEnv('ENV A="1 2"\n'),
            /ENV A="1 is not an unquoted KEY=VALUE pair/,
        );
        assert.throws(() => imageEnv("ENV A 1\n"), /ENV A is not an unquoted KEY=VALUE pair/);
        assert.throws(
            () => npmScriptEnv("GLIBC_TUNABLES=x node other.js"),
            /does not run node loader\/run.js/,
        );
    });

    it("runs the bench's loader without this machine's CA file and with the image's variables", () => {
        const env = asInImage(
            { EXTRA: "1" },
            { PATH: "/bin", NODE_EXTRA_CA_CERTS: "/etc/ca.pem", GLIBC_TUNABLES: "glibc.x=1" },
        );
        assert.strictEqual(env.NODE_EXTRA_CA_CERTS, undefined);
        assert.strictEqual(env.GLIBC_TUNABLES, imageEnv().GLIBC_TUNABLES);
        assert.strictEqual(env.PATH, "/bin");
        assert.strictEqual(env.EXTRA, "1");
    });
});
