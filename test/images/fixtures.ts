/** Stack configs and chart-image locks for the image tests. */
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { chartImageCatalog, lockKey } from "../../modules/constants/chart-images";
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

/**
 * A lock as `npm run images:mirror -- --write-lock` would write it, with made-up digests (the
 * sha256 of each `<repository>:<tag>`): the registries cannot be asked here.
 */
export function fixtureLock(): Record<string, string> {
    return Object.fromEntries(
        chartImageCatalog
            .filter((i) => i.chartDigest === undefined)
            .map((i) => [
                lockKey(i),
                `sha256:${createHash("sha256").update(lockKey(i)).digest("hex")}`,
            ]),
    );
}

/** Writes `fixtureLock()` to a temporary lock file and points SLP_CHART_IMAGE_LOCK at it. */
export function useFixtureLock(): { file: string; restore: () => void } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "slp-lock-"));
    const file = path.join(dir, "chart-images.lock.json");
    fs.writeFileSync(file, JSON.stringify({ images: fixtureLock() }, null, 4));
    const before = process.env.SLP_CHART_IMAGE_LOCK;
    process.env.SLP_CHART_IMAGE_LOCK = file;
    return {
        file,
        restore: () => {
            if (before === undefined) delete process.env.SLP_CHART_IMAGE_LOCK;
            else process.env.SLP_CHART_IMAGE_LOCK = before;
            fs.rmSync(dir, { recursive: true, force: true });
        },
    };
}

/** prod with a mirror and our images built: what is left for the lock and the charts to pin. */
export function prodMirroredRaw(): any {
    const raw = withBuiltImages(stackRaw("prod"));
    raw.images = { mirror: "ns/slp-mirror" };
    return raw;
}
