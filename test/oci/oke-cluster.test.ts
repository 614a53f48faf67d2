import { strict as assert } from "assert";
import * as oci from "@pulumi/oci";
import * as pulumi from "@pulumi/pulumi";
import { parseConfig, PlatformConfig, NodePoolConfig } from "../../modules/config";
import type { OkeCluster as OkeClusterType } from "../../modules/oci";
import {
    RecordedResource,
    fakeHash,
    recordedInvokes,
    recordedResources,
    resetRecords,
    settle,
    unwrapSecrets,
} from "../../tools/plan/mocks";
import { askProvider, judgeAnswers } from "../../modules/oci/lookups";

const compartmentId = "ocid1.compartment.oc1..aaaaoci";
const tenancyId = "ocid1.tenancy.oc1..aaaaoci";

function config(
    overrides: {
        environment?: string;
        cluster?: Record<string, unknown>;
        vault?: Record<string, unknown>;
    } = {},
): PlatformConfig {
    return parseConfig(
        {
            environment: overrides.environment ?? "staging",
            compartmentId,
            tenancyId,
            homeRegion: "us-ashburn-1",
            tags: { team: "ml-platform" },
            // Prod refuses a stack whose critical alerts reach no one.
            observability: {
                alerting: {
                    receivers: [{ name: "oncall", type: "pagerduty", secretName: "oncall-key" }],
                },
            },
            ...(overrides.vault ? { vault: overrides.vault } : {}),
            clusters: [
                {
                    name: "iad1",
                    region: "us-ashburn-1",
                    imageSigning: true,
                    bastion: { enabled: true, clientCidrs: ["203.0.113.0/24"] },
                    addons: [
                        { name: "NvidiaGpuPlugin" },
                        { name: "CertManager", version: "v1.14.5" },
                    ],
                    nodePools: [
                        {
                            name: "system",
                            role: "system",
                            shape: "VM.Standard.E5.Flex",
                            ocpus: 4,
                            memoryGbs: 32,
                        },
                        { name: "gpu", role: "gpu", shape: "VM.GPU.A10.1", size: 2 },
                        { name: "kata", role: "kata", shape: "BM.Standard.E4.128", size: 2 },
                    ],
                    ...overrides.cluster,
                },
            ],
        },
        { stack: "ocitest" },
    );
}

/** A managed Kata GPU pool: config validation refuses it for every known shape today, but the cloud layer must still taint it twice. */
const kataGpuManaged: NodePoolConfig = {
    name: "kgpu",
    role: "gpu",
    shape: "BM.GPU.A100-v2.8",
    size: 1,
    bootVolumeGbs: 250,
    kata: true,
    gpu: true,
    kataMode: "managed",
    labels: { "example.com/tier": "inference" },
};

/** A self-managed Kata GPU pool: the GPUs pass through to the Kata guest. */
const kataGpuSelfManaged: NodePoolConfig = {
    ...kataGpuManaged,
    name: "ksgpu",
    kataMode: "self-managed",
};

interface Built {
    readonly resources: readonly RecordedResource[];
    readonly cluster: OkeClusterType;
}

async function build(
    prefix: string,
    cfg: PlatformConfig,
    extraPools: NodePoolConfig[] = [],
): Promise<Built> {
    const { OkeCluster } = await import("../../modules/oci");
    resetRecords();
    const clusterCfg = {
        ...cfg.clusters[0],
        name: `${prefix}`,
        nodePools: [...cfg.clusters[0].nodePools, ...extraPools],
    };
    const home = new oci.Provider(`${prefix}-home`, { region: cfg.homeRegion! });
    const regional = new oci.Provider(`${prefix}-regional`, { region: clusterCfg.region });
    // The provider's answers, asked and judged before any resource as the program does.
    const judged = judgeAnswers(cfg, clusterCfg, 0, await askProvider(cfg, regional));
    assert.deepEqual(judged.issues, []);
    const cluster = new OkeCluster(
        prefix,
        { platform: cfg, cluster: clusterCfg, homeProvider: home, lookups: judged.lookups! },
        { provider: regional },
    );
    await new Promise<void>((resolve) => cluster.info.apiEndpoint.apply(() => resolve()));
    await settle();
    return {
        resources: recordedResources().map((r) => ({
            ...r,
            inputs: unwrapSecrets(r.inputs) as Record<string, unknown>,
        })),
        cluster,
    };
}

const ofType = (rs: readonly RecordedResource[], type: string) => rs.filter((r) => r.type === type);
const one = (rs: readonly RecordedResource[], type: string, name: string) => {
    const found = rs.find((r) => r.type === type && r.name === name);
    assert.ok(
        found,
        `no ${type} named ${name}; have ${rs
            .filter((r) => r.type === type)
            .map((r) => r.name)
            .join(", ")}`,
    );
    return found;
};
const T = {
    vcn: "oci:Core/vcn:Vcn",
    subnet: "oci:Core/subnet:Subnet",
    nat: "oci:Core/natGateway:NatGateway",
    sgw: "oci:Core/serviceGateway:ServiceGateway",
    igw: "oci:Core/internetGateway:InternetGateway",
    rt: "oci:Core/routeTable:RouteTable",
    nsg: "oci:Core/networkSecurityGroup:NetworkSecurityGroup",
    rule: "oci:Core/networkSecurityGroupSecurityRule:NetworkSecurityGroupSecurityRule",
    dsl: "oci:Core/defaultSecurityList:DefaultSecurityList",
    vault: "oci:Kms/vault:Vault",
    key: "oci:Kms/key:Key",
    bucket: "oci:ObjectStorage/bucket:Bucket",
    cluster: "oci:ContainerEngine/cluster:Cluster",
    nodePool: "oci:ContainerEngine/nodePool:NodePool",
    addon: "oci:ContainerEngine/addon:Addon",
    ic: "oci:Core/instanceConfiguration:InstanceConfiguration",
    ipool: "oci:Core/instancePool:InstancePool",
    policy: "oci:Identity/policy:Policy",
    dg: "oci:Identity/dynamicGroup:DynamicGroup",
    bastion: "oci:Bastion/bastion:Bastion",
};
const decode = (b64: unknown) => Buffer.from(String(b64), "base64").toString("utf8");
type Obj = Record<string, any>;

describe("oci: OKE cluster with system, GPU and Kata pools", function () {
    this.timeout(10000);
    let rs: readonly RecordedResource[];
    let built: Built;
    const nsgIdOf = (role: string) => one(rs, T.nsg, `okea-net-${role}-nsg`).id;
    const rulesOf = (role: string) =>
        ofType(rs, T.rule).filter((r) => r.inputs.networkSecurityGroupId === nsgIdOf(role));

    before(async () => {
        built = await build("okea", config(), [kataGpuManaged, kataGpuSelfManaged]);
        rs = built.resources;
    });

    it("gives the bastion's private endpoint egress to the API endpoint through a security list of the control-plane subnet only", () => {
        // A Bastion cannot join an NSG; its VNIC in the cp subnet is governed by that subnet's
        // security lists, and the default list is stripped.
        const list = one(rs, "oci:Core/securityList:SecurityList", "okea-net-bastion-sl");
        assert.deepEqual(list.inputs.ingressSecurityRules, []);
        assert.deepEqual(list.inputs.egressSecurityRules, [
            {
                destination: "10.0.0.0/24",
                destinationType: "CIDR_BLOCK",
                protocol: "6",
                stateless: false,
                description: "OCI Bastion sessions to the Kubernetes API endpoint",
                tcpOptions: { min: 6443, max: 6443 },
            },
        ]);
        const cp = one(rs, T.subnet, "okea-net-cp");
        assert.ok((cp.inputs.securityListIds as string[]).includes(list.id!));
        assert.equal(
            one(rs, T.bastion, "okea-bastion").inputs.targetSubnetId,
            cp.id,
            "the bastion sits in the subnet carrying the list",
        );
        for (const sn of ofType(rs, T.subnet).filter((x) => x.name !== "okea-net-cp")) {
            assert.ok(!(sn.inputs.securityListIds as string[]).includes(list.id!), sn.name);
        }
    });

    it("builds a VCN with private subnets carved from the configured CIDR", () => {
        assert.deepEqual(one(rs, T.vcn, "okea-net-vcn").inputs.cidrBlocks, ["10.0.0.0/16"]);
        const subnets = ofType(rs, T.subnet);
        assert.deepEqual(subnets.map((s) => `${s.name}=${s.inputs.cidrBlock}`).sort(), [
            "okea-net-cp=10.0.0.0/24",
            "okea-net-lb=10.0.4.0/22",
            "okea-net-pods=10.0.128.0/17",
            "okea-net-workers=10.0.64.0/18",
        ]);
        assert.ok(subnets.every((s) => s.inputs.prohibitPublicIpOnVnic === true));
    });

    it("has NAT and service gateways but no internet gateway when nothing is public", () => {
        assert.equal(ofType(rs, T.nat).length, 1);
        assert.equal(ofType(rs, T.igw).length, 0);
        const services = ofType(rs, T.sgw)[0].inputs.services as Obj[];
        assert.equal(services.length, 1);
        assert.match(services[0].serviceId, /^ocid1\.service\./);
        const rt = one(rs, T.rt, "okea-net-private-rt");
        const rules = rt.inputs.routeRules as Obj[];
        assert.ok(
            rules.some(
                (r) =>
                    r.destinationType === "SERVICE_CIDR_BLOCK" &&
                    r.destination === "all-iad-services-in-oracle-services-network",
            ),
        );
        assert.ok(
            rules.some(
                (r) =>
                    r.destination === "0.0.0.0/0" && r.networkEntityId === ofType(rs, T.nat)[0].id,
            ),
        );
    });

    it("picks the service gateway's service by name, not by list position", async () => {
        const { ociInvokes } = await import("../../tools/plan/fakes/oci");
        const services = ociInvokes["oci:Core/getServices:getServices"]({}).services as Obj[];
        const allServices = services.find(
            (s) => s.name === "All IAD Services In Oracle Services Network",
        )!;
        assert.notEqual(services[0].id, allServices.id);
        assert.equal((ofType(rs, T.sgw)[0].inputs.services as Obj[])[0].serviceId, allServices.id);
    });

    it("strips the default security list", () => {
        const dsl = ofType(rs, T.dsl);
        assert.equal(dsl.length, 1);
        assert.deepEqual(dsl[0].inputs.ingressSecurityRules ?? [], []);
        assert.deepEqual(dsl[0].inputs.egressSecurityRules ?? [], []);
        // Every subnet carries the stripped default list; only the control-plane subnet adds the
        // bastion's egress list (checked above).
        for (const s of ofType(rs, T.subnet)) {
            assert.deepEqual(
                (s.inputs.securityListIds as string[])[0],
                dsl[0].inputs.manageDefaultResourceId,
                s.name,
            );
            assert.equal(
                (s.inputs.securityListIds as string[]).length,
                s.name === "okea-net-cp" ? 2 : 1,
                s.name,
            );
        }
    });

    it("opens 6443 and 12250 from workers to the control plane and 10250 from the control plane to kubelets", () => {
        const cpIn = rulesOf("cp").filter(
            (r) => r.inputs.direction === "INGRESS" && r.inputs.source === nsgIdOf("workers"),
        );
        const ports = cpIn
            .map((r) => (r.inputs.tcpOptions as Obj).destinationPortRange.min)
            .sort((a, b) => a - b);
        assert.deepEqual(ports, [6443, 12250]);
        const kubelet = rulesOf("workers").find(
            (r) =>
                r.inputs.direction === "INGRESS" &&
                r.inputs.source === nsgIdOf("cp") &&
                (r.inputs.tcpOptions as Obj | undefined)?.destinationPortRange?.min === 10250,
        );
        assert.ok(kubelet);
        assert.equal(kubelet.inputs.sourceType, "NETWORK_SECURITY_GROUP");
    });

    it("allows path MTU ICMP, HTTPS to the Oracle Services Network, and the bastion to the API", () => {
        assert.ok(
            rulesOf("workers").some(
                (r) =>
                    r.inputs.protocol === "1" &&
                    (r.inputs.icmpOptions as Obj)?.type === 3 &&
                    (r.inputs.icmpOptions as Obj)?.code === 4,
            ),
        );
        const osn = rulesOf("workers").find(
            (r) => r.inputs.destinationType === "SERVICE_CIDR_BLOCK",
        );
        assert.ok(osn);
        assert.equal(osn.inputs.destination, "all-iad-services-in-oracle-services-network");
        assert.equal((osn.inputs.tcpOptions as Obj).destinationPortRange.min, 443);
        assert.ok(
            rulesOf("cp").some(
                (r) =>
                    r.inputs.source === "10.0.0.0/24" &&
                    (r.inputs.tcpOptions as Obj)?.destinationPortRange?.min === 6443,
            ),
        );
        const bastion = ofType(rs, T.bastion)[0];
        assert.equal(bastion.inputs.bastionType, "STANDARD");
        assert.equal(bastion.inputs.targetSubnetId, one(rs, T.subnet, "okea-net-cp").id);
        assert.deepEqual(bastion.inputs.clientCidrBlockAllowLists, ["203.0.113.0/24"]);
    });

    it("admits no ingress from the internet except path-MTU ICMP", () => {
        const open = ofType(rs, T.rule).filter(
            (r) => r.inputs.direction === "INGRESS" && r.inputs.source === "0.0.0.0/0",
        );
        assert.ok(open.length > 0);
        assert.ok(open.every((r) => r.inputs.protocol === "1"));
    });

    it("creates a vault and four protected, retained keys: AES-256 for secrets, volumes, models and RSA for signing", () => {
        const vault = ofType(rs, T.vault);
        assert.equal(vault.length, 1);
        assert.ok(vault[0].protect && vault[0].retainOnDelete);
        assert.equal(vault[0].inputs.vaultType, "DEFAULT");
        const keys = ofType(rs, T.key);
        assert.equal(keys.length, 4);
        for (const k of keys) {
            assert.ok(k.protect, `${k.name} not protected`);
            assert.ok(k.retainOnDelete, `${k.name} not retained`);
            assert.equal(k.inputs.protectionMode, "HSM");
            assert.match(
                String(k.inputs.managementEndpoint),
                /^https:\/\/.*-management\.kms\.us-ashburn-1\.oraclecloud\.com$/,
            );
            // A DEFAULT vault cannot rotate automatically: the period is recorded for the runbook.
            assert.notEqual(k.inputs.isAutoRotationEnabled, true);
            assert.equal((k.inputs.freeformTags as Obj)["rotation-days"], "90");
        }
        const shapes = Object.fromEntries(
            keys.map((k) => [(k.inputs.freeformTags as Obj).purpose, k.inputs.keyShape]),
        );
        assert.deepEqual(shapes.secrets, { algorithm: "AES", length: 32 });
        assert.deepEqual(shapes.volumes, { algorithm: "AES", length: 32 });
        assert.deepEqual(shapes.models, { algorithm: "AES", length: 32 });
        assert.equal((shapes.signing as Obj).algorithm, "RSA");
    });

    it("keeps models in a private, versioned, KMS-encrypted, protected bucket", () => {
        const bucket = ofType(rs, T.bucket)[0];
        const modelsKey = ofType(rs, T.key).find(
            (k) => (k.inputs.freeformTags as Obj).purpose === "models",
        )!;
        assert.equal(bucket.inputs.accessType, "NoPublicAccess");
        assert.equal(bucket.inputs.kmsKeyId, modelsKey.id);
        assert.equal(bucket.inputs.versioning, "Enabled");
        assert.match(String(bucket.inputs.namespace), /^ax[0-9a-f]+$/);
        assert.ok(bucket.protect && bucket.retainOnDelete);
        assert.ok(
            bucket.dependencies.includes(one(rs, T.policy, "okea-keys-policy").urn),
            "bucket created before Object Storage may use the key",
        );
    });

    it("creates an ENHANCED cluster with a private endpoint, etcd encryption and signed-image enforcement", () => {
        const c = ofType(rs, T.cluster)[0];
        const keyId = (p: string) =>
            ofType(rs, T.key).find((k) => (k.inputs.freeformTags as Obj).purpose === p)!.id;
        assert.equal(c.inputs.type, "ENHANCED_CLUSTER");
        assert.equal(c.inputs.kmsKeyId, keyId("secrets"));
        assert.equal((c.inputs.endpointConfig as Obj).isPublicIpEnabled, false);
        assert.equal(
            (c.inputs.endpointConfig as Obj).subnetId,
            one(rs, T.subnet, "okea-net-cp").id,
        );
        assert.deepEqual((c.inputs.endpointConfig as Obj).nsgIds, [nsgIdOf("cp")]);
        assert.deepEqual(c.inputs.imagePolicyConfig, {
            isPolicyEnabled: true,
            keyDetails: [{ kmsKeyId: keyId("signing") }],
        });
        assert.deepEqual(c.inputs.clusterPodNetworkOptions, [{ cniType: "OCI_VCN_IP_NATIVE" }]);
        const options = c.inputs.options as Obj;
        assert.deepEqual(options.addOns, {
            isKubernetesDashboardEnabled: false,
            isTillerEnabled: false,
        });
        assert.deepEqual(options.serviceLbSubnetIds, [one(rs, T.subnet, "okea-net-lb").id]);
        assert.equal(options.kubernetesNetworkConfig.servicesCidr, "10.96.0.0/16");
        assert.ok(
            c.dependencies.includes(one(rs, T.policy, "okea-keys-policy").urn),
            "cluster must wait for the secrets-key policy",
        );
        assert.equal(c.protect, false, "only prod clusters are protected");
    });

    it("hands the cluster layer a private https API endpoint and a secret kubeconfig", async () => {
        const api = await new Promise<string>((resolve) =>
            built.cluster.info.apiEndpoint.apply(resolve),
        );
        assert.match(api, /^https:\/\/10\.0\.0\.\d+:6443$/);
        assert.equal(await pulumi.isSecret(built.cluster.kubeconfig), true);
        const text = await new Promise<string>((resolve) =>
            built.cluster.kubeconfig.apply(resolve),
        );
        assert.match(text, /generate-token/);
        const kc = recordedInvokes().find(
            (i) => i.token === "oci:ContainerEngine/getClusterKubeConfig:getClusterKubeConfig",
        )!;
        assert.equal(kc.inputs.endpoint, "PRIVATE_ENDPOINT");
        assert.equal(kc.inputs.tokenVersion, "2.0.0");
    });

    it("taints the GPU pool through cloud-init that still runs OKE's init script, with a GPU image", () => {
        const gpu = one(rs, T.nodePool, "okea-gpu");
        const script = decode((gpu.inputs.nodeMetadata as Obj).user_data);
        assert.match(script, /oke_init_script/);
        assert.match(script, /--register-with-taints=nvidia\.com\/gpu=present:NoSchedule"/);
        assert.equal(
            (gpu.inputs.nodeSourceDetails as Obj).imageId,
            "ocid1.image.oc1.us-ashburn-1." +
                imageHash("Oracle-Linux-8.10-Gen2-GPU-2025.09.16-0-OKE-1.34.2-1234"),
        );
        const system = one(rs, T.nodePool, "okea-system");
        assert.equal(
            system.inputs.nodeMetadata,
            undefined,
            "system nodes keep OKE's default bootstrap",
        );
        assert.deepEqual(system.inputs.nodeShapeConfig, { ocpus: 4, memoryInGbs: 32 });
        assert.equal(
            (system.inputs.nodeSourceDetails as Obj).imageId,
            "ocid1.image.oc1.us-ashburn-1." +
                imageHash("Oracle-Linux-8.10-2025.09.16-0-OKE-1.34.2-1234"),
        );
    });

    it("gives a managed Kata GPU pool both taints and the Kata node label", () => {
        const pool = one(rs, T.nodePool, "okea-kgpu");
        const script = decode((pool.inputs.nodeMetadata as Obj).user_data);
        assert.match(
            script,
            /--register-with-taints=nvidia\.com\/gpu=present:NoSchedule,kata=true:NoSchedule/,
        );
        const labels = Object.fromEntries(
            (pool.inputs.initialNodeLabels as Obj[]).map((l) => [l.key, l.value]),
        );
        assert.equal(labels["secure-llm-platform.io/kata"], "true");
        assert.equal(labels["secure-llm-platform.io/pool"], "kgpu");
        assert.equal(labels["example.com/tier"], "inference");
    });

    it("builds the Kata pool self-managed, with virtualization enabled and an OKE join script", () => {
        assert.ok(
            !ofType(rs, T.nodePool).some((p) => p.name === "okea-kata"),
            "no managed pool for the self-managed Kata pool",
        );
        const ic = one(rs, T.ic, "okea-kata-config");
        const launch = (ic.inputs.instanceDetails as Obj).launchDetails as Obj;
        assert.deepEqual(launch.platformConfig, {
            type: "AMD_MILAN_BM",
            areVirtualInstructionsEnabled: true,
        });
        assert.equal(launch.shape, "BM.Standard.E4.128");
        const md = launch.metadata as Obj;
        assert.match(md.apiserver_host, /^10\.0\.0\.\d+$/);
        assert.equal(md["oke-k8version"], "v1.34.2");
        assert.match(md["oke-initial-node-labels"], /secure-llm-platform\.io\/kata=true/);
        assert.match(decode(md.cluster_ca_cert), /BEGIN CERTIFICATE/);
        const script = decode(md.user_data);
        assert.match(
            script,
            /bash \/etc\/oke\/oke-install\.sh --apiserver-endpoint "10\.0\.0\.\d+"/,
        );
        assert.ok(script.includes(`--kubelet-ca-cert "${md.cluster_ca_cert}"`));
        assert.match(script, /--kubelet-extra-args "--register-with-taints=kata=true:NoSchedule"/);
        assert.equal(md["oke-native-pod-networking"], "true");
        assert.equal(md["pod-subnets"], one(rs, T.subnet, "okea-net-pods").id);
        assert.equal(launch.createVnicDetails.assignPublicIp, false);
        const pool = one(rs, T.ipool, "okea-kata");
        assert.equal(pool.inputs.instanceConfigurationId, ic.id);
        assert.equal(pool.inputs.size, 2);
        assert.deepEqual(
            (pool.inputs.placementConfigurations as Obj[]).map((p) => p.availabilityDomain),
            ["Uocm:US-ASHBURN-AD-1", "Uocm:US-ASHBURN-AD-2", "Uocm:US-ASHBURN-AD-3"],
        );
        assert.ok(
            pool.dependencies.includes(one(rs, T.policy, "okea-workers-policy").urn),
            "instances boot after CLUSTER_JOIN is granted",
        );
        // The self-managed GPU pool goes only where the fake offers BM.GPU.A100-v2.8.
        assert.deepEqual(
            (one(rs, T.ipool, "okea-ksgpu").inputs.placementConfigurations as Obj[]).map(
                (p) => p.availabilityDomain,
            ),
            ["Uocm:US-ASHBURN-AD-1", "Uocm:US-ASHBURN-AD-2"],
        );
    });

    it("enables IOMMU and ACS for a self-managed Kata GPU pool, and not for the CPU Kata pool", () => {
        const platformOf = (name: string) =>
            ((one(rs, T.ic, name).inputs.instanceDetails as Obj).launchDetails as Obj)
                .platformConfig;
        assert.deepEqual(platformOf("okea-ksgpu-config"), {
            type: "AMD_MILAN_BM_GPU",
            areVirtualInstructionsEnabled: true,
            isInputOutputMemoryManagementUnitEnabled: true,
            isAccessControlServiceEnabled: true,
        });
        assert.deepEqual(platformOf("okea-kata-config"), {
            type: "AMD_MILAN_BM",
            areVirtualInstructionsEnabled: true,
        });
    });

    it("encrypts every boot volume with the volumes key, and waits for the key-delegate policy", () => {
        const volumesKey = ofType(rs, T.key).find(
            (k) => (k.inputs.freeformTags as Obj).purpose === "volumes",
        )!.id;
        const keyPolicy = one(rs, T.policy, "okea-keys-policy").urn;
        const pools = ofType(rs, T.nodePool);
        assert.equal(pools.length, 3);
        for (const p of pools) {
            const d = p.inputs.nodeConfigDetails as Obj;
            assert.equal(d.kmsKeyId, volumesKey, p.name);
            // The plan fake offers bare-metal GPU shapes in AD-1 and AD-2 only.
            const bmGpu = String(p.inputs.nodeShape).startsWith("BM.GPU.");
            assert.deepEqual(
                (d.placementConfigs as Obj[]).map((x) => x.availabilityDomain),
                bmGpu
                    ? ["Uocm:US-ASHBURN-AD-1", "Uocm:US-ASHBURN-AD-2"]
                    : ["Uocm:US-ASHBURN-AD-1", "Uocm:US-ASHBURN-AD-2", "Uocm:US-ASHBURN-AD-3"],
                p.name,
            );
            assert.ok(
                p.dependencies.includes(keyPolicy),
                `${p.name} must depend on the key-delegate policy`,
            );
        }
        const ic = one(rs, T.ic, "okea-kata-config");
        assert.equal(
            ((ic.inputs.instanceDetails as Obj).launchDetails as Obj).sourceDetails.kmsKeyId,
            volumesKey,
        );
        assert.ok(ic.dependencies.includes(keyPolicy));
    });

    it("sends in-transit encryption only where OCI supports it: VMs and BM.Standard.E4.128, not BM.GPU.A100-v2.8", () => {
        const transit = (name: string) =>
            (one(rs, T.nodePool, name).inputs.nodeConfigDetails as Obj)
                .isPvEncryptionInTransitEnabled;
        assert.equal(transit("okea-system"), true, "VM.Standard.E5.Flex");
        assert.equal(transit("okea-gpu"), true, "VM.GPU.A10.1");
        assert.equal(
            transit("okea-kgpu"),
            undefined,
            "BM.GPU.A100-v2.8 has no in-transit encryption",
        );
        const ic = one(rs, T.ic, "okea-kata-config");
        const launch = (ic.inputs.instanceDetails as Obj).launchDetails as Obj;
        assert.equal(launch.isPvEncryptionInTransitEnabled, true, "BM.Standard.E4.128");
    });

    it("creates IAM in the home region: scoped policies with stack-suffixed names and a tenancy dynamic group", () => {
        const policies = ofType(rs, T.policy);
        assert.deepEqual(policies.map((p) => p.inputs.name).sort(), [
            "oke-keys-ocitest-okea",
            "oke-log-shipping-ocitest-okea",
            "oke-workers-ocitest-okea",
            "oke-workloads-ocitest-okea",
        ]);
        const homeProvider = ofType(rs, "pulumi:providers:oci").find(
            (p) => p.name === "okea-home",
        )!;
        for (const p of [...policies, ...ofType(rs, T.dg)]) {
            assert.ok(
                p.provider?.startsWith(homeProvider.urn),
                `${p.name} not created with the home-region provider`,
            );
        }
        for (const s of policies.flatMap((p) => p.inputs.statements as string[])) {
            assert.match(
                s,
                // `read repos` (image verification) is scoped to this compartment's clusters.
                s.includes(" to read repos ")
                    ? / where ALL \{request\.principal\.type = 'cluster', request\.principal\.compartment\.id = 'ocid1\.compartment\.[^']+'\}$/
                    : / where .*(ocid1\.(key|vault|cluster|loggroup)\.|target\.bucket\.name)/,
                s,
            );
            assert.ok(!/all-resources/.test(s), s);
        }
        const dg = ofType(rs, T.dg)[0];
        assert.equal(dg.inputs.compartmentId, tenancyId);
        const workers = one(rs, T.policy, "okea-workers-policy").inputs.statements as string[];
        assert.ok(workers[0].startsWith(`Allow dynamic-group id ${dg.id} to {CLUSTER_JOIN}`));
        assert.ok(workers[0].includes(`target.cluster.id = '${ofType(rs, T.cluster)[0].id}'`));
    });

    it("matches only instances carrying the cluster's defined tag, which every pool sets", () => {
        const ns = one(rs, "oci:Identity/tagNamespace:TagNamespace", "okea-tag-ns");
        const tag = one(rs, "oci:Identity/tag:Tag", "okea-tag-cluster");
        assert.equal(ns.inputs.name, "slp_ocitest_okea");
        assert.equal(tag.inputs.tagNamespaceId, ns.id);
        assert.equal(tag.inputs.name, "cluster");
        const dg = ofType(rs, T.dg)[0];
        assert.equal(
            dg.inputs.matchingRule,
            `ALL {instance.compartment.id = '${compartmentId}', tag.slp_ocitest_okea.cluster.value = 'okea'}`,
        );
        assert.ok(dg.dependencies.includes(tag.urn), "the rule names a tag that exists");
        const expected = { "slp_ocitest_okea.cluster": "okea" };
        for (const p of ofType(rs, T.nodePool)) {
            assert.deepEqual((p.inputs.nodeConfigDetails as Obj).definedTags, expected, p.name);
            assert.ok(p.dependencies.includes(tag.urn), p.name);
        }
        for (const ic of ofType(rs, T.ic)) {
            const launch = (ic.inputs.instanceDetails as Obj).launchDetails as Obj;
            assert.deepEqual(launch.definedTags, expected, ic.name);
            assert.deepEqual(launch.instanceOptions, { areLegacyImdsEndpointsDisabled: true });
        }
    });

    it("waits for IAM propagation between the policies and what uses them", () => {
        const keyWait = one(rs, "time:index/sleep:Sleep", "okea-keys-policy-wait");
        assert.equal(keyWait.inputs.createDuration, "60s");
        assert.ok(keyWait.dependencies.includes(one(rs, T.policy, "okea-keys-policy").urn));
        for (const r of [
            ofType(rs, T.cluster)[0],
            ofType(rs, T.bucket)[0],
            ...ofType(rs, T.nodePool),
            ...ofType(rs, T.ic),
        ]) {
            assert.ok(
                r.dependencies.includes(keyWait.urn),
                `${r.name} must wait for the key policy`,
            );
        }
        const workersWait = one(rs, "time:index/sleep:Sleep", "okea-workers-policy-wait");
        assert.ok(workersWait.dependencies.includes(one(rs, T.policy, "okea-workers-policy").urn));
        for (const p of ofType(rs, T.ipool)) {
            assert.ok(p.dependencies.includes(workersWait.urn), `${p.name} joins after the wait`);
        }
    });

    it("installs managed add-ons, CertManager first, removing their resources on delete", () => {
        const addons = ofType(rs, T.addon);
        assert.deepEqual(addons.map((a) => a.inputs.addonName).sort(), [
            "CertManager",
            "NvidiaGpuPlugin",
        ]);
        assert.ok(addons.every((a) => a.inputs.removeAddonResourcesOnDelete === true));
        const cm = addons.find((a) => a.inputs.addonName === "CertManager")!;
        assert.equal(cm.inputs.version, "v1.14.5");
        assert.ok(
            addons
                .find((a) => a.inputs.addonName === "NvidiaGpuPlugin")!
                .dependencies.includes(cm.urn),
        );
    });

    it("tags every taggable resource with the stack tags and cluster, environment, stack", () => {
        const taggable = rs.filter(
            (r) => r.type.startsWith("oci:") && r.inputs.freeformTags !== undefined,
        );
        assert.ok(taggable.length > 20);
        for (const r of taggable) {
            const tags = r.inputs.freeformTags as Obj;
            assert.deepEqual(
                {
                    team: tags.team,
                    cluster: tags.cluster,
                    environment: tags.environment,
                    stack: tags.stack,
                },
                { team: "ml-platform", cluster: "okea", environment: "staging", stack: "ocitest" },
                `${r.type} ${r.name}`,
            );
        }
        const untagged = rs.filter(
            (r) =>
                r.custom &&
                r.type.startsWith("oci:") &&
                ![
                    "oci:Core/networkSecurityGroupSecurityRule:NetworkSecurityGroupSecurityRule",
                    "oci:ContainerEngine/addon:Addon",
                ].includes(r.type) &&
                r.inputs.freeformTags === undefined,
        );
        assert.deepEqual(
            untagged.map((r) => r.type),
            [],
        );
    });

    it("makes the cluster layer wait for every pool and add-on", () => {
        const names = built.cluster.readiness
            .map((r) => (r as unknown as { __name: string }).__name)
            .sort();
        assert.deepEqual(names, [
            "okea-addon-certmanager",
            "okea-addon-nvidiagpuplugin",
            "okea-gpu",
            "okea-kata",
            "okea-kgpu",
            "okea-ksgpu",
            "okea-system",
        ]);
    });

    it("looks node images up without a compartment and ADs in the tenancy", () => {
        const opt = recordedInvokes().find(
            (i) => i.token === "oci:ContainerEngine/getNodePoolOption:getNodePoolOption",
        )!;
        assert.equal(opt.inputs.nodePoolOptionId, "all");
        assert.equal(opt.inputs.compartmentId, undefined);
        const ads = recordedInvokes().find(
            (i) => i.token === "oci:Identity/getAvailabilityDomains:getAvailabilityDomains",
        )!;
        assert.equal(ads.inputs.compartmentId, tenancyId);
    });
});

describe("oci: Calico beside flannel", () => {
    it("is refused at config time, naming podNetworking and the expected value", () => {
        assert.throws(
            () => config({ cluster: { network: { podNetworking: "flannel" } } }),
            /clusters\[0\]\.network\.podNetworking: got "flannel"; expected `vcn-native` while networkPolicy\.installCalico is true: OKE does not support Calico beside the flannel CNI plugin/,
        );
        assert.doesNotThrow(() =>
            config({
                cluster: {
                    network: { podNetworking: "flannel" },
                    networkPolicy: { installCalico: false },
                },
            }),
        );
    });
});

describe("oci: public load balancers, flannel, prod, existing vault", function () {
    this.timeout(10000);
    let rs: readonly RecordedResource[];

    before(async () => {
        const cfg = config({
            environment: "prod",
            vault: {
                type: "VIRTUAL_PRIVATE",
                rotationDays: 120,
                existingVaultId: "ocid1.vault.oc1.us-ashburn-1.existingvault",
            },
            cluster: {
                network: {
                    podNetworking: "flannel",
                    publicLoadBalancers: true,
                    nodePortCidrs: ["10.0.4.0/22"],
                },
                // OKE does not support Calico beside flannel (refused below); this suite tests the
                // OCI layer of a flannel cluster only.
                networkPolicy: { installCalico: false },
                // The LB network follows the ingress (one switch).
                baseline: { ingress: { public: true } },
                bastion: { enabled: false },
                addons: [],
                nodePools: [
                    {
                        name: "system",
                        role: "system",
                        shape: "VM.Standard.E5.Flex",
                        ocpus: 2,
                        memoryGbs: 16,
                    },
                ],
            },
        });
        rs = (await build("okeb", cfg)).resources;
    });

    it("creates no bastion security list without a bastion", () => {
        assert.equal(ofType(rs, "oci:Core/securityList:SecurityList").length, 0);
        for (const sn of ofType(rs, T.subnet)) {
            assert.equal((sn.inputs.securityListIds as string[]).length, 1, sn.name);
        }
    });

    it("creates an internet gateway and a public LB subnet only for the public load balancers", () => {
        assert.equal(ofType(rs, T.igw).length, 1);
        const lb = one(rs, T.subnet, "okeb-net-lb");
        assert.equal(lb.inputs.prohibitPublicIpOnVnic, false);
        assert.equal(lb.inputs.routeTableId, one(rs, T.rt, "okeb-net-public-rt").id);
        for (const name of ["okeb-net-cp", "okeb-net-workers"]) {
            assert.equal(one(rs, T.subnet, name).inputs.prohibitPublicIpOnVnic, true, name);
        }
        assert.ok(!ofType(rs, T.subnet).some((s) => s.name === "okeb-net-pods"));
        assert.equal(ofType(rs, T.bastion).length, 0);
    });

    it("uses flannel with the configured pods CIDR and protects the prod cluster", () => {
        const c = ofType(rs, T.cluster)[0];
        assert.deepEqual(c.inputs.clusterPodNetworkOptions, [{ cniType: "FLANNEL_OVERLAY" }]);
        assert.equal((c.inputs.options as Obj).kubernetesNetworkConfig.podsCidr, "10.244.0.0/16");
        assert.equal(c.protect, true);
        assert.deepEqual(
            (ofType(rs, T.nodePool)[0].inputs.nodeConfigDetails as Obj)
                .nodePoolPodNetworkOptionDetails,
            { cniType: "FLANNEL_OVERLAY" },
        );
    });

    it("creates keys in the existing vault with automatic rotation, and no self-managed worker IAM", () => {
        assert.equal(ofType(rs, T.vault).length, 0);
        const keys = ofType(rs, T.key);
        assert.equal(keys.length, 4);
        for (const k of keys) {
            assert.match(
                String(k.inputs.managementEndpoint),
                /-management\.kms\.us-ashburn-1\.oraclecloud\.com$/,
            );
            const purpose = (k.inputs.freeformTags as Obj).purpose;
            if (purpose === "signing") {
                assert.notEqual(k.inputs.isAutoRotationEnabled, true);
            } else {
                assert.equal(k.inputs.isAutoRotationEnabled, true, purpose);
                assert.deepEqual(k.inputs.autoKeyRotationDetails, { rotationIntervalInDays: 120 });
            }
        }
        const eso = (one(rs, T.policy, "okeb-workloads-policy").inputs.statements as string[]).find(
            (s) => s.includes("secret-bundles"),
        )!;
        assert.match(eso, /target\.vault\.id = 'ocid1\.vault\.oc1\.us-ashburn-1\.existingvault'/);
        // The workers' group exists only for the log-shipping agent: no join permission.
        assert.equal(ofType(rs, T.dg).length, 1);
        assert.ok(!ofType(rs, T.policy).some((p) => p.name === "okeb-workers-policy"));
        const logPolicy = one(rs, T.policy, "okeb-logging-policy").inputs.statements as string[];
        assert.deepEqual(
            logPolicy.map((x) => x.replace(/ocid1[^\s']+/g, "<id>")),
            [
                "Allow dynamic-group id <id> to use log-content in compartment id <id> where target.loggroup.id = '<id>'",
            ],
        );
    });

    it("admits NodePorts from the configured CIDR and HTTPS to the public load balancers", () => {
        const rules = ofType(rs, T.rule);
        assert.ok(
            rules.some(
                (r) =>
                    r.inputs.source === "10.0.4.0/22" &&
                    (r.inputs.tcpOptions as Obj)?.destinationPortRange?.max === 32767,
            ),
        );
        const open = rules.filter(
            (r) =>
                r.inputs.direction === "INGRESS" &&
                r.inputs.source === "0.0.0.0/0" &&
                r.inputs.protocol === "6",
        );
        assert.deepEqual(
            open.map((r) => r.name),
            ["okeb-net-lb-in-https"],
        );
    });
});

function imageHash(sourceName: string): string {
    // Mirrors fakeOcid("image", name), recomputed here so a wrong pick cannot pass.
    return fakeHash("image", sourceName);
}
