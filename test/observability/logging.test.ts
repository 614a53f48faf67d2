import { strict as assert } from "assert";
import { guardrailsLogGlob } from "../../modules/constants/logs";
import { recordedResources, resetRecords, settle } from "../../tools/plan/mocks";

describe("observability: OCI Logging", () => {
    let res: ReturnType<typeof recordedResources>;
    let AuditLogging: typeof import("../../modules/oci/logging").AuditLogging;
    before(async () => {
        resetRecords();
        ({ AuditLogging } = await import("../../modules/oci/logging"));
        new AuditLogging("audit-t", {
            compartmentId: "ocid1.compartment.oc1..aaaaexample",
            clusterId: "ocid1.cluster.oc1.iad.aaaaexample",
            clusterName: "c1",
            retentionDays: 60,
            dynamicGroupId: "ocid1.dynamicgroup.oc1..aaaaexample",
            decisionLogPaths: [guardrailsLogGlob],
        });
        await settle();
        res = recordedResources();
    });
    const of = (t: string) => res.filter((r) => r.type === t).map((r) => r.inputs as any);

    it("collects the OKE control-plane service logs of the cluster", () => {
        const svc = of("oci:Logging/log:Log").find((l) => l.logType === "SERVICE");
        assert.ok(svc);
        assert.deepEqual(svc.configuration.source, {
            sourceType: "OCISERVICE",
            service: "oke-k8s-cp-prod",
            category: "all-service-logs",
            resource: "ocid1.cluster.oc1.iad.aaaaexample",
        });
        assert.equal(svc.retentionDuration, 60);
    });
    it("ships only guardrail decision records into a custom log with the configured retention", () => {
        const custom = of("oci:Logging/log:Log").find((l) => l.logType === "CUSTOM");
        assert.equal(custom.retentionDuration, 60);
        const agent = of("oci:Logging/unifiedAgentConfiguration:UnifiedAgentConfiguration")[0];
        assert.ok(agent);
        assert.deepEqual(agent.groupAssociation.groupLists, [
            "ocid1.dynamicgroup.oc1..aaaaexample",
        ]);
        const sc = agent.serviceConfiguration;
        assert.match(sc.sources[0].paths[0], /^\/var\/log\/containers\/guardrails-\*/);
        const grep = sc.unifiedAgentConfigurationFilters[0];
        assert.equal(grep.filterType, "GREP_FILTER");
        assert.match(grep.allowLists[0].pattern, /guardrails\\\\?\.decision/);
    });
    it("refuses a retention OCI Logging does not accept", () => {
        assert.throws(
            () =>
                new AuditLogging("audit-bad", {
                    compartmentId: "ocid1.compartment.oc1..aaaaexample",
                    clusterId: "ocid1.cluster.oc1.iad.aaaaexample",
                    clusterName: "c1",
                    retentionDays: 45,
                    decisionLogPaths: [guardrailsLogGlob],
                }),
            /45 days.*30, 60, 90, 120, 150, 180/,
        );
    });
});
