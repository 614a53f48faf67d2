/**
 * The GPU stack: exactly one owner of the device plugin (OKE's NvidiaGpuPlugin add-on or the GPU
 * operator), the operator's sandbox mode for Kata GPU pools, and DCGM metrics.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { ClusterCapabilities } from "../../config";
import { withChartImages } from "../../constants/chart-images";
import { charts } from "../../constants/charts";
import { labels, taints } from "../../constants/labels";
import { privilegedNamespaces } from "../../constants/namespaces";

const toleration = (t: { key: string; value: string; effect: string }) => ({
    key: t.key,
    operator: "Equal",
    value: t.value,
    effect: t.effect,
});

/** DCGM exporter Service port, for the monitors. */
export const dcgmMetricsPort = 9400;

/** Helm values of the GPU operator, which then owns `nvidia.com/gpu` (and `nvidia.com/pgpu` under Kata). */
export function gpuOperatorValues(caps: ClusterCapabilities): Record<string, unknown> {
    // v25.3.0 has no `operator.defaultRuntime` (it detects CRI-O or containerd on each node) and
    // no `sandboxWorkloads.mode` (Kata comes from kata-deploy): keys it would silently ignore.
    // Images (operator, operands, NFD) from the chart image catalog.
    return withChartImages("gpu-operator", {
        // OKE GPU images already carry the driver and container toolkit.
        driver: { enabled: false },
        toolkit: { enabled: false },
        devicePlugin: { enabled: true },
        nfd: { enabled: true },
        // The monitoring stack's CRDs arrive after the baseline; Observability owns the ServiceMonitor.
        dcgmExporter: { enabled: true, serviceMonitor: { enabled: false } },
        daemonsets: { tolerations: [toleration(taints.gpu), toleration(taints.kata)] },
        sandboxWorkloads: {
            enabled: caps.kataGpu,
            // Mixed clusters default to containers; Kata GPU nodes opt in with nvidia.com/gpu.workload.config.
            defaultWorkload: caps.gpu ? "container" : "vm-passthrough",
        },
        sandboxDevicePlugin: { enabled: caps.kataGpu },
        vfioManager: { enabled: caps.kataGpu },
        // kata-deploy installs the runtime; the operator's own Kata manager would be a second owner.
        kataManager: { enabled: false },
        ccManager: { enabled: false },
        // vGPU is not used: its device manager (on by default) would be one more unpinned image.
        vgpuDeviceManager: { enabled: false },
    });
}

/** Helm values of the standalone DCGM exporter: runc GPU nodes only (Kata GPU nodes have no host exporter). */
export function dcgmExporterValues(): Record<string, unknown> {
    return {
        // Same Service name as the operator's exporter, so the monitors need not care who installed it.
        fullnameOverride: "nvidia-dcgm-exporter",
        nodeSelector: { [labels.poolRole]: "gpu" },
        affinity: {
            nodeAffinity: {
                requiredDuringSchedulingIgnoredDuringExecution: {
                    nodeSelectorTerms: [
                        { matchExpressions: [{ key: labels.kataPool, operator: "DoesNotExist" }] },
                    ],
                },
            },
        },
        tolerations: [toleration(taints.gpu)],
        service: { port: dcgmMetricsPort },
        serviceMonitor: { enabled: false },
    };
}

/** Arguments for {@link GpuStack}. */
export interface GpuStackArgs {
    /** What the cluster offers. */
    readonly capabilities: ClusterCapabilities;
    /** Install the GPU operator (it owns the device plugin). */
    readonly installOperator: boolean;
    /** Install the standalone DCGM exporter (OKE's add-on owns the device plugin). */
    readonly installDcgmExporter: boolean;
    /**
     * What the chart's pods need first: their namespace with its quota and LimitRange, and the
     * PriorityClasses. Defaults to none.
     */
    readonly after?: readonly pulumi.Resource[];
}

/** GPU operator or DCGM exporter, never a second device plugin. */
export class GpuStack extends pulumi.ComponentResource {
    public readonly releases: readonly k8s.helm.v3.Release[];

    constructor(name: string, args: GpuStackArgs, opts?: pulumi.ComponentResourceOptions) {
        super("secure-llm-platform:baseline:GpuStack", name, {}, opts);
        const after = { parent: this, dependsOn: [...(args.after ?? [])] };
        const releases: k8s.helm.v3.Release[] = [];
        if (args.installOperator) {
            releases.push(
                new k8s.helm.v3.Release(
                    `${name}-gpu-operator`,
                    {
                        name: "gpu-operator",
                        chart: charts.gpuOperator.chart,
                        version: charts.gpuOperator.version,
                        repositoryOpts: { repo: charts.gpuOperator.repo },
                        namespace: privilegedNamespaces.gpuOperator,
                        values: gpuOperatorValues(args.capabilities),
                        atomic: true,
                        timeout: 900,
                    },
                    after,
                ),
            );
        }
        if (args.installDcgmExporter) {
            releases.push(
                new k8s.helm.v3.Release(
                    `${name}-dcgm-exporter`,
                    {
                        name: "dcgm-exporter",
                        chart: charts.dcgmExporter.chart,
                        version: charts.dcgmExporter.version,
                        repositoryOpts: { repo: charts.dcgmExporter.repo },
                        namespace: privilegedNamespaces.gpuOperator,
                        values: dcgmExporterValues(),
                        atomic: true,
                    },
                    after,
                ),
            );
        }
        this.releases = releases;
        this.registerOutputs({ releases: releases.map((r) => r.name) });
    }
}
