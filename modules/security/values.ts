/**
 * How the security rules read resource inputs: plain JSON-like data in which a value that cannot be
 * known yet (an Output during `pulumi preview`) is the {@link UNKNOWN} marker.
 *
 * Each caller translates its own representation of "not known yet" into the marker: the CrossGuard
 * adapter (`policy/policies.ts`) turns the engine's unknown sentinels into it, and the offline plan
 * runs the mocks as an update (every Output resolves), so there `undefined` always means "absent".
 * A rule never counts UNKNOWN as a violation; it counts `undefined` as one wherever a value is
 * required.
 */

/** Marks a value that is an unresolved Output: the rule cannot check it, so it passes. */
export const UNKNOWN: unique symbol = Symbol.for("secure-llm-platform.security.unknown");
export type Unknown = typeof UNKNOWN;

/** True when `v` is the {@link UNKNOWN} marker. */
export function isUnknown(v: unknown): v is Unknown {
    return v === UNKNOWN;
}

/** True for a plain object (not an array, not null, not the marker). */
export function isRecord(v: unknown): v is Record<string, unknown> {
    return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Reads a nested field. Returns {@link UNKNOWN} as soon as a step is unknown, and `undefined` when
 * a step is absent or not an object.
 */
export function get(v: unknown, ...path: (string | number)[]): unknown {
    let cur = v;
    for (const key of path) {
        if (isUnknown(cur)) {
            return UNKNOWN;
        }
        if (typeof key === "number") {
            cur = Array.isArray(cur) ? cur[key] : undefined;
        } else {
            cur = isRecord(cur) ? cur[key] : undefined;
        }
    }
    return cur;
}

/** The elements of a known array; `[]` for absent or unknown values (nothing to check). */
export function list(v: unknown): readonly unknown[] {
    return Array.isArray(v) ? v : [];
}

/** The entries of a known string map (labels, annotations); unknown entries keep the marker. */
export function stringMap(v: unknown): Readonly<Record<string, unknown>> {
    return isRecord(v) ? v : {};
}

/** True when a string field is set to something other than blanks (unknown counts as set). */
export function isNonEmptyString(v: unknown): boolean {
    return isUnknown(v) || (typeof v === "string" && v.trim() !== "");
}

/** True when a required field has a value (unknown counts as set). */
export function isSet(v: unknown): boolean {
    return isUnknown(v) || (v !== undefined && v !== null && v !== "");
}

/** Pulumi's marker key for a secret value on the wire (`@pulumi/pulumi/runtime/rpc`). */
const secretSig = "4dabf18193072939515e22adb298388d";

/**
 * Removes Pulumi's secret envelopes so rules see values where the program put them. Rules never
 * copy a value into a message, only names and paths, so nothing secret leaks into a finding.
 */
export function plainInputs(v: unknown): unknown {
    if (isRecord(v) && secretSig in v) {
        return plainInputs(v.value);
    }
    if (Array.isArray(v)) {
        return v.map(plainInputs);
    }
    if (isRecord(v)) {
        return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plainInputs(x)]));
    }
    return v;
}
