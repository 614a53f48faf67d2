/**
 * The security contexts every pod the platform authors runs with: Pod Security `restricted` plus
 * the hardening rules of kubernetes.ts (fixed non-root UID/GID ≥ {@link minimumId}, read-only
 * root, every capability dropped, RuntimeDefault seccomp). Plain data: the workload builder
 * renders it, and test/security checks that the rules accept it.
 */
import { AllowedCapability, minimumId } from "./kubernetes";

/** UID and GID of every platform container unless a workload picks another fixed id ≥ {@link minimumId}. */
export const defaultUid = minimumId;

/** Pod-level security context of a platform pod. */
export function restrictedPodSecurityContext(uid: number = defaultUid) {
    return {
        runAsNonRoot: true,
        runAsUser: uid,
        runAsGroup: uid,
        fsGroup: uid,
        fsGroupChangePolicy: "OnRootMismatch",
        seccompProfile: { type: "RuntimeDefault" },
    };
}

/** Container-level security context of a platform container; `add` only what restricted allows. */
export function restrictedContainerSecurityContext(
    uid: number = defaultUid,
    add: readonly AllowedCapability[] = [],
) {
    return {
        runAsNonRoot: true,
        runAsUser: uid,
        runAsGroup: uid,
        privileged: false,
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: add.length > 0 ? { drop: ["ALL"], add: [...add] } : { drop: ["ALL"] },
        seccompProfile: { type: "RuntimeDefault" },
    };
}
