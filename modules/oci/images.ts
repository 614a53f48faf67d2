/** Node image selection from OKE's node pool options (pure). */

/** One entry of `getNodePoolOption({nodePoolOptionId: "all"}).sources`. */
export interface NodeImageSource {
    readonly imageId: string;
    readonly sourceName: string;
    readonly sourceType: string;
}

/** What the image must fit. */
export interface NodeImageRequest {
    /** Cluster Kubernetes version, e.g. `v1.34.2`. */
    readonly kubernetesVersion: string;
    /** Compute shape of the pool. */
    readonly shape: string;
    /** True for GPU shapes: only images with `GPU` in the name; false: only images without. */
    readonly gpu: boolean;
}

/**
 * True for aarch64 shapes: Ampere (`VM.Standard.A1.Flex`, `BM.Standard.A1.160`, A2, A4) and Grace
 * GPU shapes (`BM.GPU.GB200.4`). `BM.GPU.A100-v2.8` and `VM.GPU.A10.1` are x86.
 */
export function isArmShape(shape: string): boolean {
    return /^(VM|BM)\.[A-Za-z0-9]+\.(A\d\.|GB\d+)/.test(shape);
}

interface Parsed {
    readonly source: NodeImageSource;
    readonly patch: number;
    readonly built: string;
}

/**
 * The newest OKE image for a pool, or undefined. Keeps Oracle Linux sources named for the cluster's
 * Kubernetes minor (`…-OKE-1.34.x-…`), with `aarch64` in the name exactly when the shape is Arm and
 * `GPU` in the name exactly when the shape has GPUs; prefers the cluster's exact patch version,
 * then the newest build date and build number in the name.
 */
export function selectNodeImage(
    sources: readonly NodeImageSource[],
    req: NodeImageRequest,
): NodeImageSource | undefined {
    const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(req.kubernetesVersion);
    if (!m) {
        return undefined;
    }
    const [major, minor, patch] = [m[1], m[2], Number(m[3])];
    const arm = isArmShape(req.shape);
    const versionRe = new RegExp(`-OKE-${major}\\.${minor}\\.(\\d+)-`);
    const candidates: Parsed[] = [];
    for (const source of sources) {
        const name = source.sourceName;
        const v = versionRe.exec(name);
        if (
            source.sourceType.toUpperCase() !== "IMAGE" ||
            !name.startsWith("Oracle-Linux-") ||
            !v
        ) {
            continue;
        }
        if (/aarch64/i.test(name) !== arm || /GPU/.test(name) !== req.gpu) {
            continue;
        }
        const date = /(\d{4})\.(\d{2})\.(\d{2})-(\d+)/.exec(name);
        const built = date ? `${date[1]}${date[2]}${date[3]}${date[4].padStart(4, "0")}` : "";
        candidates.push({ source, patch: Number(v[1]), built });
    }
    candidates.sort((a, b) => {
        const exact = Number(b.patch === patch) - Number(a.patch === patch);
        if (exact !== 0) {
            return exact;
        }
        if (a.built !== b.built) {
            return a.built < b.built ? 1 : -1;
        }
        return b.patch - a.patch;
    });
    return candidates[0]?.source;
}
