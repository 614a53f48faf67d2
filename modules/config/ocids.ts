/**
 * OCID kinds per configuration key. An OCID reads `ocid1.<resource type>.<realm>.[region][.future
 * use].<unique id>` (OCI "Resource Identifiers",
 * https://docs.oracle.com/en-us/iaas/Content/General/Concepts/identifiers.htm), so the resource type
 * tells a compartment OCID from a vault's or an image's: a vault OCID pasted into compartmentId is
 * refused before any resource. Test: "refuses an OCID of the wrong kind, naming the key" in
 * test/config/catalog.test.ts.
 */

/** Resource types of the OCIDs the stack configuration takes. */
export type OcidKind = "compartment" | "tenancy" | "vault" | "key" | "image";

/** Pattern and message for an OCID of one of `kinds` (the first names the example). */
export function ocidOf(...kinds: [OcidKind, ...OcidKind[]]): { pattern: RegExp; expected: string } {
    return {
        pattern: new RegExp(`^ocid1\\.(${kinds.join("|")})\\.[a-z0-9-]*\\.[a-z0-9-]*\\.[a-z0-9]+$`),
        expected: `${kinds.map((k) => `${/^[aeiou]/.test(k) ? "an" : "a"} ${k} OCID`).join(" or ")} (ocid1.${kinds[0]}.oc1..aaaa…)`,
    };
}

/** The kind an OCID names, or undefined when it is not an OCID. */
export function ocidKind(value: string): string | undefined {
    return /^ocid1\.([a-z0-9]+)\./.exec(value)?.[1];
}
