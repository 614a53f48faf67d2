/**
 * OCI region identifiers the program accepts, by realm. Taken on 2026-12-01 from the region table
 * of Oracle's Go SDKs (`common/regions.go`, "The supported region keys and region identifiers are
 * available at https://docs.cloud.oracle.com/iaas/Content/General/Concepts/regions.htm"); a region
 * OCI opens later must be added here before a stack can use it. A real `pulumi up` still fails
 * later on a region the tenancy is not subscribed to (that needs the tenancy's region
 * subscriptions). Test: "refuses a misspelt region before any resource, with a did-you-mean" in
 * test/config/catalog.test.ts.
 */
export const ociRegionsByRealm: Readonly<Record<string, readonly string[]>> = {
    oc1: [
        "af-johannesburg-1",
        "ap-chuncheon-1",
        "ap-hyderabad-1",
        "ap-melbourne-1",
        "ap-mumbai-1",
        "ap-osaka-1",
        "ap-seoul-1",
        "ap-singapore-1",
        "ap-singapore-2",
        "ap-sydney-1",
        "ap-tokyo-1",
        "ca-montreal-1",
        "ca-toronto-1",
        "eu-amsterdam-1",
        "eu-frankfurt-1",
        "eu-madrid-1",
        "eu-marseille-1",
        "eu-milan-1",
        "eu-paris-1",
        "eu-stockholm-1",
        "eu-zurich-1",
        "il-jerusalem-1",
        "me-abudhabi-1",
        "me-dubai-1",
        "me-jeddah-1",
        "mx-monterrey-1",
        "mx-queretaro-1",
        "sa-bogota-1",
        "sa-santiago-1",
        "sa-saopaulo-1",
        "sa-valparaiso-1",
        "sa-vinhedo-1",
        "uk-cardiff-1",
        "uk-london-1",
        "us-ashburn-1",
        "us-chicago-1",
        "us-phoenix-1",
        "us-saltlake-2",
        "us-sanjose-1",
    ],
    oc2: ["us-langley-1", "us-luke-1"],
    oc3: ["us-gov-ashburn-1", "us-gov-chicago-1", "us-gov-phoenix-1"],
    oc4: ["uk-gov-cardiff-1", "uk-gov-london-1"],
    oc8: ["ap-chiyoda-1", "ap-ibaraki-1"],
    oc19: ["eu-frankfurt-2", "eu-madrid-2"],
};

/** Every region identifier the program accepts. */
export const ociRegions: readonly string[] = Object.values(ociRegionsByRealm).flat().sort();

/** Whether `region` is an OCI region identifier the program knows. */
export function isOciRegion(region: string): boolean {
    return ociRegions.includes(region);
}
