import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { renderedRails } from "../../modules/k8s/llm";
import {
    builtinFlows,
    missingFlows,
    railsChecksum,
    readRailFiles,
    referencedFlows,
} from "../../modules/k8s/llm/rails";
import { parse, stackRaw } from "./helpers";

const fixtures = path.join(__dirname, "fixtures");

describe("guardrails rails configuration", () => {
    const tiers = () => parse(stackRaw()).clusters[0].layer.tiers;

    it("every flow the shipped configuration names is defined (or a library flow)", () => {
        const files = readRailFiles("default");
        assert.ok(referencedFlows(files).length >= 5, "input and output rails are configured");
        assert.deepEqual(missingFlows(files), []);
    });

    it("reports flows that are named but not defined", () => {
        const files = readRailFiles("missing-flow", fixtures);
        assert.deepEqual(missingFlows(files).sort(), [
            "check for secrets",
            "redact everything",
            "self check outptu",
        ]);
        assert.ok((builtinFlows as readonly string[]).includes("self check input"));
    });

    it("configures input rails (jailbreak, injection, self check) and output rails (self check, Presidio masking)", () => {
        const cfg = YAML.parse(readRailFiles("default")["config.yml"]);
        assert.deepEqual(cfg.rails.input.flows, [
            "audited jailbreak detection heuristics",
            "detect prompt injection",
            "audited self check input",
        ]);
        assert.deepEqual(cfg.rails.output.flows, [
            "audited self check output",
            "mask sensitive data via presidio",
        ]);
        // Masking cannot rewrite chunks already sent: the rails never stream (the entrypoint does).
        assert.equal(cfg.rails.output.streaming.enabled, false);
        assert.equal(cfg.tracing.enabled, false, "traces would hold raw prompts");
        const co = readRailFiles("default")["rails/input.co"];
        // Fail-closed jailbreak check of our own; the library's lets a failed call through.
        assert.match(co, /execute jailbreak_heuristics_fail_closed/);
        assert.doesNotMatch(co, /execute jailbreak_detection_heuristics/);
        // 0.24's self_check_input returns a RailOutcome: only `.is_blocked` is the verdict.
        assert.match(co, /\$response = execute self_check_input\n\s+if \$response\.is_blocked/);
    });

    it("renders config.yml against the catalog's services and the configured model and entities", () => {
        const t = tiers();
        const cfg = YAML.parse(renderedRails(t)["config.yml"]);
        const main = cfg.models.find((m: any) => m.type === "main");
        // 0.22+ refuses vllm_openai/openai_api_base; its own client takes engine openai + base_url.
        assert.equal(main.engine, "openai");
        // Through the pod's mTLS sidecar on loopback (mtls.ts).
        assert.equal(main.parameters.base_url, "http://127.0.0.1:8001/v1");
        assert.equal(main.model, t.inference.model.name);
        for (const stale of ["openai_api_base", "model_name", "openai_api_key", "api_key"]) {
            assert.equal(main.parameters[stale], undefined, stale);
        }
        assert.equal(
            cfg.rails.config.jailbreak_detection.server_endpoint,
            "http://127.0.0.1:8005/heuristics",
        );
        assert.equal(cfg.custom_data.presidio.analyzer_url, "http://127.0.0.1:8003");
        assert.equal(cfg.custom_data.presidio.anonymizer_url, "http://127.0.0.1:8004");
        assert.deepEqual(cfg.custom_data.presidio.entities, t.outputFilter.entities);
    });

    it("the file in the repository already names the catalog's services (what a reader sees is what runs)", () => {
        const files = readRailFiles("default");
        assert.equal(
            renderedRails(tiers(), files)["config.yml"],
            renderedRails(tiers(), renderedRails(tiers(), files))["config.yml"],
        );
        const raw = YAML.parse(files["config.yml"]);
        const rendered = YAML.parse(renderedRails(tiers(), files)["config.yml"]);
        assert.deepEqual(raw.models, rendered.models);
        assert.deepEqual(raw.rails, rendered.rails);
        assert.deepEqual(raw.custom_data, rendered.custom_data);
    });

    it("changes the checksum when any rail file changes, and only then", () => {
        const files = renderedRails(tiers());
        const base = railsChecksum(files);
        assert.equal(railsChecksum({ ...files }), base, "stable");
        assert.equal(
            railsChecksum(Object.fromEntries(Object.entries(files).reverse())),
            base,
            "order-independent",
        );
        for (const p of ["config.yml", "prompts.yml", "rails/input.co", "actions.py"]) {
            assert.notEqual(railsChecksum({ ...files, [p]: `${files[p]}\n# changed` }), base, p);
        }
        assert.notEqual(railsChecksum({ ...files, "rails/new.co": "" }), base, "a new flow file");
        // A different model or entity list renders a different config.yml, so it rolls the pods too.
        const t = tiers();
        const other = renderedRails({
            ...t,
            outputFilter: { ...t.outputFilter, entities: ["PERSON"] },
        });
        assert.notEqual(railsChecksum(other), base);
    });

    it("refuses stray files in a rails directory (they would never be mounted)", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "slp-rails-"));
        fs.mkdirSync(path.join(dir, "x", "rails"), { recursive: true });
        fs.writeFileSync(path.join(dir, "x", "config.yml"), "models: []\n");
        fs.writeFileSync(path.join(dir, "x", "secrets.env"), "KEY=1\n");
        assert.throws(() => readRailFiles("x", dir), /secrets.env is not a rail file/);
        assert.throws(() => readRailFiles("nope", dir), /rails configuration nope not found/);
    });
});
