/**
 * Node bootstrap scripts (pure). Managed node pools have no taint field,
 * so taints go in as kubelet extra args through custom cloud-init, which must still run OKE's own
 * init script; self-managed nodes join with `/etc/oke/oke-install.sh`.
 */
import { parse } from "yaml";
import type { NodePoolConfig } from "../config";
import { taints as taintDefs } from "../constants/labels";

/** A node taint. */
export interface Taint {
    readonly key: string;
    readonly value: string;
    readonly effect: string;
}

/** The taints a pool registers with: GPU pools the GPU taint, Kata pools the Kata taint, Kata GPU pools both. */
export function poolTaints(pool: Pick<NodePoolConfig, "gpu" | "kata">): Taint[] {
    const out: Taint[] = [];
    if (pool.gpu) {
        out.push(taintDefs.gpu);
    }
    if (pool.kata) {
        out.push(taintDefs.kata);
    }
    return out;
}

/** `--register-with-taints=k=v:E,…` for the kubelet, or undefined when there are none. */
export function kubeletTaintArgs(taints: readonly Taint[]): string | undefined {
    if (taints.length === 0) {
        return undefined;
    }
    return `--register-with-taints=${taints.map((t) => `${t.key}=${t.value}:${t.effect}`).join(",")}`;
}

/** Cloud-init (a shell script) for a managed node pool that registers with taints. */
export function managedNodeScript(taints: readonly Taint[]): string {
    const extra = kubeletTaintArgs(taints);
    return [
        "#!/bin/bash",
        "set -euo pipefail",
        "# OKE's own init script must still run; only kubelet arguments are added.",
        'curl --fail -sS -H "Authorization: Bearer Oracle" -L0 \\',
        "  http://169.254.169.254/opc/v2/instance/metadata/oke_init_script | base64 --decode > /var/run/oke-init.sh",
        extra === undefined
            ? "bash /var/run/oke-init.sh"
            : `bash /var/run/oke-init.sh --kubelet-extra-args "${extra}"`,
        "",
    ].join("\n");
}

/** Inputs of {@link selfManagedNodeScript}. */
export interface SelfManagedJoin {
    /** API server private IP (no scheme, no port). */
    readonly apiServerHost: string;
    /** Base64 cluster CA certificate (the kubeconfig's `certificate-authority-data`). */
    readonly caCertBase64: string;
    readonly taints: readonly Taint[];
}

/** Cloud-init for a self-managed worker joining an ENHANCED cluster. */
export function selfManagedNodeScript(join: SelfManagedJoin): string {
    const extra = kubeletTaintArgs(join.taints);
    const args = [
        `--apiserver-endpoint "${join.apiServerHost}"`,
        `--kubelet-ca-cert "${join.caCertBase64}"`,
        ...(extra === undefined ? [] : [`--kubelet-extra-args "${extra}"`]),
    ];
    return [
        "#!/bin/bash",
        "set -euo pipefail",
        `bash /etc/oke/oke-install.sh ${args.join(" ")}`,
        "",
    ].join("\n");
}

/** Base64 of a UTF-8 string (instance metadata `user_data` is base64). */
export function base64(text: string): string {
    return Buffer.from(text, "utf8").toString("base64");
}

/** The first cluster's `certificate-authority-data` of a kubeconfig. Throws when absent. */
export function caCertFromKubeconfig(kubeconfig: string): string {
    const doc = parse(kubeconfig) as { clusters?: { cluster?: Record<string, unknown> }[] } | null;
    const ca = doc?.clusters?.[0]?.cluster?.["certificate-authority-data"];
    if (typeof ca !== "string" || ca.length === 0) {
        throw new Error(
            "the OKE kubeconfig has no clusters[0].cluster.certificate-authority-data; self-managed nodes cannot verify the API server",
        );
    }
    return ca;
}

/** Host part of an OKE endpoint (`10.0.0.5:6443` → `10.0.0.5`). */
export function endpointHost(endpoint: string): string {
    return endpoint.replace(/^https?:\/\//, "").replace(/:\d+$/, "");
}

/** `oke-initial-node-labels` metadata value: `k=v,k2=v2`. */
export function nodeLabelsMetadata(labels: Readonly<Record<string, string>>): string {
    return Object.entries(labels)
        .map(([k, v]) => `${k}=${v}`)
        .join(",");
}
