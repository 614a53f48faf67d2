/**
 * Kubernetes versions OKE offers for new clusters and node pools, within the minors the platform
 * supports (`supportedKubernetesMinors` in modules/config/index.ts). OKE's own list is the
 * `kubernetesVersions` of `oci ce cluster-options get --cluster-option-id all` (provider lookup
 * `oci.containerengine.getClusterOption`), which cannot be queried here. Recorded on 2026-12-01
 * from the versions in OKE node image source names (`Oracle-Linux-<os>-<date>-<build>-OKE-<version>-
 * <image build>`, as node-pool-options returns them) quoted in public repositories: 1.32.1 and
 * 1.32.10, 1.33.1 and 1.33.10, 1.34.1, 1.34.2 and 1.34.10 (1.35.x also exists; the platform stops
 * at 1.34). The list is a snapshot, not exhaustive: a version OKE adds later must be added here,
 * and a real `pulumi up` checks the chosen version against the provider's lookup as well, before
 * any resource (modules/oci/lookups.ts). Tests: "refuses a Kubernetes version OKE does not offer,
 * with a did-you-mean" in test/config/catalog.test.ts and "refuses a Kubernetes version the
 * region's cluster options do not list" in test/oci/provider-preflight.test.ts.
 */
import { didYouMean } from "./suggest";

/** Kubernetes versions (`v1.x.y`) the program accepts for OKE clusters. */
export const okeKubernetesVersions: readonly string[] = [
    "v1.32.1",
    "v1.32.10",
    "v1.33.1",
    "v1.33.10",
    "v1.34.1",
    "v1.34.2",
    "v1.34.10",
];

/**
 * What is wrong with `version` given the versions OKE offers (`offered`), as an "expected" text
 * naming the choices and the closest one; undefined when it is offered.
 */
export function kubernetesVersionProblem(
    version: string,
    offered: readonly string[],
): string | undefined {
    if (offered.includes(version)) {
        return undefined;
    }
    const choices = [...offered].sort(compareVersions);
    const near = nearestPatch(version, choices);
    const hint = near === undefined ? didYouMean(version, choices) : ` (did you mean "${near}"?)`;
    return `a Kubernetes version OKE offers: ${choices.join(", ")}${hint}`;
}

/** The offered version of the same minor whose patch is numerically nearest (the newer on a tie). */
function nearestPatch(version: string, offered: readonly string[]): string | undefined {
    const m = /^v?1\.(\d+)\.(\d+)$/.exec(version);
    if (m === null) return undefined;
    let best: { v: string; d: number } | undefined;
    for (const v of offered) {
        const o = /^v1\.(\d+)\.(\d+)$/.exec(v);
        if (o === null || o[1] !== m[1]) continue;
        const d = Math.abs(Number(o[2]) - Number(m[2]));
        if (best === undefined || d < best.d || (d === best.d && compareVersions(v, best.v) > 0)) {
            best = { v, d };
        }
    }
    return best?.v;
}

/** Orders `v1.x.y` versions numerically. */
export function compareVersions(a: string, b: string): number {
    const parts = (v: string) => v.replace(/^v/, "").split(".").map(Number);
    const [pa, pb] = [parts(a), parts(b)];
    for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
        const d = (pa[i] ?? 0) - (pb[i] ?? 0);
        if (d !== 0) return d;
    }
    return 0;
}
