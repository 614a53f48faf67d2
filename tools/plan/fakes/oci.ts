/**
 * Realistic, deterministic answers for the OCI provider: resource outputs (OCIDs, endpoints) and
 * every invoke the cloud layer makes.
 */
import type { FakeState, InvokeFake } from "../mocks";
import { fakeHash } from "../mocks";

/** Fake OCID for a resource of `kind` named `name`. */
export function fakeOcid(kind: string, name: string, region = "us-ashburn-1"): string {
    return `ocid1.${kind}.oc1.${region}.${fakeHash(kind, name)}`;
}

/** Output state for OCI resources, or undefined for other packages. */
export function ociResourceState(type: string, name: string, _inputs: Record<string, unknown>): FakeState | undefined {
    if (!type.startsWith("oci:")) {
        return undefined;
    }
    const kind = type.split(":")[2]?.toLowerCase() ?? "resource";
    return { id: fakeOcid(kind, name), state: {} };
}

/** OCI invokes by token. */
export const ociInvokes: Readonly<Record<string, InvokeFake>> = {};
