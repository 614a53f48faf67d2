/** Shared fixtures of the baseline suites: configs, fake cloud ids, and a recorder per component. */
import type { ClusterConfig } from "../../modules/config";
import type { CloudClusterInfo } from "../../modules/oci/types";
import { RecordedResource, recordedResources, settle, unwrapSecrets } from "../../tools/plan/mocks";
import { stackRaw } from "../support/stacks";

export { fakeCloud, parse, refusal } from "../support/stacks";

/** The dev stack's raw config (short keys), deep-copied so a test may change it. */
export function devRaw(): Record<string, any> {
    return stackRaw("dev");
}

/** Builds a Baseline and returns what it registered (secrets unwrapped). */
export async function recordBaseline(
    name: string,
    cluster: ClusterConfig,
    cloud?: CloudClusterInfo,
): Promise<RecordedResource[]> {
    const { Baseline } = await import("../../modules/k8s/baseline");
    new Baseline(name, { cluster, environment: "dev", cloud });
    await settle();
    return recordedResources()
        .filter((r) => r.name === name || r.name.startsWith(`${name}-`))
        .map((r) => ({ ...r, inputs: unwrapSecrets(r.inputs) as Record<string, unknown> }));
}

/** Kubernetes objects of a kind. */
export function ofType(rs: readonly RecordedResource[], type: string): RecordedResource[] {
    return rs.filter((r) => r.type === type);
}

/** `metadata` of a recorded object. */
export function meta(r: RecordedResource): {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
} {
    return r.inputs.metadata as never;
}

/** A Helm release by release name. */
export function release(
    rs: readonly RecordedResource[],
    releaseName: string,
): RecordedResource | undefined {
    return rs.find(
        (r) => r.type === "kubernetes:helm.sh/v3:Release" && r.inputs.name === releaseName,
    );
}
