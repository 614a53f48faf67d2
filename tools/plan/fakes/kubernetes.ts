/** Answers for the Kubernetes provider: ids and the invokes the cluster layer makes. */
import type { FakeState, InvokeFake } from "../mocks";

/** Output state for Kubernetes resources: id `namespace/name`, state echoes inputs. */
export function kubernetesResourceState(
    type: string,
    name: string,
    inputs: Record<string, unknown>,
): FakeState | undefined {
    if (!type.startsWith("kubernetes:")) {
        return undefined;
    }
    const metadata = (inputs.metadata ?? {}) as { name?: string; namespace?: string };
    const objName = metadata.name ?? (inputs.name as string | undefined) ?? name;
    const id = metadata.namespace ? `${metadata.namespace}/${objName}` : objName;
    const state: Record<string, unknown> = {};
    if (type === "kubernetes:helm.sh/v3:Release") {
        state.status = {
            name: objName,
            namespace: inputs.namespace,
            status: "deployed",
            version: inputs.version,
        };
    }
    return { id, state };
}

/** Kubernetes invokes by token. */
export const kubernetesInvokes: Readonly<Record<string, InvokeFake>> = {};
