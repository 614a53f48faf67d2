/** Subnet plan of an OKE cluster's VCN (pure). */
import { formatCidr, parseCidr, subnet } from "../config/cidr";
import type { PodNetworking } from "../config";

/** Subnet roles the cloud layer creates. */
export type SubnetRole = "cp" | "lb" | "workers" | "pods";

/** One planned subnet. */
export interface PlannedSubnet {
    readonly role: SubnetRole;
    /** IPv4 CIDR block inside the VCN. */
    readonly cidr: string;
    /** DNS label (letters and digits, at most 15 characters). */
    readonly dnsLabel: string;
    /** True when VNICs in the subnet may have public IPs. */
    readonly public: boolean;
}

/** What decides the plan. */
export interface SubnetPlanInput {
    /** VCN CIDR, /20 or larger (config validation guarantees it). */
    readonly vcnCidr: string;
    /** `vcn-native` adds a pods subnet. */
    readonly podNetworking: PodNetworking;
    /** Public API endpoint: the control-plane subnet is public. */
    readonly publicEndpoint: boolean;
    /** Public service load balancers: the load-balancer subnet is public. */
    readonly publicLoadBalancers: boolean;
}

/**
 * Carves the cluster's subnets from the VCN, like terraform-oci-oke's `cidrsubnet()` plan. The
 * first quarter of the VCN holds the small subnets (control plane: 1/256, load balancers: 1/64 at
 * offset 1/64), workers take the second quarter and pods (VCN-native only) the second half, so the
 * layout is the same for every VCN size from /20 (control plane /28, pods /21) to /16.
 */
export function planSubnets(input: SubnetPlanInput): PlannedSubnet[] {
    const vcn = parseCidr(input.vcnCidr);
    if (vcn === undefined) {
        throw new Error(
            `VCN CIDR ${input.vcnCidr} is not a valid IPv4 block; set network.vcnCidr such as 10.0.0.0/16`,
        );
    }
    if (vcn.prefix > 20) {
        throw new Error(
            `VCN CIDR ${input.vcnCidr} is smaller than /20; set network.vcnCidr to a /20 or larger block`,
        );
    }
    const plan: PlannedSubnet[] = [
        {
            role: "cp",
            cidr: formatCidr(subnet(vcn, 8, 0)),
            dnsLabel: "cp",
            public: input.publicEndpoint,
        },
        {
            role: "lb",
            cidr: formatCidr(subnet(vcn, 6, 1)),
            dnsLabel: "lb",
            public: input.publicLoadBalancers,
        },
        {
            role: "workers",
            cidr: formatCidr(subnet(vcn, 2, 1)),
            dnsLabel: "workers",
            public: false,
        },
    ];
    if (input.podNetworking === "vcn-native") {
        plan.push({
            role: "pods",
            cidr: formatCidr(subnet(vcn, 1, 1)),
            dnsLabel: "pods",
            public: false,
        });
    }
    return plan;
}

/** True when anything in the plan is public (an internet gateway is then needed). */
export function needsInternetGateway(plan: readonly PlannedSubnet[]): boolean {
    return plan.some((s) => s.public);
}

/** Subnet CIDRs by role, as the cloud layer hands them to the cluster layer (`pods` only with VCN-native pods). */
export interface SubnetCidrs {
    readonly cp: string;
    readonly lb: string;
    readonly workers: string;
    readonly pods?: string;
}

/** The CIDRs of a plan by role. */
export function subnetCidrs(plan: readonly PlannedSubnet[]): SubnetCidrs {
    const of = (role: SubnetRole) => plan.find((p) => p.role === role)?.cidr;
    const pods = of("pods");
    return { cp: of("cp")!, lb: of("lb")!, workers: of("workers")!, ...(pods ? { pods } : {}) };
}
