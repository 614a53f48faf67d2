/**
 * The VCN of one OKE cluster: subnets, gateways, route tables, one NSG per role with only the
 * rules OKE needs, and the default security list stripped.
 */
import * as oci from "@pulumi/oci";
import * as pulumi from "@pulumi/pulumi";
import type { ClusterNetworkConfig } from "../config";
import { okePorts } from "../constants/ports";
import {
    PlannedSubnet,
    SubnetCidrs,
    SubnetRole,
    needsInternetGateway,
    planSubnets,
    subnetCidrs,
} from "./subnets";

/** Name pattern of the Service Gateway's service (never chosen by list index). */
export const osnServicePattern = /^All .* Services In Oracle Services Network$/;

/** A service of `oci.core.getServices`. */
export interface OciService {
    readonly id: string;
    readonly name: string;
    readonly cidrBlock: string;
}

/** The "All <region> Services In Oracle Services Network" service. Throws when missing. */
export function selectOsnService(services: readonly OciService[]): OciService {
    const matches = services.filter((s) => osnServicePattern.test(s.name));
    if (matches.length !== 1) {
        throw new Error(
            `expected exactly one service named like "All <region> Services In Oracle Services Network", found ${matches.length} among: ${services.map((s) => s.name).join(", ")}`,
        );
    }
    return matches[0];
}

/** Arguments for {@link OkeNetwork}. */
export interface OkeNetworkArgs {
    /** Compartment of every network resource. */
    readonly compartmentId: string;
    /** The cluster's network plan. */
    readonly network: ClusterNetworkConfig;
    /** Public API endpoint. Defaults to false (private). */
    readonly publicEndpoint?: boolean;
    /** CIDRs allowed to reach a public API endpoint on 6443. Defaults to none. */
    readonly endpointAllowedCidrs?: readonly string[];
    /** Open 6443 from the control-plane subnet for the OCI Bastion's private endpoint there. Defaults to false. */
    readonly bastion?: boolean;
    /** Admit port 80 to the load balancers, for ACME HTTP-01 challenges. Defaults to false. */
    readonly httpListener?: boolean;
    /** Freeform tags for every resource. */
    readonly tags: Readonly<Record<string, string>>;
    /** The Oracle Services Network service of the region (provider lookup, modules/oci/lookups.ts). */
    readonly osnService: OciService;
    /**
     * Remote peering: attach the VCN to this DRG and route `peerCidrs` (other regions' VCN CIDRs)
     * from the private subnets through it. Routing only: no NSG rule admits peer traffic.
     * Defaults to no peering.
     */
    readonly peering?: NetworkPeering;
}

/** The DRG a VCN attaches to and the CIDRs it routes there. */
export interface NetworkPeering {
    /** OCID of the region's DRG. */
    readonly drgId: pulumi.Input<string>;
    /** Destination CIDRs routed to the DRG. */
    readonly peerCidrs: readonly string[];
}

type NsgRole = "cp" | "workers" | "lb" | "pods";

type Peer = { readonly nsg: NsgRole } | { readonly cidr: string } | { readonly service: true };

interface RuleSpec {
    readonly nsg: NsgRole;
    readonly direction: "INGRESS" | "EGRESS";
    readonly peer: Peer;
    /** "6" TCP, "17" UDP, "1" ICMP, "all". */
    readonly protocol: string;
    readonly ports?: readonly [number, number];
    readonly icmp?: { readonly type: number; readonly code: number };
    readonly description: string;
    /** Stable key for the resource name. */
    readonly key: string;
}

/** What decides the NSG rules (pure input). */
export interface NsgRuleInput {
    readonly vcnCidr: string;
    readonly vcnNative: boolean;
    readonly publicLoadBalancers: boolean;
    readonly nodePortCidrs: readonly string[];
    readonly publicEndpoint: boolean;
    readonly endpointAllowedCidrs: readonly string[];
    /** Control-plane subnet CIDR when the bastion is enabled. */
    readonly bastionCidr?: string;
    /** Admit port 80 to the load balancers (ACME HTTP-01 challenges). Defaults to false. */
    readonly httpListener?: boolean;
}

const tcp = "6";
const icmp = "1";
const pmtu = { type: 3, code: 4 } as const;

/**
 * Every NSG rule of the cluster (pure). Ingress and egress are both stated, so every flow is
 * allowed exactly where OKE's documented security rules say it must be and nowhere else.
 */
export function nsgRules(n: NsgRuleInput): RuleSpec[] {
    const r: RuleSpec[] = [];
    const add = (spec: RuleSpec) => r.push(spec);
    const p = okePorts;
    const api: [number, number] = [p.apiServer, p.apiServer];
    const cpPort: [number, number] = [p.controlPlane, p.controlPlane];
    const kubelet: [number, number] = [p.kubelet, p.kubelet];
    const nodePorts: [number, number] = [p.nodePortMin, p.nodePortMax];
    const health: [number, number] = [p.lbHealthCheck, p.lbHealthCheck];
    const https: [number, number] = [p.https, p.https];
    const clients: NsgRole[] = n.vcnNative ? ["workers", "pods"] : ["workers"];

    // Kubernetes API and control-plane traffic from nodes (and pods, with VCN-native networking).
    for (const from of clients) {
        add({
            nsg: "cp",
            direction: "INGRESS",
            peer: { nsg: from },
            protocol: tcp,
            ports: api,
            description: `${from} to Kubernetes API`,
            key: `cp-in-api-${from}`,
        });
        add({
            nsg: "cp",
            direction: "INGRESS",
            peer: { nsg: from },
            protocol: tcp,
            ports: cpPort,
            description: `${from} to control plane (12250)`,
            key: `cp-in-12250-${from}`,
        });
        add({
            nsg: from,
            direction: "EGRESS",
            peer: { nsg: "cp" },
            protocol: tcp,
            ports: api,
            description: "to Kubernetes API",
            key: `${from}-out-api`,
        });
        add({
            nsg: from,
            direction: "EGRESS",
            peer: { nsg: "cp" },
            protocol: tcp,
            ports: cpPort,
            description: "to control plane (12250)",
            key: `${from}-out-12250`,
        });
    }
    if (n.publicEndpoint) {
        n.endpointAllowedCidrs.forEach((cidr, i) =>
            add({
                nsg: "cp",
                direction: "INGRESS",
                peer: { cidr },
                protocol: tcp,
                ports: api,
                description: `API clients ${cidr}`,
                key: `cp-in-api-client-${i}`,
            }),
        );
    }
    if (n.bastionCidr !== undefined) {
        add({
            nsg: "cp",
            direction: "INGRESS",
            peer: { cidr: n.bastionCidr },
            protocol: tcp,
            ports: api,
            description: "OCI Bastion sessions to Kubernetes API",
            key: "cp-in-api-bastion",
        });
    }
    // Control plane to kubelets, and to webhooks running in pods.
    add({
        nsg: "cp",
        direction: "EGRESS",
        peer: { nsg: "workers" },
        protocol: tcp,
        ports: kubelet,
        description: "control plane to kubelet",
        key: "cp-out-kubelet",
    });
    add({
        nsg: "workers",
        direction: "INGRESS",
        peer: { nsg: "cp" },
        protocol: tcp,
        ports: kubelet,
        description: "control plane to kubelet",
        key: "workers-in-kubelet",
    });
    if (n.vcnNative) {
        add({
            nsg: "cp",
            direction: "EGRESS",
            peer: { nsg: "pods" },
            protocol: tcp,
            description: "control plane to pods (webhooks, metrics)",
            key: "cp-out-pods",
        });
        add({
            nsg: "pods",
            direction: "INGRESS",
            peer: { nsg: "cp" },
            protocol: tcp,
            description: "control plane to pods (webhooks, metrics)",
            key: "pods-in-cp",
        });
    } else {
        add({
            nsg: "cp",
            direction: "EGRESS",
            peer: { nsg: "workers" },
            protocol: tcp,
            description: "control plane to overlay pods (webhooks)",
            key: "cp-out-workers-tcp",
        });
        add({
            nsg: "workers",
            direction: "INGRESS",
            peer: { nsg: "cp" },
            protocol: tcp,
            description: "control plane to overlay pods (webhooks)",
            key: "workers-in-cp-tcp",
        });
    }
    // Pod-to-pod and pod-to-node traffic; Kubernetes NetworkPolicy narrows it inside the cluster.
    if (n.vcnNative) {
        for (const [a, b] of [
            ["pods", "pods"],
            ["pods", "workers"],
            ["workers", "pods"],
        ] as [NsgRole, NsgRole][]) {
            add({
                nsg: a,
                direction: "EGRESS",
                peer: { nsg: b },
                protocol: "all",
                description: `${a} to ${b}`,
                key: `${a}-out-${b}`,
            });
            add({
                nsg: b,
                direction: "INGRESS",
                peer: { nsg: a },
                protocol: "all",
                description: `${a} to ${b}`,
                key: `${b}-in-${a}`,
            });
        }
    }
    // Worker to worker, in both modes: OKE's documented worker-node rules allow all traffic between
    // worker nodes (flannel's VXLAN overlay; with VCN-native pods, kube-proxy NodePorts, host-
    // network agents and node-to-node health) — OKE "Network Resource Configuration for Cluster
    // Creation and Deployment", security rules for worker nodes,
    // https://docs.oracle.com/en-us/iaas/Content/ContEng/Concepts/contengnetworkconfig.htm.
    // Test: "lets workers reach each other with VCN-native pods too" in test/oci/pure.test.ts.
    add({
        nsg: "workers",
        direction: "EGRESS",
        peer: { nsg: "workers" },
        protocol: "all",
        description: n.vcnNative ? "worker to worker" : "overlay pod traffic between nodes",
        key: "workers-out-workers",
    });
    add({
        nsg: "workers",
        direction: "INGRESS",
        peer: { nsg: "workers" },
        protocol: "all",
        description: n.vcnNative ? "worker to worker" : "overlay pod traffic between nodes",
        key: "workers-in-workers",
    });
    // Oracle Services Network (OKE, registry, Object Storage, Vault) through the Service Gateway.
    for (const nsg of ["cp", ...clients] as NsgRole[]) {
        add({
            nsg,
            direction: "EGRESS",
            peer: { service: true },
            protocol: tcp,
            ports: https,
            description: "HTTPS to Oracle Services Network",
            key: `${nsg}-out-osn`,
        });
    }
    // Image pulls from public registries through the NAT gateway; pod egress is further limited by
    // NetworkPolicy and the FQDN engine in the cluster layer.
    for (const nsg of clients) {
        add({
            nsg,
            direction: "EGRESS",
            peer: { cidr: "0.0.0.0/0" },
            protocol: tcp,
            ports: https,
            description: "HTTPS through the NAT gateway",
            key: `${nsg}-out-https`,
        });
    }
    // Path MTU discovery.
    for (const nsg of ["cp", "workers", "lb", ...(n.vcnNative ? ["pods"] : [])] as NsgRole[]) {
        add({
            nsg,
            direction: "INGRESS",
            peer: { cidr: "0.0.0.0/0" },
            protocol: icmp,
            icmp: pmtu,
            description: "path MTU discovery",
            key: `${nsg}-in-pmtu`,
        });
        add({
            nsg,
            direction: "EGRESS",
            peer: { cidr: "0.0.0.0/0" },
            protocol: icmp,
            icmp: pmtu,
            description: "path MTU discovery",
            key: `${nsg}-out-pmtu`,
        });
    }
    // Service load balancers: clients in, NodePorts and kube-proxy health checks to the workers.
    const lbClients = n.publicLoadBalancers ? "0.0.0.0/0" : n.vcnCidr;
    add({
        nsg: "lb",
        direction: "INGRESS",
        peer: { cidr: lbClients },
        protocol: tcp,
        ports: https,
        description: "HTTPS listeners",
        key: "lb-in-https",
    });
    if (n.httpListener ?? false) {
        // The cloud controller writes no rules (security-rule-management-mode None), so the HTTP
        // listener ingress-nginx opens for ACME HTTP-01 needs its own rule. Test: "opens port 80
        // to the load balancers only for ACME" in test/oci/pure.test.ts.
        add({
            nsg: "lb",
            direction: "INGRESS",
            peer: { cidr: lbClients },
            protocol: tcp,
            ports: [p.http, p.http],
            description: "HTTP listener (ACME HTTP-01 challenges)",
            key: "lb-in-http",
        });
    }
    add({
        nsg: "lb",
        direction: "EGRESS",
        peer: { nsg: "workers" },
        protocol: tcp,
        ports: nodePorts,
        description: "to NodePorts",
        key: "lb-out-nodeports",
    });
    add({
        nsg: "lb",
        direction: "EGRESS",
        peer: { nsg: "workers" },
        protocol: tcp,
        ports: health,
        description: "kube-proxy health checks",
        key: "lb-out-health",
    });
    add({
        nsg: "workers",
        direction: "INGRESS",
        peer: { nsg: "lb" },
        protocol: tcp,
        ports: nodePorts,
        description: "NodePorts from load balancers",
        key: "workers-in-nodeports-lb",
    });
    add({
        nsg: "workers",
        direction: "INGRESS",
        peer: { nsg: "lb" },
        protocol: tcp,
        ports: health,
        description: "health checks from load balancers",
        key: "workers-in-health-lb",
    });
    n.nodePortCidrs.forEach((cidr, i) =>
        add({
            nsg: "workers",
            direction: "INGRESS",
            peer: { cidr },
            protocol: tcp,
            ports: nodePorts,
            description: `NodePorts from ${cidr}`,
            key: `workers-in-nodeports-${i}`,
        }),
    );
    return r;
}

/** One stateful egress rule of a security list (pure). */
export interface SecurityListEgress {
    readonly destination: string;
    readonly protocol: string;
    readonly ports: readonly [number, number];
    readonly description: string;
}

/**
 * Egress of the OCI Bastion's private endpoint, which sits in the control-plane subnet. A Bastion
 * cannot join an NSG (CreateBastionDetails has no NSG field: @pulumi/oci 4.20.0 BastionArgs has
 * none), so only the subnet's security lists govern its VNIC; a VNIC's traffic is allowed by the
 * union of its subnet's security lists and its NSGs (OCI "Security Rules",
 * https://docs.oracle.com/en-us/iaas/Content/Network/Concepts/securityrules.htm). The default list
 * is stripped, so without this list a port-forwarding session to 6443 has no egress. Stateful: the
 * API server's replies return without an ingress rule; the endpoint's NSG admits the session
 * (`cp-in-api-bastion`). Test: "lets the bastion's private endpoint reach the API endpoint" in
 * test/oci/pure.test.ts.
 */
export function bastionEgressRules(cpCidr: string): SecurityListEgress[] {
    return [
        {
            destination: cpCidr,
            protocol: tcp,
            ports: [okePorts.apiServer, okePorts.apiServer],
            description: "OCI Bastion sessions to the Kubernetes API endpoint",
        },
    ];
}

/** VCN, gateways, route tables, subnets and NSGs of one OKE cluster. */
export class OkeNetwork extends pulumi.ComponentResource {
    public readonly vcnId: pulumi.Output<string>;
    /** Subnet OCIDs by role (`pods` only with VCN-native networking). */
    public readonly subnetIds: Readonly<Partial<Record<SubnetRole, pulumi.Output<string>>>>;
    /** NSG OCIDs by role (`pods` only with VCN-native networking). */
    public readonly nsgIds: Readonly<Partial<Record<NsgRole, pulumi.Output<string>>>>;
    /** The planned subnets. */
    public readonly plan: readonly PlannedSubnet[];
    /** Subnet CIDRs by role (what the cluster layer's network policy needs). */
    public readonly subnetCidrs: SubnetCidrs;

    constructor(name: string, args: OkeNetworkArgs, opts?: pulumi.ComponentResourceOptions) {
        super("secure-llm-platform:oci:OkeNetwork", name, {}, opts);
        const publicEndpoint = args.publicEndpoint ?? false;
        const vcnNative = args.network.podNetworking === "vcn-native";
        const base = { compartmentId: args.compartmentId, freeformTags: { ...args.tags } };
        const child = { parent: this };
        this.plan = planSubnets({
            vcnCidr: args.network.vcnCidr,
            podNetworking: args.network.podNetworking,
            publicEndpoint,
            publicLoadBalancers: args.network.publicLoadBalancers,
        });

        const vcn = new oci.core.Vcn(
            `${name}-vcn`,
            {
                ...base,
                cidrBlocks: [args.network.vcnCidr],
                displayName: `${name}-vcn`,
                dnsLabel: dnsLabel(name),
            },
            child,
        );
        const vcnId = vcn.id;
        // Stripped: every allowed flow is an NSG rule, so nothing is open by subnet membership alone.
        new oci.core.DefaultSecurityList(
            `${name}-default-security-list`,
            {
                manageDefaultResourceId: vcn.defaultSecurityListId,
                displayName: `${name}-default-deny`,
                freeformTags: { ...args.tags },
                ingressSecurityRules: [],
                egressSecurityRules: [],
            },
            child,
        );

        const osn = args.osnService;
        const sgw = new oci.core.ServiceGateway(
            `${name}-sgw`,
            { ...base, vcnId, displayName: `${name}-sgw`, services: [{ serviceId: osn.id }] },
            child,
        );
        const nat = new oci.core.NatGateway(
            `${name}-nat`,
            { ...base, vcnId, displayName: `${name}-nat` },
            child,
        );
        // A route rule may target a DRG only once the DRG is attached: rules use the attachment's drgId.
        const attachment =
            args.peering === undefined
                ? undefined
                : new oci.core.DrgAttachment(
                      `${name}-drg-attachment`,
                      {
                          drgId: args.peering.drgId,
                          displayName: `${name}-vcn`,
                          networkDetails: { id: vcnId, type: "VCN" },
                          freeformTags: { ...args.tags },
                      },
                      child,
                  );
        const peerRoutes = attachment
            ? (args.peering?.peerCidrs ?? []).map((cidr) => ({
                  destination: cidr,
                  destinationType: "CIDR_BLOCK",
                  networkEntityId: attachment.drgId,
                  description: "peer VCN through the DRG (remote peering)",
              }))
            : [];
        const privateRt = new oci.core.RouteTable(
            `${name}-private-rt`,
            {
                ...base,
                vcnId,
                displayName: `${name}-private`,
                routeRules: [
                    {
                        destination: "0.0.0.0/0",
                        destinationType: "CIDR_BLOCK",
                        networkEntityId: nat.id,
                        description: "internet egress through NAT",
                    },
                    {
                        destination: osn.cidrBlock,
                        destinationType: "SERVICE_CIDR_BLOCK",
                        networkEntityId: sgw.id,
                        description: "Oracle Services Network",
                    },
                    ...peerRoutes,
                ],
            },
            child,
        );
        let publicRt: oci.core.RouteTable | undefined;
        if (needsInternetGateway(this.plan)) {
            const igw = new oci.core.InternetGateway(
                `${name}-igw`,
                { ...base, vcnId, displayName: `${name}-igw`, enabled: true },
                child,
            );
            publicRt = new oci.core.RouteTable(
                `${name}-public-rt`,
                {
                    ...base,
                    vcnId,
                    displayName: `${name}-public`,
                    routeRules: [
                        {
                            destination: "0.0.0.0/0",
                            destinationType: "CIDR_BLOCK",
                            networkEntityId: igw.id,
                            description: "internet",
                        },
                    ],
                },
                child,
            );
        }

        const cpCidr = this.plan.find((s) => s.role === "cp")!.cidr;
        const bastionList =
            (args.bastion ?? false)
                ? new oci.core.SecurityList(
                      `${name}-bastion-sl`,
                      {
                          ...base,
                          vcnId,
                          displayName: `${name}-bastion`,
                          ingressSecurityRules: [],
                          egressSecurityRules: bastionEgressRules(cpCidr).map((r) => ({
                              destination: r.destination,
                              destinationType: "CIDR_BLOCK",
                              protocol: r.protocol,
                              stateless: false,
                              description: r.description,
                              tcpOptions: { min: r.ports[0], max: r.ports[1] },
                          })),
                      },
                      child,
                  )
                : undefined;

        const subnetIds: Partial<Record<SubnetRole, pulumi.Output<string>>> = {};
        for (const s of this.plan) {
            const subnet = new oci.core.Subnet(
                `${name}-${s.role}`,
                {
                    ...base,
                    vcnId,
                    cidrBlock: s.cidr,
                    displayName: `${name}-${s.role}`,
                    dnsLabel: s.dnsLabel,
                    prohibitPublicIpOnVnic: !s.public,
                    prohibitInternetIngress: !s.public,
                    routeTableId: s.public ? publicRt!.id : privateRt.id,
                    securityListIds:
                        s.role === "cp" && bastionList
                            ? [vcn.defaultSecurityListId, bastionList.id]
                            : [vcn.defaultSecurityListId],
                },
                child,
            );
            subnetIds[s.role] = subnet.id;
        }

        const roles: NsgRole[] = vcnNative
            ? ["cp", "workers", "lb", "pods"]
            : ["cp", "workers", "lb"];
        const nsgIds: Partial<Record<NsgRole, pulumi.Output<string>>> = {};
        for (const role of roles) {
            nsgIds[role] = new oci.core.NetworkSecurityGroup(
                `${name}-${role}-nsg`,
                { ...base, vcnId, displayName: `${name}-${role}` },
                child,
            ).id;
        }
        const rules = nsgRules({
            vcnCidr: args.network.vcnCidr,
            vcnNative,
            publicLoadBalancers: args.network.publicLoadBalancers,
            nodePortCidrs: args.network.nodePortCidrs,
            publicEndpoint,
            endpointAllowedCidrs: args.endpointAllowedCidrs ?? [],
            bastionCidr: (args.bastion ?? false) ? cpCidr : undefined,
            httpListener: args.httpListener ?? false,
        });
        for (const rule of rules) {
            const peer: { value: pulumi.Input<string>; type: string } =
                "nsg" in rule.peer
                    ? { value: nsgIds[rule.peer.nsg]!, type: "NETWORK_SECURITY_GROUP" }
                    : "cidr" in rule.peer
                      ? { value: rule.peer.cidr, type: "CIDR_BLOCK" }
                      : { value: osn.cidrBlock, type: "SERVICE_CIDR_BLOCK" };
            const range = rule.ports
                ? { destinationPortRange: { min: rule.ports[0], max: rule.ports[1] } }
                : undefined;
            new oci.core.NetworkSecurityGroupSecurityRule(
                `${name}-${rule.key}`,
                {
                    networkSecurityGroupId: nsgIds[rule.nsg]!,
                    direction: rule.direction,
                    protocol: rule.protocol,
                    stateless: false,
                    description: rule.description,
                    ...(rule.direction === "INGRESS"
                        ? { source: peer.value, sourceType: peer.type }
                        : { destination: peer.value, destinationType: peer.type }),
                    ...(rule.protocol === tcp && range ? { tcpOptions: range } : {}),
                    ...(rule.icmp
                        ? { icmpOptions: { type: rule.icmp.type, code: rule.icmp.code } }
                        : {}),
                },
                child,
            );
        }

        this.subnetCidrs = subnetCidrs(this.plan);
        this.vcnId = vcnId;
        this.subnetIds = subnetIds;
        this.nsgIds = nsgIds;
        this.registerOutputs({ vcnId, subnetIds, nsgIds });
    }
}

/** A VCN DNS label: letters and digits, starting with a letter, at most 15 characters. */
export function dnsLabel(name: string): string {
    const cleaned = name.toLowerCase().replace(/[^a-z0-9]/g, "");
    return (/^[a-z]/.test(cleaned) ? cleaned : `v${cleaned}`).slice(0, 15);
}
