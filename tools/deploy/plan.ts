/**
 * The steps of a one-command deploy (pure; tools/deploy/run.ts executes them).
 *
 * A private OKE API endpoint cannot be reached before the cluster and its Bastion exist, so with
 * `--access bastion` the deploy is two `pulumi up` runs of the same stack and program:
 *
 * 1. the cloud layer: `pulumi up --exclude <each OKE cluster's Kubernetes provider>
 *    --exclude-dependents` (every in-cluster object depends on its cluster's provider, so the
 *    whole cluster layer is left as it is, neither created nor deleted);
 * 2. a Bastion port-forwarding session per private cluster and `ssh -N -L 127.0.0.1:<port>:…`;
 * 3. the whole stack, with `SLP_API_ACCESS` (cluster → `https://127.0.0.1:<port>`) in the
 *    environment of that run only, so the kubeconfig points at the tunnel and still verifies
 *    the API server's name;
 * 4. the sessions are closed (also when a step fails).
 *
 * With `--access direct` (a runner inside the VCN, or public endpoints) it is one `pulumi up`.
 * With `images.mirror` set, the images are copied into OCIR and signed with the clusters' keys
 * (tools/images/mirror.ts) between the cloud layer, which creates the keys, and the cluster layer.
 */
import type { PlatformConfig } from "../../modules/config";
import { kubernetesProviderName } from "../../modules/platform";

/** How the machine running the deploy reaches private API endpoints. */
export type Access = "bastion" | "direct";

export const accessModes: readonly Access[] = ["bastion", "direct"];

/** A tunnel to one cluster's private API endpoint. */
export interface TunnelPlan {
    readonly cluster: string;
    readonly region: string;
    /** Local port of the tunnel (127.0.0.1 only). */
    readonly localPort: number;
}

export type Step =
    | {
          readonly kind: "up" | "preview";
          readonly title: string;
          /** Resource URNs left out, with their dependents. */
          readonly exclude: readonly string[];
          /** Clusters reached through a tunnel in this run. */
          readonly through: readonly string[];
      }
    | {
          readonly kind: "open-tunnel";
          readonly title: string;
          readonly tunnel: TunnelPlan;
          /** Preview: a cluster the cloud layer has not created yet is previewed without a tunnel. */
          readonly ifCreated?: boolean;
      }
    | { readonly kind: "mirror-images"; readonly title: string }
    | { readonly kind: "close-tunnels"; readonly title: string };

/** A deploy that cannot be planned (a usage or config error: exit 2). */
export class DeployPlanError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "DeployPlanError";
    }
}

/** URN of the Kubernetes provider named `provider` (a top-level resource) in `stack` of `project`. */
export function providerUrn(project: string, stack: string, provider: string): string {
    return `urn:pulumi:${stack}::${project}::pulumi:providers:kubernetes::${provider}`;
}

/**
 * Plans the deploy of a validated stack. Local ports are `basePort`, `basePort + 1`, … in stack
 * order, so a run's ports are predictable and the provider's server changes only by port.
 */
export function planDeploy(
    cfg: PlatformConfig,
    access: Access,
    basePort = 16443,
    mode: "up" | "preview" = "up",
): { steps: Step[]; tunnels: TunnelPlan[] } {
    const privateOke = cfg.clusters
        .map((c, i) => ({ c, i }))
        .filter(({ c }) => c.target === "oke" && !c.endpoint.public);
    const oke = cfg.clusters.filter((c) => c.target === "oke");
    const mirror = cfg.images.mirror !== undefined;
    const tunnelled = access === "bastion" ? privateOke : [];
    const noBastion = tunnelled.filter(({ c }) => !c.bastion.enabled);
    if (noBastion.length > 0) {
        throw new DeployPlanError(
            noBastion
                .map(
                    ({ c, i }) =>
                        `${cfg.project}:clusters[${i}].bastion.enabled: got false for private cluster ${c.name}; expected true for --access bastion (or run with --access direct from a runner inside the VCN)`,
                )
                .join("\n"),
        );
    }
    if (basePort + tunnelled.length - 1 > 65535 || basePort < 1024) {
        throw new DeployPlanError(
            `--local-port: got ${basePort}; expected a port from 1024 to ${65536 - tunnelled.length}`,
        );
    }
    const tunnels = tunnelled.map(({ c }, n) => ({
        cluster: c.name,
        region: c.region,
        localPort: basePort + n,
    }));
    if (mode === "preview") {
        // A preview changes nothing: tunnels to the clusters that exist, one `pulumi preview`.
        const steps: Step[] = [
            ...tunnels.map(
                (t): Step => ({
                    kind: "open-tunnel",
                    title: `tunnel: Bastion session to ${t.cluster}'s API endpoint on 127.0.0.1:${t.localPort}`,
                    tunnel: t,
                    ifCreated: true,
                }),
            ),
            {
                kind: "preview",
                title: "platform: pulumi preview",
                exclude: [],
                through: tunnels.map((t) => t.cluster),
            },
        ];
        if (tunnels.length > 0) {
            steps.push({ kind: "close-tunnels", title: "tunnels: delete the Bastion sessions" });
        }
        return { steps, tunnels };
    }
    // One run when nothing has to happen between the cloud and the cluster layer.
    if (tunnels.length === 0 && (!mirror || oke.length === 0)) {
        return {
            steps: [{ kind: "up", title: "platform: pulumi up", exclude: [], through: [] }],
            tunnels: [],
        };
    }
    const steps: Step[] = [
        {
            kind: "up",
            title: `cloud layer: pulumi up without the cluster layer of ${oke.map((c) => c.name).join(", ")}`,
            exclude: oke.map((c) => providerUrn(cfg.project, cfg.stack, kubernetesProviderName(c))),
            through: [],
        },
    ];
    if (mirror) {
        steps.push({
            kind: "mirror-images",
            title: "images: copy into OCIR by digest and sign with the clusters' keys",
        });
    }
    steps.push(
        ...tunnels.map(
            (t): Step => ({
                kind: "open-tunnel",
                title: `tunnel: Bastion session to ${t.cluster}'s API endpoint on 127.0.0.1:${t.localPort}`,
                tunnel: t,
            }),
        ),
        {
            kind: "up",
            title:
                tunnels.length > 0
                    ? "platform: pulumi up through the tunnels"
                    : "platform: pulumi up",
            exclude: [],
            through: tunnels.map((t) => t.cluster),
        },
    );
    if (tunnels.length > 0) {
        steps.push({ kind: "close-tunnels", title: "tunnels: delete the Bastion sessions" });
    }
    return { steps, tunnels };
}
