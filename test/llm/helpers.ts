/** Fixtures of the LLM tier suites: the dev stack's config, parse/refuse helpers, a fake cloud. */
import type { CloudClusterInfo } from "../../modules/oci/types";
import { fakeCloud as sharedFakeCloud, refusal } from "../support/stacks";

export { parse, refusal, stackRaw } from "../support/stacks";

/** Only the issues under `tiers`. */
export function tierIssues(raw: Record<string, unknown>): string[] {
    return refusal(raw).filter((l) => l.includes("tiers."));
}

/** Cloud ids of an OKE cluster whose model bucket is `tenancyns/models-bucket`. */
export function fakeCloud(region: string): CloudClusterInfo {
    return sharedFakeCloud(region, { namespace: "tenancyns", name: "models-bucket" });
}
