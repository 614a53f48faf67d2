import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { findStackFile, lineOfKey, stackFileLocator } from "../../modules/config";
import { readStackConfig, secretPlaceholder } from "../../tools/plan/stackfile";

describe("stack files", () => {
    let dir: string;
    before(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "slp-stackfile-"));
        fs.writeFileSync(
            path.join(dir, "Pulumi.yaml"),
            "name: demo\nruntime: nodejs\nconfig:\n  rotation:\n    type: integer\n    default: 90\n  region: us-ashburn-1\n",
        );
        fs.writeFileSync(
            path.join(dir, "Pulumi.s1.yaml"),
            [
                "config:",
                "  demo:rotation: 120",
                "  demo:kubeconfig-a:",
                "    secure: AAABAAxyz",
                "  oci:region: eu-frankfurt-1",
                "  demo:clusters:",
                "    - name: a",
                "      token:",
                "        secure: AAABBB",
                "",
            ].join("\n"),
        );
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("applies project defaults, then stack values, namespacing bare keys", () => {
        const sc = readStackConfig(dir, "s1");
        assert.equal(sc.values["demo:rotation"], "120");
        assert.equal(sc.values["demo:region"], "us-ashburn-1");
        assert.equal(sc.values["oci:region"], "eu-frankfurt-1");
    });

    it("replaces secure values by placeholders and marks their keys secret", () => {
        const sc = readStackConfig(dir, "s1");
        assert.equal(sc.values["demo:kubeconfig-a"], secretPlaceholder("demo:kubeconfig-a"));
        assert.ok(
            !sc.values["demo:clusters"].includes("AAABBB"),
            "ciphertext never reaches the program",
        );
        assert.deepEqual(sc.secretKeys, ["demo:clusters", "demo:kubeconfig-a"]);
    });

    it("maps a key path to the stack file line that wrote it, or its nearest ancestor", () => {
        const sc = readStackConfig(dir, "s1");
        assert.equal(sc.file, path.join(dir, "Pulumi.s1.yaml"));
        const text = fs.readFileSync(sc.file, "utf8");
        assert.equal(lineOfKey(text, "demo", "demo:rotation"), 2);
        assert.equal(lineOfKey(text, "demo", "demo:clusters[0].name"), 7);
        assert.equal(lineOfKey(text, "demo", "demo:clusters[0].token"), 8);
        assert.equal(lineOfKey(text, "demo", "demo:clusters[0].token.nope"), 8, "ancestor");
        assert.equal(lineOfKey(text, "demo", "demo:clusters[3]"), 6, "ancestor of a missing item");
        assert.equal(lineOfKey(text, "demo", "oci:region"), 5);
        // A bare key in the file is the project's key.
        assert.equal(lineOfKey("config:\n  x: 1\n  rotation: 2\n", "demo", "demo:rotation"), 3);
        assert.equal(stackFileLocator(sc.file, "demo")("demo:kubeconfig-a"), "Pulumi.s1.yaml:3");
        assert.equal(findStackFile(dir, "s1"), sc.file);
        assert.equal(findStackFile(dir, "nope"), undefined);
    });

    it("names the missing stack file and the stacks that exist", () => {
        assert.throws(() => readStackConfig(dir, "nope"), /no stack file Pulumi\.nope\.yaml.*s1/);
    });
});
