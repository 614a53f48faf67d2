/** Stack configs for the image tests. */
import { stackRaw } from "../support/stacks";

const digest = (c: string) => `sha256:${c.repeat(64)}`;

/** Our own images' digests as a build would set them (the tiers' image keys, the egress proxy's). */
export function withBuiltImages(raw: any): any {
    raw.tiers = raw.tiers ?? {};
    raw.tiers.guardrails = {
        ...raw.tiers.guardrails,
        image: {
            repository: "us-ashburn-1.ocir.io/ns/slp/guardrails",
            tag: "0.24.1",
            digest: digest("a"),
        },
        jailbreakDetection: {
            image: {
                repository: "us-ashburn-1.ocir.io/ns/slp/jailbreak-detection",
                tag: "0.24.1",
                digest: digest("b"),
            },
        },
    };
    raw.tiers.inference = {
        ...raw.tiers.inference,
        loaderImage: {
            repository: "us-ashburn-1.ocir.io/ns/slp/model-loader",
            tag: "0.1.0",
            digest: digest("c"),
        },
    };
    raw.networkPolicy = {
        ...raw.networkPolicy,
        proxyImage: {
            repository: "us-ashburn-1.ocir.io/ns/slp/egress-proxy",
            tag: "squid-5.7-2-deb12u6",
            digest: digest("d"),
        },
    };
    raw.kubeflow = { ...raw.kubeflow, enabled: false };
    return raw;
}

/** prod's two clusters in two regions, as a staging stack with a mirror and built images. */
export function twinRaw(): any {
    const raw = withBuiltImages(stackRaw("prod"));
    raw.environment = "staging";
    raw.images = { mirror: "ns/slp-mirror" };
    for (const c of raw.clusters) c.imageSigning = true;
    return raw;
}
