/**
 * Realistic, deterministic answers for the OCI provider: resource outputs (OCIDs, endpoints) and
 * every invoke the cloud layer makes. The region is the provider's when the caller passes it, else
 * the inputs' `region` (invokes: inject it as `region`), else the region inside an OCID input, else
 * us-ashburn-1.
 */
import { stringify } from "yaml";
import type { FakeState, InvokeFake } from "../mocks";
import { fakeHash } from "../mocks";
import * as pulumi from "@pulumi/pulumi";
import { ociRegions } from "../../../modules/config/regions";
import { knownShapes } from "../../../modules/config/shapes";
import { okeKubernetesVersions } from "../../../modules/config/kubernetes-versions";

const defaultRegion = "us-ashburn-1";

/** Short region keys used in service names and AD names. */
const regionKeys: Readonly<Record<string, string>> = {
    "us-ashburn-1": "IAD",
    "us-phoenix-1": "PHX",
    "eu-frankfurt-1": "FRA",
    "uk-london-1": "LHR",
    "ap-tokyo-1": "NRT",
};

/** Fake OCID for a resource of `kind` named `name`; tenancy-level kinds have no region part. */
export function fakeOcid(kind: string, name: string, region = defaultRegion): string {
    const global = ["dynamicgroup", "policy", "tenancy", "compartment"].includes(kind);
    return `ocid1.${kind}.oc1.${global ? "" : region}.${fakeHash(kind, name)}`;
}

/** The region of a fake or real regional OCID (`ocid1.<kind>.oc1.<region>.<hash>`). */
export function regionOfOcid(ocid: unknown): string | undefined {
    if (typeof ocid !== "string") {
        return undefined;
    }
    const region = ocid.split(".")[3];
    return region !== undefined && /^[a-z]+-[a-z]+-\d+$/.test(region) ? region : undefined;
}

function regionOf(inputs: Record<string, unknown>): string {
    if (typeof inputs.region === "string") {
        return inputs.region;
    }
    for (const key of ["clusterId", "vcnId", "subnetId", "vaultId", "managementEndpoint"]) {
        const r = regionOfOcid(inputs[key]);
        if (r !== undefined) {
            return r;
        }
        const m =
            typeof inputs[key] === "string"
                ? /\.kms\.([a-z]+-[a-z]+-\d+)\./.exec(inputs[key] as string)
                : null;
        if (m) {
            return m[1];
        }
    }
    return defaultRegion;
}

function regionKey(region: string): string {
    return regionKeys[region] ?? region.split("-")[1]!.slice(0, 3).toUpperCase();
}

/** OCID kind of a resource type token (`oci:ContainerEngine/nodePool:NodePool` → `nodepool`). */
const kinds: Readonly<Record<string, string>> = {
    "oci:Kms/vault:Vault": "vault",
    "oci:Kms/key:Key": "key",
    "oci:ContainerEngine/cluster:Cluster": "cluster",
    "oci:ContainerEngine/nodePool:NodePool": "nodepool",
    "oci:ContainerEngine/addon:Addon": "addon",
    "oci:Core/vcn:Vcn": "vcn",
    "oci:Core/subnet:Subnet": "subnet",
    "oci:Core/natGateway:NatGateway": "natgateway",
    "oci:Core/serviceGateway:ServiceGateway": "servicegateway",
    "oci:Core/internetGateway:InternetGateway": "internetgateway",
    "oci:Core/routeTable:RouteTable": "routetable",
    "oci:Core/networkSecurityGroup:NetworkSecurityGroup": "networksecuritygroup",
    "oci:Core/defaultSecurityList:DefaultSecurityList": "securitylist",
    "oci:Core/instanceConfiguration:InstanceConfiguration": "instanceconfiguration",
    "oci:Core/instancePool:InstancePool": "instancepool",
    "oci:Bastion/bastion:Bastion": "bastion",
    "oci:Identity/dynamicGroup:DynamicGroup": "dynamicgroup",
    "oci:Identity/policy:Policy": "policy",
    "oci:Logging/logGroup:LogGroup": "loggroup",
    "oci:Logging/log:Log": "log",
    "oci:Logging/unifiedAgentConfiguration:UnifiedAgentConfiguration": "unifiedagentconfiguration",
    "oci:ObjectStorage/bucket:Bucket": "bucket",
    "oci:Core/drg:Drg": "drg",
    "oci:Core/drgAttachment:DrgAttachment": "drgattachment",
    "oci:Core/remotePeeringConnection:RemotePeeringConnection": "remotepeeringconnection",
};

function octet(...parts: string[]): number {
    return 2 + (parseInt(fakeHash(...parts).slice(0, 4), 16) % 250);
}

/** API server address of a fake cluster (inside the default VCN's control-plane subnet when private). */
function apiHost(clusterId: string, endpoint: string): string {
    return endpoint === "PUBLIC_ENDPOINT"
        ? `129.213.10.${octet("pub", clusterId)}`
        : `10.0.0.${octet("cp", clusterId)}`;
}

/**
 * Output state for OCI resources, or undefined for other packages. `providerRegion` (the `region`
 * input of the resource's provider, when the caller can resolve it) wins over what the inputs say.
 */
export function ociResourceState(
    type: string,
    name: string,
    inputs: Record<string, unknown>,
    providerRegion?: string,
): FakeState | undefined {
    if (!type.startsWith("oci:")) {
        return undefined;
    }
    const region = providerRegion ?? regionOf(inputs);
    const kind = kinds[type] ?? type.split(":")[2]?.toLowerCase() ?? "resource";
    const id = fakeOcid(kind, name, region);
    switch (type) {
        case "oci:Kms/vault:Vault": {
            const host = `${fakeHash("vault", name).slice(0, 10)}-`;
            return {
                id,
                state: {
                    managementEndpoint: `https://${host}management.kms.${region}.oraclecloud.com`,
                    cryptoEndpoint: `https://${host}crypto.kms.${region}.oraclecloud.com`,
                    state: "ACTIVE",
                },
            };
        }
        case "oci:Kms/key:Key":
            return {
                id,
                state: {
                    currentKeyVersion: fakeOcid("keyversion", name, region),
                    state: "ENABLED",
                },
            };
        case "oci:Core/vcn:Vcn":
            return {
                id,
                state: {
                    defaultSecurityListId: fakeOcid("securitylist", `${name}-default`, region),
                    defaultRouteTableId: fakeOcid("routetable", `${name}-default`, region),
                    defaultDhcpOptionsId: fakeOcid("dhcpoptions", `${name}-default`, region),
                    state: "AVAILABLE",
                },
            };
        case "oci:Core/defaultSecurityList:DefaultSecurityList":
            return { id: String(inputs.manageDefaultResourceId ?? id), state: {} };
        case "oci:ContainerEngine/cluster:Cluster": {
            const endpointConfig = (inputs.endpointConfig ?? {}) as { isPublicIpEnabled?: boolean };
            const hash = fakeHash("cluster", name);
            return {
                id,
                state: {
                    endpoints: [
                        {
                            // Same addresses as the kubeconfig fake, which only knows the cluster id.
                            privateEndpoint: `${apiHost(id, "PRIVATE_ENDPOINT")}:6443`,
                            publicEndpoint: endpointConfig.isPublicIpEnabled
                                ? `${apiHost(id, "PUBLIC_ENDPOINT")}:6443`
                                : "",
                            kubernetes: `https://c${hash.slice(0, 10)}.${region}.clusters.oci.oraclecloud.com:6443`,
                            vcnHostnameEndpoint: `c${hash.slice(0, 10)}.cp.${region}.oraclevcn.com:6443`,
                            ipv6endpoint: "",
                        },
                    ],
                    state: "ACTIVE",
                },
            };
        }
        case "oci:ObjectStorage/bucket:Bucket":
            return {
                id: `n/${String(inputs.namespace)}/b/${String(inputs.name ?? name)}`,
                state: {
                    bucketId: fakeOcid("bucket", name, region),
                    name: inputs.name ?? name,
                    namespace: inputs.namespace,
                },
            };
        default:
            return { id, state: { state: "ACTIVE" } };
    }
}

/** A kubeconfig like `oci ce cluster create-kubeconfig` writes (token version 2.0.0). */
export function fakeKubeconfig(clusterId: string, endpoint: string): string {
    const region = regionOfOcid(clusterId) ?? defaultRegion;
    const short = clusterId.slice(-11);
    const host = apiHost(clusterId, endpoint);
    const ca = Buffer.from(
        `-----BEGIN CERTIFICATE-----\nMIIDiDCCAnCgAwIBAgIR${fakeHash("ca", clusterId)}\n-----END CERTIFICATE-----\n`,
    ).toString("base64");
    return stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [
            {
                name: `cluster-${short}`,
                cluster: { server: `https://${host}:6443`, "certificate-authority-data": ca },
            },
        ],
        contexts: [
            {
                name: `context-${short}`,
                context: { cluster: `cluster-${short}`, user: `user-${short}` },
            },
        ],
        "current-context": `context-${short}`,
        preferences: {},
        users: [
            {
                name: `user-${short}`,
                user: {
                    exec: {
                        apiVersion: "client.authentication.k8s.io/v1beta1",
                        command: "oci",
                        args: [
                            "ce",
                            "cluster",
                            "generate-token",
                            "--cluster-id",
                            clusterId,
                            "--region",
                            region,
                        ],
                        env: [],
                    },
                },
            },
        ],
    });
}

/** Node pool option sources: current and older OKE versions, x86, aarch64 and GPU builds. */
const nodeImageSources: readonly { sourceName: string }[] = [
    { sourceName: "Oracle-Linux-8.10-2025.09.16-0-OKE-1.34.2-1234" },
    { sourceName: "Oracle-Linux-8.10-2025.07.21-0-OKE-1.34.1-1198" },
    { sourceName: "Oracle-Linux-8.10-aarch64-2025.09.16-0-OKE-1.34.2-1234" },
    { sourceName: "Oracle-Linux-8.10-Gen2-GPU-2025.09.16-0-OKE-1.34.2-1234" },
    { sourceName: "Oracle-Linux-8.10-Gen2-GPU-2025.06.30-0-OKE-1.34.1-1150" },
    { sourceName: "Oracle-Linux-8.10-2025.08.12-0-OKE-1.33.4-1201" },
    { sourceName: "Oracle-Linux-8.10-Gen2-GPU-2025.08.12-0-OKE-1.33.4-1201" },
    { sourceName: "Oracle-Linux-8.10-2025.06.10-0-OKE-1.32.5-1120" },
    { sourceName: "Oracle-Linux-8.10-2025.03.04-0-OKE-1.31.6-1012" },
    { sourceName: "Oracle-Linux-8.10-Gen2-GPU-2025.03.04-0-OKE-1.31.6-1012" },
    { sourceName: "Oracle-Linux-8.10-2025.01.31-0-OKE-1.30.10-980" },
];

/** OCI invokes by token (the `…Output` variants send the same token). */
export const ociInvokes: Readonly<Record<string, InvokeFake>> = {
    "oci:Core/getServices:getServices": (inputs) => {
        const region = regionOf(inputs);
        const key = regionKey(region);
        const lower = key.toLowerCase();
        return {
            id: "CoreServicesDataSource-0",
            services: [
                {
                    id: fakeOcid("service", "objectstorage", region),
                    name: `OCI ${key} Object Storage`,
                    description: `OCI ${key} Object Storage`,
                    cidrBlock: `oci-${lower}-objectstorage`,
                },
                {
                    id: fakeOcid("service", "all", region),
                    name: `All ${key} Services In Oracle Services Network`,
                    description: `All ${key} Services In Oracle Services Network`,
                    cidrBlock: `all-${lower}-services-in-oracle-services-network`,
                },
                {
                    id: fakeOcid("service", "sbl", region),
                    name: `OCI ${key} Streaming Service`,
                    description: `OCI ${key} Streaming Service`,
                    cidrBlock: `oci-${lower}-streaming`,
                },
            ],
        };
    },
    // What `oci ce cluster-options get --cluster-option-id all` answers: the versions recorded in
    // modules/config/kubernetes-versions.ts plus the 1.35 line the platform does not support.
    "oci:ContainerEngine/getClusterOption:getClusterOption": (inputs) => ({
        id: "all",
        clusterOptionId: inputs.clusterOptionId ?? "all",
        kubernetesVersions: [...okeKubernetesVersions, "v1.35.0", "v1.35.1", "v1.35.2"],
        clusterPodNetworkOptions: [
            { cniType: "OCI_VCN_IP_NATIVE" },
            { cniType: "FLANNEL_OVERLAY" },
        ],
    }),
    "oci:ContainerEngine/getNodePoolOption:getNodePoolOption": (inputs) => ({
        id: "all",
        nodePoolOptionId: inputs.nodePoolOptionId ?? "all",
        kubernetesVersions: ["v1.30.10", "v1.31.6", "v1.32.5", "v1.33.4", "v1.34.1", "v1.34.2"],
        shapes: [
            "VM.Standard.E5.Flex",
            "VM.Standard.A1.Flex",
            "VM.GPU.A10.1",
            "BM.GPU.A100-v2.8",
            "BM.Standard.E4.128",
        ],
        images: [],
        // A compartmentId silently empties the real answer; mirror that.
        sources:
            inputs.compartmentId !== undefined
                ? []
                : nodeImageSources.map((s) => ({
                      sourceType: "IMAGE",
                      sourceName: s.sourceName,
                      imageId: fakeOcid("image", s.sourceName),
                  })),
    }),
    // Shapes per AD. A stand-in for the tenancy's real answer (capacity differs per tenancy):
    // every shape of the program's catalog in every AD, except that bare-metal GPU shapes exist
    // only in AD-1 and AD-2, so the plan shows GPU pools placed where their shape is.
    "oci:Core/getShapes:getShapes": (inputs) => {
        const ad = String(inputs.availabilityDomain ?? "");
        const all = knownShapes;
        const gpuBm = (name: string) => name.startsWith("BM.GPU.");
        const names = ad.endsWith("-AD-3") ? all.filter((n) => !gpuBm(n)) : all;
        return {
            id: `CoreShapesDataSource-${ad}`,
            compartmentId: inputs.compartmentId,
            availabilityDomain: ad,
            shapes: names.map((name) => ({ name, shape: name })),
        };
    },
    "oci:Identity/getAvailabilityDomains:getAvailabilityDomains": (inputs) => {
        const region = regionOf(inputs);
        const upper = region.toUpperCase().replace(/-\d+$/, "");
        return {
            id: "IdentityAvailabilityDomainsDataSource-0",
            compartmentId: inputs.compartmentId,
            availabilityDomains: [1, 2, 3].map((n) => ({
                id: fakeOcid("availabilitydomain", `${upper}-AD-${n}`, region),
                name: `Uocm:${upper}-AD-${n}`,
                compartmentId: inputs.compartmentId,
            })),
        };
    },
    // A stand-in tenancy subscribed (READY) to every region of the shipped catalog, whose home
    // region is the stack's homeRegion when the plan has set the stack's config (none otherwise).
    "oci:Identity/getRegionSubscriptions:getRegionSubscriptions": (inputs) => {
        const home = pulumi.runtime.allConfig()["secure-llm-platform:homeRegion"];
        return {
            id: "IdentityRegionSubscriptionsDataSource-0",
            tenancyId: inputs.tenancyId,
            regionSubscriptions: ociRegions.map((regionName) => ({
                regionName,
                regionKey:
                    regionKeys[regionName] ?? regionName.split("-")[1]!.slice(0, 3).toUpperCase(),
                isHomeRegion: regionName === home,
                state: "READY",
                tenancyId: inputs.tenancyId,
            })),
        };
    },
    "oci:ObjectStorage/getNamespace:getNamespace": (inputs) => ({
        id: "ObjectStorageNamespaceDataSource-0",
        compartmentId: inputs.compartmentId,
        namespace: `ax${fakeHash("namespace").slice(0, 10)}`,
    }),
    "oci:ContainerEngine/getClusterKubeConfig:getClusterKubeConfig": (inputs) => {
        const clusterId = String(inputs.clusterId);
        const endpoint = String(inputs.endpoint ?? "PUBLIC_ENDPOINT");
        return {
            id: `ContainerEngineClusterKubeConfigDataSource-${clusterId}`,
            clusterId,
            endpoint,
            tokenVersion: inputs.tokenVersion ?? "2.0.0",
            expiration: 2592000,
            content: fakeKubeconfig(clusterId, endpoint),
        };
    },
    "oci:Kms/getVault:getVault": (inputs) => {
        const vaultId = String(inputs.vaultId);
        const region = regionOfOcid(vaultId) ?? defaultRegion;
        const host = `${fakeHash("vault", vaultId).slice(0, 10)}-`;
        return {
            id: vaultId,
            vaultId,
            compartmentId: "ocid1.compartment.oc1..existing",
            displayName: "existing-vault",
            vaultType: "DEFAULT",
            state: "ACTIVE",
            managementEndpoint: `https://${host}management.kms.${region}.oraclecloud.com`,
            cryptoEndpoint: `https://${host}crypto.kms.${region}.oraclecloud.com`,
        };
    },
};
