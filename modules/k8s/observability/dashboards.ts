/** Grafana dashboards kept as JSON in `dashboards/`, provisioned through the Grafana sidecar. */
import * as fs from "fs";
import * as path from "path";

/** The repository's dashboards folder. */
export const dashboardsDir = path.resolve(__dirname, "..", "..", "..", "dashboards");

/** One dashboard file. */
export interface DashboardFile {
    /** File name without `.json`; also the ConfigMap suffix. */
    readonly id: string;
    readonly json: string;
}

/** Every `dashboards/*.json`, sorted by name; throws on a file that is not valid JSON. */
export function loadDashboards(dir = dashboardsDir): DashboardFile[] {
    return fs
        .readdirSync(dir)
        .filter((f) => f.endsWith(".json"))
        .sort()
        .map((f) => {
            const json = fs.readFileSync(path.join(dir, f), "utf8");
            try {
                JSON.parse(json);
            } catch (e) {
                throw new Error(
                    `dashboard ${path.join(dir, f)} is not valid JSON (${(e as Error).message}); fix the file`,
                );
            }
            return { id: f.replace(/\.json$/, ""), json };
        });
}

interface Panel {
    readonly title?: string;
    readonly targets?: readonly { readonly expr?: string }[];
    readonly panels?: readonly Panel[];
}

/** Every PromQL expression of a dashboard's panels (rows included). */
export function panelQueries(dashboard: {
    panels?: readonly Panel[];
}): { panel: string; expr: string }[] {
    const out: { panel: string; expr: string }[] = [];
    const walk = (panels: readonly Panel[] | undefined): void => {
        for (const p of panels ?? []) {
            for (const t of p.targets ?? []) {
                if (typeof t.expr === "string") {
                    out.push({ panel: p.title ?? "(untitled)", expr: t.expr });
                }
            }
            walk(p.panels);
        }
    };
    walk(dashboard.panels);
    return out;
}
