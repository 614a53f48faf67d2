/** Fixtures of the kubeflow suites: the dev stack's config with a kubeflow section, and cloud ids. */
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import {
    ConfigValidationError,
    PlatformConfig,
    decodeConfigValue,
    parseConfig,
} from "../../modules/config";
import type { CloudClusterInfo } from "../../modules/oci/types";
import { RecordedResource, recordedResources, unwrapSecrets } from "../../tools/plan/mocks";
import { readStackConfig } from "../../tools/plan/stackfile";

export const repoRoot = path.resolve(__dirname, "..", "..");

/** The dev stack's raw config (short keys) with `kubeflow` set, deep-copied. */
export function rawWith(kubeflow: unknown): Record<string, any> {
    const sc = readStackConfig(repoRoot, "dev");
    const raw: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(sc.values)) {
        if (k.startsWith("secure-llm-platform:")) {
            raw[k.slice("secure-llm-platform:".length)] = decodeConfigValue(v);
        }
    }
    const copy = JSON.parse(JSON.stringify(raw)) as Record<string, any>;
    if (kubeflow === undefined) delete copy.kubeflow;
    else copy.kubeflow = kubeflow;
    return copy;
}

export function parse(raw: Record<string, unknown>): PlatformConfig {
    return parseConfig(raw, { stack: "test" });
}

/** `path: expected` of every issue a raw config is refused with. */
export function refusal(raw: Record<string, unknown>): string[] {
    try {
        parse(raw);
    } catch (e) {
        if (e instanceof ConfigValidationError)
            return e.issues.map((i) => `${i.path}: ${i.expected}`);
        throw e;
    }
    throw new Error("expected the configuration to be refused");
}

export function fakeCloud(region: string): CloudClusterInfo {
    const o = (s: string) => pulumi.output(s);
    return {
        region,
        compartmentId: "ocid1.compartment.oc1..aaaatest",
        clusterId: o("ocid1.cluster.oc1.iad.aaaatest"),
        apiEndpoint: o("https://10.0.0.10:6443"),
        loadBalancerNsgId: o("ocid1.networksecuritygroup.oc1.iad.aaaatest"),
        vaultId: o("ocid1.vault.oc1.iad.aaaatestvault"),
        cryptoEndpoint: o("https://crypto.example"),
        keys: {
            secrets: o("ocid1.key.oc1.iad.secrets"),
            volumes: o("ocid1.key.oc1.iad.volumes"),
            models: o("ocid1.key.oc1.iad.models"),
            signing: o("ocid1.key.oc1.iad.signing"),
        },
        modelBucket: { namespace: o("ns"), name: o("models") },
    };
}

/** Resources registered under the component named `prefix` (its URN path contains the name). */
export function under(prefix: string): RecordedResource[] {
    return recordedResources()
        .filter((r) => r.name === prefix || r.name.startsWith(`${prefix}-`))
        .map((r) => ({ ...r, inputs: unwrapSecrets(r.inputs) as Record<string, any> }));
}
