/** Fixtures of the LLM tier suites: the dev stack's config, parse/refuse helpers, a fake cloud. */
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import {
    ConfigValidationError,
    PlatformConfig,
    decodeConfigValue,
    parseConfig,
} from "../../modules/config";
import type { CloudClusterInfo } from "../../modules/oci/types";
import { readStackConfig } from "../../tools/plan/stackfile";

const root = path.resolve(__dirname, "..", "..");

/** A raw stack config (short keys), deep-copied so a test may change it. */
export function stackRaw(stack = "dev"): Record<string, any> {
    const sc = readStackConfig(root, stack);
    const raw: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(sc.values)) {
        if (k.startsWith("secure-llm-platform:")) {
            raw[k.slice("secure-llm-platform:".length)] = decodeConfigValue(v);
        }
    }
    return JSON.parse(JSON.stringify(raw)) as Record<string, any>;
}

export function parse(raw: Record<string, unknown>): PlatformConfig {
    return parseConfig(raw, { stack: "test" });
}

/** The `path: expected` lines a raw config is refused with. */
export function refusal(raw: Record<string, unknown>): string[] {
    try {
        parse(raw);
    } catch (e) {
        if (e instanceof ConfigValidationError) {
            return e.issues.map((i) => `${i.path}: ${i.expected}`);
        }
        throw e;
    }
    throw new Error("expected the configuration to be refused");
}

/** Only the issues under `tiers`. */
export function tierIssues(raw: Record<string, unknown>): string[] {
    return refusal(raw).filter((l) => l.includes("tiers."));
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
        modelBucket: { namespace: o("tenancyns"), name: o("models-bucket") },
    };
}
