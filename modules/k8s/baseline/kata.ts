/** kata-deploy on the Kata pools and the Kata RuntimeClasses. */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { withChartImages } from "../../constants/chart-images";
import { charts } from "../../constants/charts";
import { labels, taints } from "../../constants/labels";
import { privilegedNamespaces } from "../../constants/namespaces";
import { runtimeClasses } from "../../constants/scheduling";

/** A RuntimeClass as the platform declares it. */
export interface RuntimeClassSpec {
    readonly name: string;
    readonly handler: string;
    readonly overhead: { readonly podFixed: Readonly<Record<string, string>> };
    readonly scheduling: {
        readonly nodeSelector: Readonly<Record<string, string>>;
        readonly tolerations: readonly {
            key: string;
            operator: "Equal";
            value: string;
            effect: string;
        }[];
    };
}

const toleration = (t: { key: string; value: string; effect: string }) => ({
    key: t.key,
    operator: "Equal" as const,
    value: t.value,
    effect: t.effect,
});

/**
 * The RuntimeClass for `name`. Pods land only on nodes where kata-deploy has installed the runtime
 * (its node label) and tolerate exactly the taints of the pools meant for them: CPU Kata pods the
 * Kata taint (so never the GPU pools, which also carry the GPU taint), GPU Kata pods both.
 */
export function runtimeClassSpec(name: string): RuntimeClassSpec {
    const nodeSelector = { [labels.kataRuntime]: "true" };
    if (name === runtimeClasses.kataGpu) {
        return {
            name,
            handler: name,
            // Sized to the guest VM kata-deploy configures for GPU passthrough.
            overhead: { podFixed: { memory: "10240Mi", cpu: "1" } },
            scheduling: {
                nodeSelector,
                tolerations: [toleration(taints.kata), toleration(taints.gpu)],
            },
        };
    }
    if (name === runtimeClasses.kata) {
        return {
            name,
            handler: name,
            overhead: { podFixed: { memory: "320Mi", cpu: "250m" } },
            scheduling: { nodeSelector, tolerations: [toleration(taints.kata)] },
        };
    }
    throw new Error(
        `no RuntimeClass definition for ${name}; known: ${Object.values(runtimeClasses).join(", ")}`,
    );
}

/** kata-deploy shim names for the classes (`kata-qemu` → `qemu`). */
export function kataShims(classes: readonly string[]): string[] {
    return classes.map((c) => c.replace(/^kata-/, ""));
}

/**
 * Helm values of kata-deploy 3.29.0 (its `shims.<name>.enabled` / `runtimeClasses` layout; the
 * older `env.shims` / `env.createRuntimeClasses` keys are silently ignored by this chart). The
 * platform is the one owner of the Kata RuntimeClasses (they carry the pools' tolerations, which
 * the chart's template cannot express), so the chart's `templates/runtimeclasses.yaml` is off.
 */
export function kataDeployValues(classes: readonly string[]): Record<string, unknown> {
    const shims = Object.fromEntries(kataShims(classes).map((s) => [s, { enabled: true }]));
    // `image` and `kubectlImage` (the cleanup Job's, chart default kubectl:latest) from the
    // chart image catalog, by digest once the lock has it.
    return withChartImages("kata-deploy", {
        k8sDistribution: "k8s",
        // The DaemonSet goes only to pools marked Kata before the runtime exists there.
        nodeSelector: { [labels.kataPool]: "true" },
        tolerations: [toleration(taints.kata), toleration(taints.gpu)],
        // Only the shims the RuntimeClasses name; every other shim defaults to enabled.
        shims: { disableAll: true, ...shims },
        defaultShim: { amd64: "qemu" },
        runtimeClasses: { enabled: false, createDefault: false },
        // nydus is a containerd snapshotter for guest-pulled images; OKE nodes run CRI-O.
        snapshotter: { setup: [] },
        // Kata pools are bare-metal shapes the config validated for virtualization; the GPU
        // operator's NFD, when present, makes the chart's own NFD refuse to install.
        "node-feature-discovery": { enabled: false },
    });
}

/** Arguments for {@link KataRuntime}. */
export interface KataRuntimeArgs {
    /** RuntimeClasses to offer (`kata-qemu`, `kata-qemu-nvidia-gpu`). */
    readonly classes: readonly string[];
    /** Install kata-deploy (OKE Kata pools); false leaves the runtime to the cluster. */
    readonly install: boolean;
    /**
     * What the chart's pods need first: their namespace with its quota and LimitRange, and the
     * PriorityClasses. Defaults to none.
     */
    readonly after?: readonly pulumi.Resource[];
}

/** The Kata runtime on the Kata pools and its RuntimeClasses. */
export class KataRuntime extends pulumi.ComponentResource {
    public readonly runtimeClasses: readonly k8s.node.v1.RuntimeClass[];

    constructor(name: string, args: KataRuntimeArgs, opts?: pulumi.ComponentResourceOptions) {
        super("secure-llm-platform:baseline:KataRuntime", name, {}, opts);
        const out: k8s.node.v1.RuntimeClass[] = [];
        if (args.install) {
            const release = new k8s.helm.v3.Release(
                `${name}-kata-deploy`,
                {
                    name: "kata-deploy",
                    chart: charts.kataDeploy.chart,
                    version: charts.kataDeploy.version,
                    namespace: privilegedNamespaces.kata,
                    values: kataDeployValues(args.classes),
                    atomic: true,
                    timeout: 900,
                },
                { parent: this, dependsOn: [...(args.after ?? [])] },
            );
            for (const cls of args.classes) {
                const spec = runtimeClassSpec(cls);
                out.push(
                    new k8s.node.v1.RuntimeClass(
                        `${name}-${cls}`,
                        {
                            metadata: { name: spec.name },
                            handler: spec.handler,
                            overhead: { podFixed: { ...spec.overhead.podFixed } },
                            scheduling: {
                                nodeSelector: { ...spec.scheduling.nodeSelector },
                                tolerations: spec.scheduling.tolerations.map((t) => ({ ...t })),
                            },
                        },
                        { parent: this, dependsOn: [release] },
                    ),
                );
            }
        }
        this.runtimeClasses = out;
        this.registerOutputs({});
    }
}
