/**
 * A config error under a real Pulumi run: the program (index.ts) is started by @pulumi/pulumi's own
 * language runtime entry point (`cmd/run`, what the Pulumi CLI's Node.js language host runs), with
 * the stack's configuration in PULUMI_CONFIG as the CLI passes it. The Pulumi CLI and its engine
 * cannot run here (no CLI is installable from the registries we reach), so a STAND-IN engine and
 * resource monitor speak the real gRPC protocol (@pulumi/pulumi's own proto stubs): the monitor
 * accepts the Stack resource, the engine records every Log call. The test asserts what the user
 * would see: one error-severity log with the whole list, once, at the stack file's lines, no stack
 * trace, no secret, and exit code 32 (the SDK's "exited after logging a user-actionable message").
 *
 * The monitor also answers invokes (the plan's fakes, tools/plan/fakes/oci.ts, unless a test
 * changes one answer or refuses it with a gRPC error as the engine relays a provider's error) and
 * records every registration, so a refused provider lookup is shown to stop the program before
 * anything but the Stack and the OCI provider is registered.
 */
import { strict as assert } from "assert";
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as grpc from "@grpc/grpc-js";
import { ociInvokes } from "../../../tools/plan/fakes/oci";
import { readStackConfig } from "../../../tools/plan/stackfile";
import { lineOf, mistakesStack, secret, token, writeStack } from "../../support/mistakes";

/* eslint-disable @typescript-eslint/no-require-imports */
const proto = (m: string) => require(`@pulumi/pulumi/proto/${m}`);
const engineGrpc = proto("engine_grpc_pb.js");
const resourceGrpc = proto("resource_grpc_pb.js");
const enginePb = proto("engine_pb.js");
const resourcePb = proto("resource_pb.js");
const providerPb = proto("provider_pb.js");
const { Empty } = require("google-protobuf/google/protobuf/empty_pb.js");
const { Struct } = require("google-protobuf/google/protobuf/struct_pb.js");
/* eslint-enable @typescript-eslint/no-require-imports */

const root = path.resolve(__dirname, "..", "..", "..");

interface Run {
    readonly code: number;
    readonly out: string;
    readonly logs: { severity: number; message: string }[];
    /** `type name` of every RegisterResource the monitor received, in order. */
    readonly registered: string[];
}

/** An invoke's answer (inputs → outputs), or an Error the engine relays as the provider's. */
type Answer = (tok: string, inputs: Record<string, unknown>) => Record<string, unknown> | Error;

const fakeAnswer: Answer = (tok, inputs) => {
    const fake = ociInvokes[tok];
    return fake === undefined ? new Error(`no fake for ${tok}`) : fake(inputs);
};

/** Runs the program under @pulumi/pulumi's cmd/run against the stand-in engine and monitor. */
async function pulumiRun(projectDir: string, stack: string, answer = fakeAnswer): Promise<Run> {
    const sc = readStackConfig(projectDir, stack);
    const urn = `urn:pulumi:${stack}::${sc.project}::pulumi:pulumi:Stack::${sc.project}-${stack}`;
    const logs: Run["logs"] = [];
    const registered: string[] = [];
    const server = new grpc.Server();
    const ok = (cb: grpc.sendUnaryData<unknown>, v: unknown) => cb(null, v);
    server.addService(engineGrpc.EngineService, {
        log: (call: any, cb: any) => {
            logs.push({ severity: call.request.getSeverity(), message: call.request.getMessage() });
            ok(cb, new Empty());
        },
        getRootResource: (_: any, cb: any) => {
            const r = new enginePb.GetRootResourceResponse();
            r.setUrn(urn);
            ok(cb, r);
        },
        setRootResource: (_: any, cb: any) => ok(cb, new enginePb.SetRootResourceResponse()),
    });
    server.addService(resourceGrpc.ResourceMonitorService, {
        supportsFeature: (_: any, cb: any) => {
            const r = new resourcePb.SupportsFeatureResponse();
            r.setHassupport(false);
            ok(cb, r);
        },
        registerResource: (call: any, cb: any) => {
            const type: string = call.request.getType();
            const name: string = call.request.getName();
            registered.push(`${type} ${name}`);
            const r = new resourcePb.RegisterResourceResponse();
            r.setUrn(
                type === "pulumi:pulumi:Stack"
                    ? urn
                    : `urn:pulumi:${stack}::${sc.project}::${type}::${name}`,
            );
            if (call.request.getCustom()) r.setId(`${name}-id`);
            r.setObject(Struct.fromJavaScript({}));
            ok(cb, r);
        },
        invoke: (call: any, cb: any) => {
            const tok: string = call.request.getTok();
            const inputs = (call.request.getArgs()?.toJavaScript() ?? {}) as Record<
                string,
                unknown
            >;
            const a = answer(tok, inputs);
            if (a instanceof Error) {
                cb({ code: grpc.status.UNKNOWN, details: a.message });
                return;
            }
            const r = new providerPb.InvokeResponse();
            r.setReturn(Struct.fromJavaScript(JSON.parse(JSON.stringify(a))));
            ok(cb, r);
        },
        registerResourceOutputs: (_: any, cb: any) => ok(cb, new Empty()),
    });
    const port = await new Promise<number>((resolve, reject) =>
        server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) =>
            e ? reject(e) : resolve(p),
        ),
    );
    const addr = `127.0.0.1:${port}`;
    try {
        return await new Promise<Run>((resolve) => {
            const child = spawn(
                process.execPath,
                [
                    path.join(root, "node_modules/@pulumi/pulumi/cmd/run"),
                    `--monitor=${addr}`,
                    `--engine=${addr}`,
                    `--project=${sc.project}`,
                    `--stack=${stack}`,
                    `--pwd=${projectDir}`,
                    root,
                ],
                {
                    env: {
                        ...process.env,
                        PULUMI_NODEJS_TYPESCRIPT: "true",
                        PULUMI_CONFIG: JSON.stringify(sc.values),
                        PULUMI_CONFIG_SECRET_KEYS: JSON.stringify(sc.secretKeys),
                    },
                },
            );
            let out = "";
            child.stdout.on("data", (d) => (out += d));
            child.stderr.on("data", (d) => (out += d));
            child.on("exit", (code) => resolve({ code: code ?? -1, out, logs, registered }));
        });
    } finally {
        server.forceShutdown();
    }
}

describe("config errors under a real Pulumi run (stand-in engine)", function () {
    this.timeout(300000);
    let dir: string;
    before(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "slp-pulumi-run-"));
        fs.copyFileSync(path.join(root, "tsconfig.json"), path.join(dir, "tsconfig.json"));
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("logs the list once as one error, at the stack file's lines, without a stack trace or secret", async () => {
        const text = mistakesStack();
        writeStack(dir, "m", text);
        const r = await pulumiRun(dir, "m");
        const errors = r.logs.filter((l) => l.severity === 3);
        assert.equal(errors.length, 1, JSON.stringify(r, null, 1));
        const [e] = errors;
        assert.match(e.message, /^invalid stack configuration \(\d+ problems\):\n/);
        assert.ok(
            e.message.includes(
                `Pulumi.m.yaml:${lineOf(text, "replicas: 0")}: secure-llm-platform:tiers.guardrails.replicas:`,
            ),
            e.message,
        );
        assert.equal(e.message.split("tiers.guardrails.replicas").length, 2, e.message);
        assert.doesNotMatch(e.message, /\n\s+at /);
        const everything = JSON.stringify(r);
        assert.ok(!everything.includes(secret) && !everything.includes(token), everything);
        assert.equal(r.code, 32, r.out);
    });

    it("stops at a refused provider lookup with the config error, having registered only the Stack and the OCI provider", async () => {
        const text = fs.readFileSync(path.join(root, "Pulumi.dev.yaml"), "utf8");
        writeStack(dir, "lk", text);
        const r = await pulumiRun(dir, "lk", (tok, inputs) => {
            if (tok === "oci:ContainerEngine/getClusterOption:getClusterOption") {
                const a = fakeAnswer(tok, inputs) as Record<string, unknown>;
                return { ...a, kubernetesVersions: ["v1.34.1", "v1.34.10"] };
            }
            if (tok === "oci:ObjectStorage/getNamespace:getNamespace") {
                return new Error(
                    "404-NotAuthorizedOrNotFound, Authorization failed or requested resource not found",
                );
            }
            return fakeAnswer(tok, inputs);
        });
        const errors = r.logs.filter((l) => l.severity === 3);
        assert.equal(errors.length, 1, JSON.stringify(r, null, 1));
        const [e] = errors;
        assert.match(e.message, /^invalid stack configuration \(2 problems\):\n/);
        const at = (snippet: string) => `Pulumi.lk.yaml:${lineOf(text, snippet)}`;
        assert.ok(
            e.message.includes(
                `${at("kubernetesVersion:")}: secure-llm-platform:clusters[0].kubernetesVersion: got "v1.34.2"; expected a Kubernetes version OKE's cluster options in us-ashburn-1 list: v1.34.1, v1.34.10 (did you mean "v1.34.1"?)`,
            ),
            e.message,
        );
        // The provider's own words, relayed by the engine, name what it could not read.
        assert.match(
            e.message,
            /secure-llm-platform:compartmentId: got "ocid1\.compartment[^"]+"; expected a value the OCI provider of us-ashburn-1 \(ociAuth \w+, profile DEFAULT\) can look up; getNamespace answered: 404-NotAuthorizedOrNotFound/,
        );
        assert.doesNotMatch(e.message, /\n\s+at /);
        assert.deepEqual(r.registered, [
            "pulumi:pulumi:Stack secure-llm-platform-lk",
            "pulumi:providers:oci oci-us-ashburn-1",
        ]);
        assert.equal(r.code, 32, r.out);
    });
});
