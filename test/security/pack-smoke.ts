/**
 * Smoke test of the real policy pack, without the Pulumi CLI: starts `policy/` with Pulumi's own
 * policy-pack runner (the one `pulumi preview --policy-pack policy` uses, ts-node with type
 * checking), then speaks the analyzer gRPC protocol to it as the engine would. Not part of
 * `npm test` (it starts a server and type-checks, ~5 s):
 *
 *     node -r ts-node/register/transpile-only test/security/pack-smoke.ts
 *
 * Exits 0 when every expectation holds, 1 otherwise.
 */
import * as assert from "assert";
import { spawn } from "child_process";
import * as path from "path";
import * as grpc from "@grpc/grpc-js";
import * as pb from "@pulumi/pulumi/proto/analyzer_pb";
import * as svc from "@pulumi/pulumi/proto/analyzer_grpc_pb";
import { Empty } from "google-protobuf/google/protobuf/empty_pb";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import { rules } from "../../modules/security";

const root = path.resolve(__dirname, "../..");
const unknownString = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

async function main(): Promise<void> {
    const runner = require.resolve("@pulumi/pulumi/cmd/run-policy-pack");
    const child = spawn(process.execPath, [runner, "127.0.0.1:1", "."], {
        cwd: path.join(root, "policy"),
    });
    child.stderr.on("data", (d) => process.stderr.write(d));
    try {
        const port = await new Promise<string>((resolve, reject) => {
            child.stdout.once("data", (d) => resolve(String(d).trim()));
            child.once("exit", (code) =>
                reject(new Error(`policy pack exited with ${code} before listening`)),
            );
        });
        const Client = grpc.makeGenericClientConstructor(svc.AnalyzerService as never, "Analyzer");
        const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as any;
        const call = <T>(method: string, req: unknown) =>
            new Promise<T>((resolve, reject) =>
                client[method](req, (e: Error | null, r: T) => (e ? reject(e) : resolve(r))),
            );

        const info = await call<pb.AnalyzerInfo>("getAnalyzerInfo", new Empty());
        const names = info.getPoliciesList().map((p) => p.getName());
        assert.deepStrictEqual(
            names.sort(),
            [...rules.map((r) => r.id), "k8s-default-deny-coverage"].sort(),
        );

        const analyze = async (
            type: string,
            name: string,
            props: Record<string, unknown>,
            protect: boolean,
        ) => {
            const req = new pb.AnalyzeRequest();
            req.setType(type);
            req.setName(name);
            req.setUrn(`urn:pulumi:dev::secure-llm-platform::${type}::${name}`);
            req.setProperties(Struct.fromJavaScript(props as never));
            const opts = new pb.AnalyzerResourceOptions();
            opts.setProtect(protect);
            req.setOptions(opts);
            const resp = await call<pb.AnalyzeResponse>("analyze", req);
            return resp.getDiagnosticsList().map((d) => `${d.getPolicyname()}: ${d.getMessage()}`);
        };

        const cluster = "oci:ContainerEngine/cluster:Cluster";
        const open = await analyze(
            cluster,
            "oke",
            { endpointConfig: { isPublicIpEnabled: true } },
            false,
        );
        assert.ok(
            open.some(
                (m) => m.startsWith("oci-cluster-kms:") && m.includes("kmsKeyId must be set"),
            ),
            open.join("\n"),
        );
        assert.ok(
            open.some((m) => m.includes("isPublicIpEnabled must be false")),
            open.join("\n"),
        );
        const preview = await analyze(
            cluster,
            "oke2",
            {
                kmsKeyId: unknownString,
                endpointConfig: { isPublicIpEnabled: false },
                imagePolicyConfig: { isPolicyEnabled: true },
            },
            false,
        );
        assert.deepStrictEqual(preview, []);
        const key = await analyze("oci:Kms/key:Key", "k", { displayName: "k" }, false);
        assert.ok(
            key.some((m) => m.includes("protect: true")),
            key.join("\n"),
        );
        assert.deepStrictEqual(
            await analyze("oci:Kms/key:Key", "k2", { displayName: "k" }, true),
            [],
        );
        console.log(
            `policy pack smoke test passed (${names.length} policies served on port ${port})`,
        );
    } finally {
        child.kill();
    }
}

main().then(
    () => process.exit(0),
    (e) => {
        console.error(e);
        process.exit(1);
    },
);
