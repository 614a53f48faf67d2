/**
 * The typed shape of a validated stack configuration. Produced by `parseConfig` (modules/config)
 * and the only thing the cloud and cluster layers read: nothing below `index.ts` calls
 * `pulumi.Config`.
 */
import type { FleetConfig, GlobalEntryConfig } from "./fleet";
import type { ClusterLayerConfig } from "./layer";
import type { InferenceClient, PrivateLinkConfig } from "./private-link";

export const environments = ["dev", "staging", "prod"] as const;
export type Environment = (typeof environments)[number];

export const clusterTargets = ["oke", "existing"] as const;
export type ClusterTarget = (typeof clusterTargets)[number];

export const nodePoolRoles = ["system", "gpu", "kata"] as const;
export type NodePoolRole = (typeof nodePoolRoles)[number];

export const podNetworkings = ["vcn-native", "flannel"] as const;
export type PodNetworking = (typeof podNetworkings)[number];

export const cnis = ["calico", "calico-enterprise", "cilium", "other"] as const;
export type Cni = (typeof cnis)[number];

export const vaultTypes = ["DEFAULT", "VIRTUAL_PRIVATE"] as const;
export type VaultType = (typeof vaultTypes)[number];

export const protectionModes = ["HSM", "SOFTWARE"] as const;
export type ProtectionMode = (typeof protectionModes)[number];

export const kataPoolModes = ["auto", "managed", "self-managed"] as const;
export type KataPoolMode = (typeof kataPoolModes)[number];

/** OCI Vault settings, applied to the vault of every OKE cluster of the stack. */
export interface VaultConfig {
    /** `DEFAULT` (shared partition) or `VIRTUAL_PRIVATE` (dedicated partition, billed). */
    readonly type: VaultType;
    /** Key protection: `HSM` (default) or `SOFTWARE`. */
    readonly protectionMode: ProtectionMode;
    /** Days between key rotations (60–365). Automatic in VIRTUAL_PRIVATE vaults, else the operator's runbook period. */
    readonly rotationDays: number;
    /** Use this existing vault instead of creating one (its keys are still created). */
    readonly existingVaultId?: string;
}

export const ociAuthMethods = [
    "ApiKey",
    "SecurityToken",
    "InstancePrincipal",
    "ResourcePrincipal",
] as const;
export type OciAuthMethod = (typeof ociAuthMethods)[number];

/** How the Pulumi OCI providers authenticate. Credentials themselves never live in stack config. */
export interface OciAuthConfig {
    /** `SecurityToken` (default: `oci session authenticate` on a workstation, OIDC token exchange in CI), `ApiKey`, `InstancePrincipal` (a runner inside OCI), `ResourcePrincipal`. */
    readonly method: OciAuthMethod;
    /** Profile of the OCI config file. Defaults to DEFAULT. */
    readonly profile: string;
}

/** One node pool of an OKE cluster. */
export interface NodePoolConfig {
    /** DNS-label name, unique within the cluster. */
    readonly name: string;
    /** What runs there: `system` (platform components), `gpu` (GPU workloads), `kata` (sandboxed workloads). */
    readonly role: NodePoolRole;
    /** OCI compute shape, e.g. `VM.Standard.E5.Flex`, `BM.GPU.A100-v2.8`, `BM.Standard.E4.128`. */
    readonly shape: string;
    /** OCPUs for flexible shapes. */
    readonly ocpus?: number;
    /** Memory in GB for flexible shapes. */
    readonly memoryGbs?: number;
    /** Number of nodes, spread over the region's availability domains. */
    readonly size: number;
    /** Boot volume size in GB. */
    readonly bootVolumeGbs: number;
    /** Node image OCID; when omitted the newest OKE image for the shape and version is looked up. */
    readonly imageId?: string;
    /** True when pods on this pool run under Kata (always for `kata`; optional for `gpu` on BM GPU shapes). */
    readonly kata: boolean;
    /** True when the shape carries GPUs. */
    readonly gpu: boolean;
    /** For Kata pools: managed node pool, or self-managed instances with `platformConfig` virtualization. */
    readonly kataMode: Exclude<KataPoolMode, "auto">;
    /** Extra node labels. */
    readonly labels: Readonly<Record<string, string>>;
    /**
     * Availability domains (numbers 1–3 of the region) to place nodes in. Defaults to every AD
     * where the region offers the shape (looked up at deploy time).
     */
    readonly availabilityDomains?: readonly number[];
}

/** Network plan of an OKE cluster. */
export interface ClusterNetworkConfig {
    /** VCN CIDR block. */
    readonly vcnCidr: string;
    /** Kubernetes pods CIDR (flannel overlay); must not overlap the VCN. */
    readonly podsCidr: string;
    /** Kubernetes services CIDR; must not overlap the VCN or pods CIDR. */
    readonly servicesCidr: string;
    /** `vcn-native` (pods get VCN IPs and NSGs) or `flannel` (overlay). */
    readonly podNetworking: PodNetworking;
    /** CIDRs allowed to reach worker NodePorts (30000–32767); empty means no NodePort rule. */
    readonly nodePortCidrs: readonly string[];
    /** Whether service load balancers are public (an internet gateway is then created). */
    readonly publicLoadBalancers: boolean;
}

/** What an existing cluster (or a planned OKE cluster) can host. */
export interface ClusterCapabilities {
    /** A Kata runtime (kata-qemu) is available. */
    readonly kata: boolean;
    /** A Kata GPU runtime (kata-qemu-nvidia-gpu) is available. */
    readonly kataGpu: boolean;
    /** GPUs are available to ordinary (runc) pods. */
    readonly gpu: boolean;
    /** The CNI that enforces network policy. */
    readonly cni: Cni;
}

/** One cluster of the stack. */
export interface ClusterConfig {
    /** DNS-label name, unique in the stack; prefixes every resource of the cluster. */
    readonly name: string;
    /** `oke`: created by this program; `existing`: reached through a kubeconfig. */
    readonly target: ClusterTarget;
    /** OCI region (OKE) or a free-form location label (existing). */
    readonly region: string;
    /** Kubernetes version, e.g. `v1.34.2`. */
    readonly kubernetesVersion: string;
    /** OKE only: network plan. */
    readonly network?: ClusterNetworkConfig;
    /** OKE only: API endpoint exposure. */
    readonly endpoint: {
        /** Public API endpoint. Defaults to false (private). */
        readonly public: boolean;
        /** CIDRs allowed to reach a public endpoint (6443). */
        readonly allowedCidrs: readonly string[];
    };
    /** OKE only: managed OCI Bastion for reaching a private endpoint. */
    readonly bastion: {
        readonly enabled: boolean;
        /** Client CIDRs allowed to open bastion sessions. */
        readonly clientCidrs: readonly string[];
    };
    /** OKE only: enforce image signature verification. Defaults to true in prod. */
    readonly imageSigning: boolean;
    /** OKE only: managed cluster add-ons by name (e.g. CertManager, NvidiaGpuPlugin). */
    readonly addons: readonly {
        readonly name: string;
        readonly version?: string;
        readonly configurations: Readonly<Record<string, string>>;
    }[];
    /** OKE only: node pools. */
    readonly nodePools: readonly NodePoolConfig[];
    /** What the cluster can host (derived from node pools for OKE; declared for existing). */
    readonly capabilities: ClusterCapabilities;
    /** Existing only: name of the secret config key that holds the kubeconfig. */
    readonly kubeconfigKey?: string;
    /** Existing only: the private link to the OKE cluster that serves its inference (issue 16). */
    readonly privateLink?: PrivateLinkConfig;
    /**
     * OKE only, derived: the clusters whose guardrails call this cluster's inference through its
     * private entry (their `tiers.guardrails.inferenceFrom` names it). Empty when none.
     */
    readonly inferenceClients?: readonly InferenceClient[];
    /** Everything that goes inside the cluster (tiers, tenants, observability…), after per-cluster overrides. */
    readonly layer: ClusterLayerConfig;
}

/** A whole validated stack. */
export interface PlatformConfig {
    /** Pulumi project name. */
    readonly project: string;
    /** Pulumi stack name. */
    readonly stack: string;
    /** `dev`, `staging` or `prod`; prod turns on stricter defaults and refusals. */
    readonly environment: Environment;
    /** Compartment for every OCI resource (required when any cluster is `oke`). */
    readonly compartmentId?: string;
    /** Tenancy OCID, for dynamic groups (required when any cluster is `oke`). */
    readonly tenancyId?: string;
    /** Home region, where IAM resources are created (required when any cluster is `oke`). */
    readonly homeRegion?: string;
    /** Freeform tags added to every OCI resource. */
    readonly tags: Readonly<Record<string, string>>;
    /** Vault settings. */
    readonly vault: VaultConfig;
    /** How the OCI providers authenticate. */
    readonly ociAuth: OciAuthConfig;
    /** The clusters of this stack, in stack-file order. */
    readonly clusters: readonly ClusterConfig[];
    /** Private routing between the VCNs of the stack's OKE clusters in different regions. */
    readonly peering: PeeringConfig;
    /** One client-facing name steered to the healthy regions' gateways; none by default. */
    readonly globalEntry?: GlobalEntryConfig;
    /** Accepted differences between the clusters' rendered platforms; none by default. */
    readonly fleet: FleetConfig;
    /** Where the images the platform runs are mirrored (tools/images). */
    readonly images: ImagesConfig;
}

/** Image mirror: every image the program renders is referenced from here by digest when set. */
export interface ImagesConfig {
    /** `<tenancy-namespace>/<prefix>`: mirrors live at `<region>.ocir.io/<tenancy-namespace>/<prefix>` in each OKE cluster's region (the home region for existing clusters). Required in prod. Defaults to none (upstream refs). */
    readonly mirror?: string;
}

/**
 * Remote peering between regions: one DRG per region, VCN attachments, a remote peering
 * connection per pair of regions and route rules to the other regions' VCN CIDRs. Routing only:
 * no NSG rule admits traffic from a peer VCN until one is added explicitly.
 */
export interface PeeringConfig {
    /** Peer the OKE clusters' VCNs across regions. Defaults to false. */
    readonly enabled: boolean;
}
