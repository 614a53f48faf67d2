/** The deploy planner and its inputs (pure); the end-to-end runs are in test/real/deploy. */
import { strict as assert } from "assert";
import { localProcesses, parseDeployArgs, pulumiEnv } from "../../tools/deploy/cli";
import { DeployPlanError, planDeploy, providerUrn } from "../../tools/deploy/plan";
import { sshDestination } from "../../tools/deploy/run";
import { parse as parseStack, repoRoot, stackRaw } from "../support/stacks";

describe("deploy planner (pure)", () => {
    it("needs the Bastion of every private cluster for --access bastion, naming the key", () => {
        const raw = stackRaw("dev");
        raw.clusters[0].bastion.enabled = false;
        assert.throws(
            () => planDeploy(parseStack(raw), "bastion"),
            (e: unknown) =>
                e instanceof DeployPlanError &&
                /secure-llm-platform:clusters\[0\]\.bastion\.enabled: got false .*--access direct/.test(
                    e.message,
                ),
        );
        assert.equal(planDeploy(parseStack(raw), "direct").steps.length, 1);
    });

    it("refuses bad arguments with a suggestion", () => {
        assert.throws(
            () => parseDeployArgs(["--stack", "prd"], repoRoot),
            /no stack prd.*did you mean "prod"/,
        );
        assert.throws(
            () => parseDeployArgs(["--stack", "dev", "--access", "bastian"], repoRoot),
            /--access: got "bastian"; expected one of bastion, direct \(did you mean "bastion"\?\)/,
        );
    });

    it("mirrors the images between the cloud and the cluster layer when images.mirror is set", () => {
        const raw = stackRaw("dev");
        raw.images = { mirror: "ns/slp-mirror" };
        assert.deepEqual(
            planDeploy(parseStack(raw), "direct").steps.map((s) => s.kind),
            ["up", "mirror-images", "up"],
        );
        assert.deepEqual(
            planDeploy(parseStack(raw), "bastion").steps.map((s) => s.kind),
            ["up", "mirror-images", "open-tunnel", "up", "close-tunnels"],
        );
    });

    it("needs no tunnel for public endpoints or existing clusters", () => {
        const raw = stackRaw("dev");
        raw.clusters[0].endpoint = { public: true, allowedCidrs: ["198.51.100.0/24"] };
        const { steps, tunnels } = planDeploy(parseStack(raw), "bastion");
        assert.equal(tunnels.length, 0);
        assert.deepEqual(
            steps.map((s) => s.kind),
            ["up"],
        );
    });

    it("names the Kubernetes provider URN the program declares", () => {
        assert.equal(
            providerUrn("secure-llm-platform", "dev", "dev-iad-k8s"),
            "urn:pulumi:dev::secure-llm-platform::pulumi:providers:kubernetes::dev-iad-k8s",
        );
    });

    it("reads the ssh destination from a Bastion session's ssh command", () => {
        assert.deepEqual(
            sshDestination(
                "ssh -i <privateKey> -N -L <localPort>:10.0.0.5:6443 -p 22 ocid1.bastionsession.oc1.iad.amaaaa@host.bastion.us-ashburn-1.oci.oraclecloud.com",
            ),
            {
                destination:
                    "ocid1.bastionsession.oc1.iad.amaaaa@host.bastion.us-ashburn-1.oci.oraclecloud.com",
                port: "22",
            },
        );
        assert.throws(() => sshDestination("ssh somewhere"), /cannot read the ssh destination/);
    });

    it("points the OCI CLI of the kubeconfig's exec plugin at the file the OCI providers read", () => {
        // terraform-provider-oci reads <TF_HOME_OVERRIDE or the user's home>/.oci/config.
        assert.deepEqual(pulumiEnv({ TF_HOME_OVERRIDE: "/runner/temp/oci-home" }, "/home/u"), {
            OCI_CLI_CONFIG_FILE: "/runner/temp/oci-home/.oci/config",
        });
        assert.deepEqual(pulumiEnv({}, "/home/u"), { OCI_CLI_CONFIG_FILE: "/home/u/.oci/config" });
        // OCI_CONFIG_FILE is not what the providers read: it does not move the file.
        assert.deepEqual(pulumiEnv({ OCI_CONFIG_FILE: "/tmp/oci/config" }, "/home/u"), {
            OCI_CLI_CONFIG_FILE: "/home/u/.oci/config",
        });
    });
});

describe("deploy: local child processes", () => {
    it("keeps a UTF-8 character whole when the child writes it in two pieces", async () => {
        // "é" is 0xc3 0xa9: the child flushes the first byte, waits, then writes the second.
        const script =
            "process.stdout.write(Buffer.from([0x61, 0xc3]), () => setTimeout(() => " +
            "process.stdout.write(Buffer.from([0xa9, 0x62])), 50))";
        const r = await localProcesses.run(process.execPath, ["-e", script]);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout, "aéb");
    });
});
