/** Fixtures of the kubeflow suites: the dev stack's config with a kubeflow section, and cloud ids. */
import { RecordedResource, recordedResources, unwrapSecrets } from "../../tools/plan/mocks";
import { stackRaw } from "../support/stacks";

export { fakeCloud, parse, refusal, repoRoot } from "../support/stacks";

/** The dev stack's raw config (short keys) with `kubeflow` set, deep-copied. */
export function rawWith(kubeflow: unknown): Record<string, any> {
    const copy = stackRaw("dev");
    if (kubeflow === undefined) delete copy.kubeflow;
    else copy.kubeflow = kubeflow;
    return copy;
}

/** Resources registered under the component named `prefix` (its URN path contains the name). */
export function under(prefix: string): RecordedResource[] {
    return recordedResources()
        .filter((r) => r.name === prefix || r.name.startsWith(`${prefix}-`))
        .map((r) => ({ ...r, inputs: unwrapSecrets(r.inputs) as Record<string, any> }));
}
