/**
 * The offline plan of prod renders the whole stack and reports it "blocked" (exit 0): every check
 * passes, but `pulumi up` and `npm run deploy` refuse it until our images are built and pushed,
 * the charts' and the authored Calico install's image digests are in the lock (modules/images.ts).
 * A prod-like stack with all of that (a fixture lock) plans clean, its releases and the Calico
 * DaemonSet pointing at the mirrors by digest. The deploy's own refusal (exit 2, nothing
 * run) is in deploy.test.ts. Heavy (plans prod), so it runs in `npm run test:real:deploy`.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { chartImageCatalog } from "../../../modules/constants/chart-images";
import { chartData, chartId, defaultsOf } from "../../charts/support";
import { coalesce } from "../../charts/values";
import { get, idOf, refFromValues } from "../../images/chart-model";
import { fixtureLock, prodMirroredRaw, useFixtureLock } from "../../images/fixtures";
import { planEditedStack, planStack, resources } from "../support/plan";

describe("deploy blockers: the offline plan of prod", function () {
    this.timeout(300000);
    let dir: string;
    before(() => {
        dir = planStack("prod"); // throws unless the CLI exits 0
    });

    it("renders every resource although a deploy would refuse the stack", () => {
        assert.ok(resources("prod").length > 400, "the whole stack is rendered");
        assert.ok(fs.existsSync(path.join(dir, "manifests", "prod-iad.yaml")));
    });

    it("says blocked, not clean, and lists each blocker with its key", () => {
        const report = fs.readFileSync(path.join(dir, "report.md"), "utf8");
        assert.match(report, /\*\*Verdict: blocked\.\*\*/);
        assert.doesNotMatch(report, /\*\*Verdict: clean\.\*\*/);
        const section = report.split("## Deploy blockers")[1]?.split("\n## ")[0] ?? "";
        assert.match(
            section,
            /deploy refused: secure-llm-platform:clusters\[0\]\.tiers\.guardrails\.image\.digest/,
        );
        // Each chart image without a digest, by name; ingress-nginx's own pins are not blockers.
        assert.match(
            section,
            /deploy refused: images\/chart-images\.lock\.json quay\.io\/prometheus\/prometheus:v3\.10\.0: .*--write-lock/,
        );
        assert.match(
            section,
            /deploy refused: images\/chart-images\.lock\.json quay\.io\/calico\/node:v3\.31\.5: .*--write-lock/,
        );
        assert.doesNotMatch(section, /registry\.k8s\.io\/ingress-nginx/);
        assert.doesNotMatch(section, /imageSigning/, "no blanket refusal of the charts");
    });
});

describe("deploy blockers: a prod-like stack with its images built, mirrored and locked plans clean", function () {
    this.timeout(300000);
    let dir: string;
    let lock: ReturnType<typeof useFixtureLock>;
    before(async () => {
        lock = useFixtureLock(); // SLP_CHART_IMAGE_LOCK, inherited by the plan CLI
        const raw = prodMirroredRaw();
        const key = (k: string) => `secure-llm-platform:${k}`;
        const planned = await planEditedStack(
            "prod",
            (config) => {
                config[key("tiers")] = raw.tiers;
                config[key("kubeflow")] = raw.kubeflow;
                config[key("networkPolicy")] = raw.networkPolicy;
            },
            "slp-clean-prod-",
        );
        dir = planned.root;
    });
    after(() => {
        lock.restore();
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it("says clean, with no deploy blocker", () => {
        const report = fs.readFileSync(path.join(dir, "out", "prod", "report.md"), "utf8");
        assert.match(report, /\*\*Verdict: clean\.\*\*/);
        assert.doesNotMatch(report, /deploy refused/);
    });

    it("hands every chart release its images from the cluster's region's mirror, by the lock's digest", () => {
        const resources = JSON.parse(
            fs.readFileSync(path.join(dir, "out", "prod", "resources.json"), "utf8"),
        ) as { type: string; name: string; inputs: any }[];
        const digests = fixtureLock();
        const problems: string[] = [];
        let checked = 0;
        for (const r of resources.filter((x) => x.type === "kubernetes:helm.sh/v3:Release")) {
            const region = /prod-fra/.test(r.name) ? "eu-frankfurt-1" : "us-ashburn-1";
            const data = chartData(chartId(r.inputs.chart, r.inputs.version))!;
            const merged = coalesce(defaultsOf(data), r.inputs.values) as Record<string, any>;
            for (const i of chartImageCatalog.filter(
                (x) => idOf(x.chart) === data.id && x.layout !== "operator" && get(merged, x.path),
            )) {
                checked++;
                const d = i.chartDigest ?? digests[`${i.repository}:${i.tag}`];
                const m = `${region}.ocir.io/prodtenancyns/slp-mirror/${i.repository}`;
                const got = refFromValues(i, merged);
                if (got !== `${m}:${i.tag}@${d}` && got !== `${m}@${d}`)
                    problems.push(`${r.name} ${i.path}: ${got}`);
            }
        }
        assert.ok(checked >= 40, `only ${checked} chart images checked`);
        assert.deepEqual(problems, []);
    });

    it("runs the authored Calico install from the cluster's region's mirror, by the lock's digest", () => {
        const resources = JSON.parse(
            fs.readFileSync(path.join(dir, "out", "prod", "resources.json"), "utf8"),
        ) as { type: string; name: string; inputs: any }[];
        const digests = fixtureLock();
        const images = resources
            .filter(
                (r) =>
                    (r.type === "kubernetes:apps/v1:DaemonSet" ||
                        r.type === "kubernetes:apps/v1:Deployment") &&
                    /^calico-/.test(r.inputs?.metadata?.name ?? ""),
            )
            .flatMap((r) =>
                (r.inputs.spec.template.spec.containers as any[]).map((c) => [r.name, c.image]),
            );
        assert.equal(images.length, 4, JSON.stringify(images)); // node + kube-controllers, 2 clusters
        for (const [name, image] of images) {
            const region = /prod-fra/.test(name) ? "eu-frankfurt-1" : "us-ashburn-1";
            const repo = /kube-controllers/.test(image) ? "kube-controllers" : "node";
            assert.equal(
                image,
                `${region}.ocir.io/prodtenancyns/slp-mirror/quay.io/calico/${repo}@${digests[`quay.io/calico/${repo}:v3.31.5`]}`,
                name,
            );
        }
    });
});
