import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { parseCidr, overlaps, contains } from "../../modules/config/cidr";
import type { NodePoolConfig } from "../../modules/config";
import type { IngressConfig } from "../../modules/config/baseline";
import { workloadIdentities } from "../../modules/constants/identities";
import { loadBalancerAnnotations } from "../../modules/k8s/baseline/ingress";
import { imdsWarning } from "../../modules/oci/node-pools";
import { placement } from "../../modules/oci/lookups";
import {
    caCertFromKubeconfig,
    endpointHost,
    kubeletTaintArgs,
    managedNodeScript,
    poolTaints,
    selfManagedNodeScript,
} from "../../modules/oci/cloud-init";
import {
    iamName,
    keyPolicyStatements,
    selfManagedWorkerStatements,
    workloadPolicyStatements,
} from "../../modules/oci/iam-statements";
import { isArmShape, selectNodeImage } from "../../modules/oci/images";
import { bastionEgressRules, nsgRules, selectOsnService } from "../../modules/oci/network";
import { needsInternetGateway, planSubnets } from "../../modules/oci/subnets";
import { rotationPlan } from "../../modules/oci/vault";
import { fakeKubeconfig, ociInvokes } from "../../tools/plan/fakes/oci";

const ids = {
    c: "ocid1.compartment.oc1..aaaacomp",
    cluster: "ocid1.cluster.oc1.us-ashburn-1.aaaacluster",
    secrets: "ocid1.key.oc1.us-ashburn-1.secrets",
    volumes: "ocid1.key.oc1.us-ashburn-1.volumes",
    models: "ocid1.key.oc1.us-ashburn-1.models",
    signing: "ocid1.key.oc1.us-ashburn-1.signing",
    vault: "ocid1.vault.oc1.us-ashburn-1.vault",
    dg: "ocid1.dynamicgroup.oc1..workers",
};

describe("oci: subnet carving", () => {
    for (const vcnCidr of ["10.0.0.0/16", "172.16.0.0/20", "192.168.0.0/18"]) {
        it(`carves disjoint subnets inside ${vcnCidr}`, () => {
            const plan = planSubnets({
                vcnCidr,
                podNetworking: "vcn-native",
                publicEndpoint: false,
                publicLoadBalancers: false,
            });
            assert.deepEqual(plan.map((s) => s.role).sort(), ["cp", "lb", "pods", "workers"]);
            const vcn = parseCidr(vcnCidr)!;
            const blocks = plan.map((s) => parseCidr(s.cidr)!);
            for (const b of blocks) {
                assert.ok(contains(vcn, b), `${JSON.stringify(b)} outside the VCN`);
            }
            for (let i = 0; i < blocks.length; i++) {
                for (let j = i + 1; j < blocks.length; j++) {
                    assert.ok(
                        !overlaps(blocks[i], blocks[j]),
                        `${plan[i].cidr} overlaps ${plan[j].cidr}`,
                    );
                }
            }
        });
    }

    it("lays out a /16 as cp /24, lb /22, workers /18, pods /17", () => {
        const plan = planSubnets({
            vcnCidr: "10.0.0.0/16",
            podNetworking: "vcn-native",
            publicEndpoint: false,
            publicLoadBalancers: false,
        });
        const byRole = Object.fromEntries(plan.map((s) => [s.role, s.cidr]));
        assert.deepEqual(byRole, {
            cp: "10.0.0.0/24",
            lb: "10.0.4.0/22",
            workers: "10.0.64.0/18",
            pods: "10.0.128.0/17",
        });
    });

    it("has no pods subnet with flannel and keeps everything private unless configured", () => {
        const plan = planSubnets({
            vcnCidr: "10.0.0.0/16",
            podNetworking: "flannel",
            publicEndpoint: false,
            publicLoadBalancers: false,
        });
        assert.ok(!plan.some((s) => s.role === "pods"));
        assert.ok(plan.every((s) => !s.public));
        assert.equal(needsInternetGateway(plan), false);
        const pub = planSubnets({
            vcnCidr: "10.0.0.0/16",
            podNetworking: "flannel",
            publicEndpoint: false,
            publicLoadBalancers: true,
        });
        assert.deepEqual(
            pub.filter((s) => s.public).map((s) => s.role),
            ["lb"],
        );
        assert.equal(needsInternetGateway(pub), true);
    });

    it("refuses a VCN smaller than /20 with a message naming the key", () => {
        assert.throws(
            () =>
                planSubnets({
                    vcnCidr: "10.0.0.0/24",
                    podNetworking: "flannel",
                    publicEndpoint: false,
                    publicLoadBalancers: false,
                }),
            /network\.vcnCidr/,
        );
    });
});

describe("oci: node image selection", () => {
    const sources = ociInvokes["oci:ContainerEngine/getNodePoolOption:getNodePoolOption"]({
        nodePoolOptionId: "all",
    }).sources as {
        imageId: string;
        sourceName: string;
        sourceType: string;
    }[];
    const name = (req: Parameters<typeof selectNodeImage>[1]) =>
        selectNodeImage(sources, req)?.sourceName;

    it("picks the newest x86 non-GPU image of the cluster's version for a CPU shape", () => {
        assert.equal(
            name({ kubernetesVersion: "v1.34.2", shape: "VM.Standard.E5.Flex", gpu: false }),
            "Oracle-Linux-8.10-2025.09.16-0-OKE-1.34.2-1234",
        );
    });
    it("picks a GPU image for a GPU shape, and never a GPU image for a CPU shape", () => {
        assert.equal(
            name({ kubernetesVersion: "v1.34.2", shape: "BM.GPU.A100-v2.8", gpu: true }),
            "Oracle-Linux-8.10-Gen2-GPU-2025.09.16-0-OKE-1.34.2-1234",
        );
        assert.ok(
            !/GPU/.test(
                name({ kubernetesVersion: "v1.33.4", shape: "BM.Standard.E4.128", gpu: false })!,
            ),
        );
    });
    it("picks aarch64 only for Arm shapes", () => {
        assert.match(
            name({ kubernetesVersion: "v1.34.2", shape: "VM.Standard.A1.Flex", gpu: false })!,
            /aarch64/,
        );
        assert.equal(isArmShape("BM.GPU.A100-v2.8"), false);
        assert.equal(isArmShape("VM.GPU.A10.1"), false);
        assert.equal(isArmShape("BM.Standard.A1.160"), true);
    });
    it("falls back to the newest patch of the same minor, never another minor", () => {
        assert.equal(
            name({ kubernetesVersion: "v1.34.5", shape: "VM.Standard.E5.Flex", gpu: false }),
            "Oracle-Linux-8.10-2025.09.16-0-OKE-1.34.2-1234",
        );
        assert.equal(
            name({ kubernetesVersion: "v1.32.9", shape: "VM.Standard.E5.Flex", gpu: false }),
            "Oracle-Linux-8.10-2025.06.10-0-OKE-1.32.5-1120",
        );
        assert.equal(
            name({ kubernetesVersion: "v1.29.1", shape: "VM.Standard.E5.Flex", gpu: false }),
            undefined,
        );
        assert.equal(
            name({ kubernetesVersion: "v1.32.5", shape: "VM.GPU.A10.1", gpu: true }),
            undefined,
        );
    });
    it("does not match 1.3 against 1.34 images", () => {
        assert.equal(
            selectNodeImage(
                [
                    {
                        imageId: "x",
                        sourceType: "IMAGE",
                        sourceName: "Oracle-Linux-8.10-2025.01.01-0-OKE-1.34.2-1",
                    },
                ],
                { kubernetesVersion: "v1.3.4", shape: "VM.Standard.E5.Flex", gpu: false },
            ),
            undefined,
        );
    });
    it("gets no sources when a compartment is passed (as the real API)", () => {
        const out = ociInvokes["oci:ContainerEngine/getNodePoolOption:getNodePoolOption"]({
            nodePoolOptionId: "all",
            compartmentId: ids.c,
        });
        assert.deepEqual(out.sources, []);
    });
});

describe("oci: IAM statements", () => {
    const keyStatements = keyPolicyStatements({
        keyCompartmentId: ids.c,
        principalCompartmentId: ids.c,
        region: "us-ashburn-1",
        secretsKeyId: ids.secrets,
        volumesKeyId: ids.volumes,
        modelsKeyId: ids.models,
        signingKeyId: ids.signing,
    });
    const workload = workloadPolicyStatements({
        compartmentId: ids.c,
        clusterId: ids.cluster,
        modelsKeyId: ids.models,
        modelBucketName: "test-iad1-models",
        vaultId: ids.vault,
        modelLoader: workloadIdentities.modelLoader,
        externalSecrets: workloadIdentities.externalSecrets,
    });
    const workers = selfManagedWorkerStatements({
        compartmentId: ids.c,
        keyCompartmentId: ids.c,
        clusterId: ids.cluster,
        dynamicGroupId: ids.dg,
        volumesKeyId: ids.volumes,
    });
    const every = [...keyStatements, ...workload, ...workers];

    it("scopes every statement with a where clause naming a key, bucket, vault or cluster id", () => {
        for (const s of every) {
            const where = s.split(" where ")[1];
            assert.ok(where, `no where clause: ${s}`);
            assert.match(s, /^Allow .* in compartment id ocid1\.compartment\./, s);
            if (s.includes(" to read repos ")) {
                // Repository names belong to the image mirror: scoped to this compartment's clusters.
                assert.equal(
                    where,
                    `ALL {request.principal.type = 'cluster', request.principal.compartment.id = '${ids.c}'}`,
                );
                continue;
            }
            assert.match(
                where,
                /target\.key\.id = 'ocid1\.key|target\.bucket\.name = '|target\.vault\.id = 'ocid1\.vault|target\.cluster\.id = 'ocid1\.cluster|request\.principal\.cluster_id = 'ocid1\.cluster/,
                s,
            );
            assert.match(s, /^Allow .* in compartment id ocid1\.compartment\./, s);
        }
    });
    it("never grants manage all-resources or an unconditioned any-user", () => {
        for (const s of every) {
            assert.ok(!/manage all-resources/i.test(s), s);
            assert.ok(!/\bin tenancy\b/.test(s), s);
            if (s.startsWith("Allow any-user")) {
                assert.match(
                    s,
                    /where ALL \{request\.principal\.type = '(cluster|nodepool|workload)'/,
                    s,
                );
            }
        }
    });
    it("lets the cluster use only the secrets key for etcd, and node pools only key-delegates of the volumes key", () => {
        assert.ok(
            keyStatements.includes(
                `Allow any-user to use keys in compartment id ${ids.c} where ALL {request.principal.type = 'cluster', request.principal.compartment.id = '${ids.c}', target.key.id = '${ids.secrets}'}`,
            ),
        );
        assert.ok(
            keyStatements.includes(
                `Allow service oke to use key-delegates in compartment id ${ids.c} where target.key.id = '${ids.volumes}'`,
            ),
        );
        assert.ok(
            keyStatements.includes(
                `Allow any-user to use key-delegates in compartment id ${ids.c} where ALL {request.principal.type = 'nodepool', request.principal.compartment.id = '${ids.c}', target.key.id = '${ids.volumes}'}`,
            ),
        );
        assert.ok(
            keyStatements.includes(
                `Allow service objectstorage-us-ashburn-1 to use keys in compartment id ${ids.c} where target.key.id = '${ids.models}'`,
            ),
        );
        const withoutSigning = keyPolicyStatements({
            keyCompartmentId: ids.c,
            principalCompartmentId: ids.c,
            region: "us-ashburn-1",
            secretsKeyId: ids.secrets,
            volumesKeyId: ids.volumes,
            modelsKeyId: ids.models,
        });
        assert.ok(!withoutSigning.some((s) => s.includes(ids.signing)));
    });
    it("lets the cluster read the signed images' repositories when signing is on", () => {
        // Image verification needs the signatures from the registry as well as the key.
        assert.ok(
            keyStatements.includes(
                `Allow any-user to read repos in compartment id ${ids.c} where ALL {request.principal.type = 'cluster', request.principal.compartment.id = '${ids.c}'}`,
            ),
        );
        const withoutSigning = keyPolicyStatements({
            keyCompartmentId: ids.c,
            principalCompartmentId: ids.c,
            region: "us-ashburn-1",
            secretsKeyId: ids.secrets,
            volumesKeyId: ids.volumes,
            modelsKeyId: ids.models,
        });
        assert.ok(!withoutSigning.some((s) => s.includes("read repos")));
    });
    it("ties key grants to OKE principals of this compartment", () => {
        const toPrincipals = keyStatements.filter((s) => s.startsWith("Allow any-user"));
        assert.equal(toPrincipals.length, 5);
        for (const s of toPrincipals) {
            assert.match(
                s,
                new RegExp(
                    `ALL \\{request\\.principal\\.type = '(cluster|nodepool)', request\\.principal\\.compartment\\.id = '${ids.c}'`,
                ),
                s,
            );
        }
    });
    it("trusts exactly the model loader and External Secrets service accounts of this cluster", () => {
        const loader = workload.filter((s) =>
            s.includes("request.principal.service_account = 'inference'"),
        );
        assert.equal(loader.length, 2);
        for (const s of loader) {
            assert.match(s, /request\.principal\.namespace = 'llm-inference'/);
            assert.match(s, new RegExp(`request\\.principal\\.cluster_id = '${ids.cluster}'`));
        }
        assert.ok(
            loader.some(
                (s) =>
                    s.startsWith("Allow any-user to use keys") &&
                    s.includes(`target.key.id = '${ids.models}'`),
            ),
        );
        assert.ok(
            loader.some(
                (s) =>
                    s.startsWith("Allow any-user to read objects") &&
                    s.includes("target.bucket.name = 'test-iad1-models'"),
            ),
        );
        const eso = workload.filter((s) =>
            s.includes("request.principal.service_account = 'external-secrets'"),
        );
        assert.equal(eso.length, 1);
        assert.match(
            eso[0],
            /^Allow any-user to read secret-bundles .*request\.principal\.namespace = 'external-secrets'.*target\.vault\.id = 'ocid1\.vault/,
        );
    });
    it("lets self-managed workers join only this cluster", () => {
        assert.equal(
            workers[0],
            `Allow dynamic-group id ${ids.dg} to {CLUSTER_JOIN} in compartment id ${ids.c} where ALL {target.cluster.id = '${ids.cluster}'}`,
        );
    });
    it("suffixes tenancy-unique names with stack and cluster", () => {
        assert.equal(iamName("oke-keys", "prod", "iad1"), "oke-keys-prod-iad1");
        assert.ok(iamName("x", "s".repeat(80), "c".repeat(80)).length <= 100);
    });
});

describe("oci: network rules and service gateway", () => {
    it("selects the Oracle Services Network service by name, not position", () => {
        const services = ociInvokes["oci:Core/getServices:getServices"]({}).services as {
            id: string;
            name: string;
            cidrBlock: string;
        }[];
        assert.notEqual(services[0].name, "All IAD Services In Oracle Services Network");
        assert.equal(
            selectOsnService(services).name,
            "All IAD Services In Oracle Services Network",
        );
        assert.throws(() => selectOsnService(services.slice(0, 1)), /Oracle Services Network/);
    });
    it("opens nothing to the internet except path-MTU ICMP (and listeners of public load balancers)", () => {
        const rules = nsgRules({
            vcnCidr: "10.0.0.0/16",
            vcnNative: true,
            publicLoadBalancers: false,
            nodePortCidrs: [],
            publicEndpoint: false,
            endpointAllowedCidrs: [],
        });
        const openIngress = rules.filter(
            (r) => r.direction === "INGRESS" && "cidr" in r.peer && r.peer.cidr === "0.0.0.0/0",
        );
        assert.ok(
            openIngress.length > 0 &&
                openIngress.every(
                    (r) => r.protocol === "1" && r.icmp?.type === 3 && r.icmp.code === 4,
                ),
        );
        assert.ok(!rules.some((r) => r.protocol === "all" && "cidr" in r.peer));
        const pub = nsgRules({
            vcnCidr: "10.0.0.0/16",
            vcnNative: true,
            publicLoadBalancers: true,
            nodePortCidrs: [],
            publicEndpoint: false,
            endpointAllowedCidrs: [],
        });
        const pubOpen = pub.filter(
            (r) =>
                r.direction === "INGRESS" &&
                "cidr" in r.peer &&
                r.peer.cidr === "0.0.0.0/0" &&
                r.protocol === "6",
        );
        assert.deepEqual(
            pubOpen.map((r) => [r.nsg, r.ports]),
            [["lb", [443, 443]]],
        );
    });
    it("adds NodePort rules only where asked", () => {
        const without = nsgRules({
            vcnCidr: "10.0.0.0/16",
            vcnNative: false,
            publicLoadBalancers: false,
            nodePortCidrs: [],
            publicEndpoint: false,
            endpointAllowedCidrs: [],
        });
        assert.ok(
            !without.some((r) => r.nsg === "workers" && "cidr" in r.peer && r.ports?.[0] === 30000),
        );
        const withCidr = nsgRules({
            vcnCidr: "10.0.0.0/16",
            vcnNative: false,
            publicLoadBalancers: false,
            nodePortCidrs: ["192.168.0.0/24"],
            publicEndpoint: false,
            endpointAllowedCidrs: [],
        });
        assert.ok(
            withCidr.some(
                (r) =>
                    r.nsg === "workers" &&
                    r.direction === "INGRESS" &&
                    "cidr" in r.peer &&
                    r.peer.cidr === "192.168.0.0/24" &&
                    r.ports?.[0] === 30000 &&
                    r.ports[1] === 32767,
            ),
        );
    });
    it("opens port 80 to the load balancers only for ACME", () => {
        const base = {
            vcnCidr: "10.0.0.0/16",
            vcnNative: true,
            publicLoadBalancers: true,
            nodePortCidrs: [],
            publicEndpoint: false,
            endpointAllowedCidrs: [],
        };
        const http = (rules: ReturnType<typeof nsgRules>) =>
            rules.filter((r) => r.direction === "INGRESS" && r.ports?.[0] === 80);
        assert.deepEqual(http(nsgRules(base)), []);
        assert.deepEqual(
            http(nsgRules({ ...base, httpListener: true })).map((r) => [r.nsg, r.peer, r.ports]),
            [["lb", { cidr: "0.0.0.0/0" }, [80, 80]]],
        );
    });
    it("lets workers reach each other with VCN-native pods too", () => {
        for (const vcnNative of [true, false]) {
            const rules = nsgRules({
                vcnCidr: "10.0.0.0/16",
                vcnNative,
                publicLoadBalancers: false,
                nodePortCidrs: [],
                publicEndpoint: false,
                endpointAllowedCidrs: [],
            });
            for (const direction of ["INGRESS", "EGRESS"]) {
                assert.ok(
                    rules.some(
                        (r) =>
                            r.nsg === "workers" &&
                            r.direction === direction &&
                            "nsg" in r.peer &&
                            r.peer.nsg === "workers" &&
                            r.protocol === "all",
                    ),
                    `vcnNative=${vcnNative}: no workers→workers ${direction} rule`,
                );
            }
        }
    });
    it("lets the bastion's private endpoint reach the API endpoint, and nothing else", () => {
        assert.deepEqual(bastionEgressRules("10.0.0.0/24"), [
            {
                destination: "10.0.0.0/24",
                protocol: "6",
                ports: [6443, 6443],
                description: "OCI Bastion sessions to the Kubernetes API endpoint",
            },
        ]);
    });
    it("opens the public API endpoint only to the allowed CIDRs", () => {
        const rules = nsgRules({
            vcnCidr: "10.0.0.0/16",
            vcnNative: false,
            publicLoadBalancers: false,
            nodePortCidrs: [],
            publicEndpoint: true,
            endpointAllowedCidrs: ["198.51.100.0/24"],
        });
        const apiFromCidr = rules.filter(
            (r) =>
                r.nsg === "cp" &&
                r.direction === "INGRESS" &&
                "cidr" in r.peer &&
                r.ports?.[0] === 6443,
        );
        assert.deepEqual(
            apiFromCidr.map((r) => ("cidr" in r.peer ? r.peer.cidr : "")),
            ["198.51.100.0/24"],
        );
    });
});

describe("oci: node bootstrap", () => {
    it("taints GPU pools, Kata pools, and Kata GPU pools with both", () => {
        assert.equal(
            kubeletTaintArgs(poolTaints({ gpu: true, kata: false })),
            "--register-with-taints=nvidia.com/gpu=present:NoSchedule",
        );
        assert.equal(
            kubeletTaintArgs(poolTaints({ gpu: false, kata: true })),
            "--register-with-taints=kata=true:NoSchedule",
        );
        assert.equal(
            kubeletTaintArgs(poolTaints({ gpu: true, kata: true })),
            "--register-with-taints=nvidia.com/gpu=present:NoSchedule,kata=true:NoSchedule",
        );
        assert.equal(kubeletTaintArgs(poolTaints({ gpu: false, kata: false })), undefined);
    });
    it("keeps running OKE's init script in managed-pool cloud-init", () => {
        const script = managedNodeScript(poolTaints({ gpu: true, kata: false }));
        assert.match(script, /^#!\/bin\/bash/);
        assert.match(script, /opc\/v2\/instance\/metadata\/oke_init_script/);
        assert.match(
            script,
            /bash \/var\/run\/oke-init\.sh --kubelet-extra-args "--register-with-taints=nvidia\.com\/gpu=present:NoSchedule"/,
        );
    });
    it("joins self-managed nodes with oke-install.sh and the cluster CA from the kubeconfig", () => {
        const kubeconfig = fakeKubeconfig(
            "ocid1.cluster.oc1.us-ashburn-1.aaaa",
            "PRIVATE_ENDPOINT",
        );
        const ca = caCertFromKubeconfig(kubeconfig);
        assert.match(Buffer.from(ca, "base64").toString(), /BEGIN CERTIFICATE/);
        const script = selfManagedNodeScript({
            apiServerHost: endpointHost("10.0.0.7:6443"),
            caCertBase64: ca,
            taints: poolTaints({ gpu: false, kata: true }),
        });
        assert.match(
            script,
            new RegExp(
                `bash /etc/oke/oke-install.sh --apiserver-endpoint "10.0.0.7" --kubelet-ca-cert "${ca}" --kubelet-extra-args "--register-with-taints=kata=true:NoSchedule"`,
            ),
        );
        assert.throws(
            () => caCertFromKubeconfig("apiVersion: v1\nclusters: []\n"),
            /certificate-authority-data/,
        );
    });
});

describe("oci: key rotation", () => {
    it("rotates AES keys automatically only in virtual private vaults, never the signing key", () => {
        assert.deepEqual(rotationPlan("VIRTUAL_PRIVATE", "secrets", 90), {
            automatic: true,
            days: 90,
        });
        assert.deepEqual(rotationPlan("DEFAULT", "secrets", 90), { automatic: false, days: 90 });
        assert.deepEqual(rotationPlan("VIRTUAL_PRIVATE", "signing", 120), {
            automatic: false,
            days: 120,
        });
    });
});

describe("oci: plan fakes", () => {
    it("answer in the provider's region when it is known", async () => {
        const { ociResourceState } = await import("../../tools/plan/fakes/oci");
        const vault = ociResourceState("oci:Kms/vault:Vault", "v", {}, "eu-frankfurt-1")!;
        assert.match(
            String(vault.state.managementEndpoint),
            /^https:\/\/[0-9a-f]+-management\.kms\.eu-frankfurt-1\.oraclecloud\.com$/,
        );
        assert.match(vault.id, /^ocid1\.vault\.oc1\.eu-frankfurt-1\./);
        const services = ociInvokes["oci:Core/getServices:getServices"]({
            region: "eu-frankfurt-1",
        }).services as { name: string }[];
        assert.ok(services.some((s) => s.name === "All FRA Services In Oracle Services Network"));
        const ads = ociInvokes["oci:Identity/getAvailabilityDomains:getAvailabilityDomains"]({})
            .availabilityDomains as { name: string }[];
        assert.deepEqual(
            ads.map((a) => a.name),
            ["Uocm:US-ASHBURN-AD-1", "Uocm:US-ASHBURN-AD-2", "Uocm:US-ASHBURN-AD-3"],
        );
    });
});

describe("oci: load balancer annotations", () => {
    it("attaches the OKE load balancer to the cloud layer's NSG and leaves rules to Pulumi", () => {
        const nsg = "ocid1.networksecuritygroup.oc1.iad.lb";
        for (const isPublic of [false, true]) {
            const a = loadBalancerAnnotations({ public: isPublic } as IngressConfig, nsg);
            assert.equal(a["oci.oraclecloud.com/oci-network-security-groups"], nsg);
            // "None": the cloud controller edits neither security lists nor NSGs.
            assert.equal(a["oci.oraclecloud.com/security-rule-management-mode"], "None");
        }
        // Existing clusters get no OCI NSG annotations.
        const plain = loadBalancerAnnotations({ public: false } as IngressConfig);
        assert.ok(!Object.keys(plain).some((k) => k.startsWith("oci.oraclecloud.com/")));
    });
});

describe("oci: metadata service on managed nodes", () => {
    const pool = (name: string, kata: boolean, kataMode: "managed" | "self-managed") =>
        ({
            name,
            role: "system",
            shape: "BM.Standard.E4.128",
            size: 1,
            bootVolumeGbs: 100,
            kata,
            gpu: false,
            kataMode,
            labels: {},
        }) as NodePoolConfig;
    it("warns that managed pools keep IMDSv1, naming them and the mitigation", () => {
        const w = imdsWarning("iad1", [
            pool("system", false, "managed"),
            pool("kata", true, "self-managed"),
        ]);
        assert.ok(w);
        assert.match(w, /cluster iad1: managed node pools system keep the legacy IMDSv1/);
        assert.ok(!w.includes("kata,") && !w.includes(", kata"), w);
        assert.match(w, /169\.254\.0\.0\/16/);
        assert.equal(imdsWarning("iad1", [pool("kata", true, "self-managed")]), undefined);
    });
    it("has no IMDS option on managed node pools in the pinned provider (the reason for the warning)", () => {
        // If a provider upgrade adds one, this fails: then set it instead of warning.
        const dir = path.dirname(require.resolve("@pulumi/oci/package.json"));
        const nodePool = fs.readFileSync(path.join(dir, "containerengine/nodePool.d.ts"), "utf8");
        const inputs = fs.readFileSync(path.join(dir, "types/input.d.ts"), "utf8");
        const nodePoolTypes = inputs
            .split(/\n    interface /)
            .filter((block) => block.startsWith("NodePool"))
            .join("\n");
        assert.ok(!/Imds/i.test(nodePool) && !/Imds/i.test(nodePoolTypes));
        assert.match(inputs, /InstanceConfigurationInstanceDetailsLaunchDetailsInstanceOptions/);
    });
});

describe("oci: capacity-aware placement", () => {
    const ad = (n: number) => `Uocm:US-ASHBURN-AD-${n}`;
    const shapes = {
        [ad(1)]: ["VM.Standard.E5.Flex", "BM.GPU.A100-v2.8"],
        [ad(2)]: ["VM.Standard.E5.Flex", "BM.GPU.A100-v2.8"],
        [ad(3)]: ["VM.Standard.E5.Flex"],
    };
    it("places a pool only where its shape exists, or where config says", () => {
        assert.deepEqual(placement({ shape: "BM.GPU.A100-v2.8" }, shapes), {
            domains: [ad(1), ad(2)],
        });
        assert.deepEqual(placement({ shape: "VM.Standard.E5.Flex" }, shapes), {
            domains: [ad(1), ad(2), ad(3)],
        });
        assert.deepEqual(
            placement({ shape: "BM.GPU.A100-v2.8", availabilityDomains: [2] }, shapes),
            { domains: [ad(2)] },
        );
    });
    it("refuses an AD without the shape, a missing AD, and a shape no AD offers, naming the field", () => {
        assert.deepEqual(
            placement({ shape: "BM.GPU.A100-v2.8", availabilityDomains: [3] }, shapes),
            {
                field: "availabilityDomains",
                expected: "ADs where BM.GPU.A100-v2.8 is offered: AD-1, AD-2 (not AD 3)",
            },
        );
        assert.deepEqual(
            placement(
                { shape: "VM.Standard.E5.Flex", availabilityDomains: [2] },
                { "Uocm:EU-FRANKFURT-AD-1": ["VM.Standard.E5.Flex"] },
            ),
            {
                field: "availabilityDomains",
                expected: "a subset of the region's ADs 1 (AD 2 does not exist)",
            },
        );
        const none = placement({ shape: "BM.GPU.A100-v2.4" }, shapes);
        assert.ok("field" in none && none.field === "shape");
        // The did-you-mean comes from the provider's answer.
        assert.match(none.expected, /did you mean "BM\.GPU\.A100-v2\.8"\?/);
        assert.match(none.expected, /ADs: AD-1, AD-2, AD-3/);
    });
});
