/** The run-time API access and the kubeconfig's exec plugin (pure). */
import { strict as assert } from "assert";
import { parse } from "yaml";
import { kubeconfigForRun, ociCliAuthArgs, parseApiAccess } from "../../modules/access";
import { ConfigValidationError } from "../../modules/config";

/** The shape of the kubeconfig OKE generates (token version 2.0.0). */
const okeKubeconfig = [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "  - name: cluster-c1",
    "    cluster:",
    "      server: https://10.0.0.12:6443",
    "      certificate-authority-data: QUJD",
    "users:",
    "  - name: user-c1",
    "    user:",
    "      exec:",
    "        apiVersion: client.authentication.k8s.io/v1beta1",
    "        command: oci",
    "        args: [ce, cluster, generate-token, --cluster-id, ocid1.cluster.oc1.iad.aaaa, --region, us-ashburn-1]",
    "        env: []",
    "contexts:",
    "  - name: context-c1",
    "    context: { cluster: cluster-c1, user: user-c1 }",
    "current-context: context-c1",
].join("\n");

describe("kubeconfig for a run", () => {
    it("points the server at the tunnel and keeps verifying the API server's name", () => {
        const out = parse(
            kubeconfigForRun(
                okeKubeconfig,
                { method: "ApiKey", profile: "DEFAULT" },
                "https://127.0.0.1:16443",
            ),
        );
        assert.equal(out.clusters[0].cluster.server, "https://127.0.0.1:16443");
        assert.equal(out.clusters[0].cluster["tls-server-name"], "10.0.0.12");
        assert.equal(out.clusters[0].cluster["certificate-authority-data"], "QUJD");
    });

    it("leaves the server alone without a tunnel (a runner inside the VCN)", () => {
        const out = parse(
            kubeconfigForRun(okeKubeconfig, { method: "ApiKey", profile: "DEFAULT" }),
        );
        assert.equal(out.clusters[0].cluster.server, "https://10.0.0.12:6443");
        assert.equal(out.clusters[0].cluster["tls-server-name"], undefined);
    });

    it("gives generate-token the stack's profile and --auth security_token for a session token", () => {
        const out = parse(
            kubeconfigForRun(okeKubeconfig, { method: "SecurityToken", profile: "ci" }),
        );
        assert.deepEqual(out.users[0].user.exec.args, [
            "ce",
            "cluster",
            "generate-token",
            "--cluster-id",
            "ocid1.cluster.oc1.iad.aaaa",
            "--region",
            "us-ashburn-1",
            "--profile",
            "ci",
            "--auth",
            "security_token",
        ]);
        // Idempotent: a second rewrite does not repeat the options.
        const again = parse(
            kubeconfigForRun(
                kubeconfigForRun(okeKubeconfig, { method: "SecurityToken", profile: "ci" }),
                {
                    method: "InstancePrincipal",
                    profile: "ci",
                },
            ),
        );
        assert.deepEqual(again.users[0].user.exec.args.slice(7), [
            "--profile",
            "ci",
            "--auth",
            "instance_principal",
        ]);
        assert.deepEqual(out.users[0].user.exec.env, [], "no machine-local path in the kubeconfig");
    });

    it("maps every provider auth method to the OCI CLI's --auth", () => {
        assert.deepEqual(ociCliAuthArgs({ method: "ApiKey", profile: "DEFAULT" }), [
            "--profile",
            "DEFAULT",
        ]);
        assert.deepEqual(ociCliAuthArgs({ method: "ResourcePrincipal", profile: "p" }), [
            "--profile",
            "p",
            "--auth",
            "resource_principal",
        ]);
    });
});

describe("SLP_API_ACCESS", () => {
    const refused = (value: string) => {
        try {
            parseApiAccess(value, ["dev-iad"]);
        } catch (e) {
            assert.ok(e instanceof ConfigValidationError);
            return e.issues.map((i) => `${i.path}: ${i.expected}`);
        }
        throw new Error("accepted");
    };

    it("is empty without the variable", () => {
        assert.deepEqual(parseApiAccess(undefined, ["dev-iad"]), {});
        assert.deepEqual(parseApiAccess("", ["dev-iad"]), {});
    });

    it("accepts local https ports of the stack's OKE clusters", () => {
        assert.deepEqual(parseApiAccess('{"dev-iad":"https://127.0.0.1:16443"}', ["dev-iad"]), {
            "dev-iad": "https://127.0.0.1:16443",
        });
    });

    it("refuses other clusters, non-local or plain-http URLs, naming the entry", () => {
        assert.match(
            refused('{"dev-fra":"https://127.0.0.1:16443"}')[0]!,
            /^SLP_API_ACCESS\.dev-fra: the name of an OKE cluster of this stack \(dev-iad\)/,
        );
        assert.match(
            refused('{"dev-iad":"https://10.0.0.12:6443"}')[0]!,
            /^SLP_API_ACCESS\.dev-iad: https:\/\/127\.0\.0\.1:<port>/,
        );
        assert.match(
            refused('{"dev-iad":"http://127.0.0.1:16443"}')[0]!,
            /^SLP_API_ACCESS\.dev-iad/,
        );
        assert.match(
            refused('{"dev-iad":"https://127.0.0.1:99999"}')[0]!,
            /^SLP_API_ACCESS\.dev-iad/,
        );
        assert.match(refused("not json")[0]!, /^SLP_API_ACCESS: a JSON object/);
    });
});
