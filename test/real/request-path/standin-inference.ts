/**
 * Stand-in for the inference tier (vLLM's OpenAI-compatible server), the one part of the request
 * path that cannot run here (no GPU, no model weights). It speaks the subset of vLLM's API the
 * guardrails use — `POST /v1/chat/completions` (JSON and SSE streaming), `GET /v1/models`,
 * `GET /health`, `GET /metrics` — records every request that reaches it, and can be told to answer
 * with PII, with an error, or slowly. It judges nothing: the self-check prompts of the rails are
 * answered "No" (do not block) unless a test says otherwise, so a block comes from a rail.
 */
import * as http from "http";
import type { AddressInfo } from "net";

/** What the stand-in answers to generation prompts (self-check prompts are always answered "No"). */
export type StandinMode =
    | { readonly kind: "answer"; readonly text: string }
    | { readonly kind: "error"; readonly status: number }
    | { readonly kind: "slow"; readonly text: string; readonly delayMs: number };

/** One request body as it reached the stand-in. */
export interface RecordedRequest {
    readonly path: string;
    readonly headers: http.IncomingHttpHeaders;
    readonly body: {
        model?: string;
        stream?: boolean;
        messages?: { role: string; content: string }[];
        [k: string]: unknown;
    };
}

/** A running stand-in. */
export interface StandinInference {
    readonly port: number;
    readonly requests: RecordedRequest[];
    mode: StandinMode;
    /** The answer to the rails' self-check prompts ("Yes" = block). Defaults to "No". */
    selfCheckAnswer: "Yes" | "No";
    /** Prompts of generation requests (not self-checks), newest last. */
    generationPrompts(): string[];
    metricsText(): string;
    close(): Promise<void>;
}

/** Whether a prompt is one of the rails' self-check prompts (prompts.yml of the rails). */
export function isSelfCheckPrompt(text: string): boolean {
    return /Should the (user message|message) be blocked \(Yes or No\)\?/.test(text);
}

const flatten = (messages: RecordedRequest["body"]["messages"]): string =>
    (messages ?? []).map((m) => (typeof m.content === "string" ? m.content : "")).join("\n");

/** Starts the stand-in on 127.0.0.1 serving model `modelName`. */
export async function startStandinInference(modelName: string): Promise<StandinInference> {
    const requests: RecordedRequest[] = [];
    const counters = { ok: 0, error: 0 };
    let seq = 0;
    const state: StandinInference = {
        port: 0,
        requests,
        mode: { kind: "answer", text: "Kubernetes schedules pods onto nodes." },
        selfCheckAnswer: "No",
        generationPrompts: () =>
            requests
                .filter((r) => r.path === "/v1/chat/completions")
                .map((r) => flatten(r.body.messages))
                .filter((t) => !isSelfCheckPrompt(t)),
        metricsText: () =>
            [
                "# HELP vllm:request_success_total Count of successfully processed requests.",
                "# TYPE vllm:request_success_total counter",
                `vllm:request_success_total{finished_reason="stop",model_name="${modelName}"} ${counters.ok}`,
                "# HELP vllm:num_requests_running Number of requests currently running.",
                "# TYPE vllm:num_requests_running gauge",
                `vllm:num_requests_running{model_name="${modelName}"} 0`,
                "",
            ].join("\n"),
        close: () =>
            new Promise((resolve) => {
                server.closeAllConnections();
                server.close(() => resolve());
            }),
    };
    const json = (res: http.ServerResponse, status: number, body: unknown) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(body));
    };
    const vllmError = (res: http.ServerResponse, status: number, message: string) =>
        json(res, status, {
            object: "error",
            message,
            type: status === 404 ? "NotFoundError" : "BadRequestError",
            param: null,
            code: status,
        });

    const server = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
            const path = (req.url ?? "/").split("?")[0];
            if (req.method === "GET" && path === "/health") {
                res.writeHead(200);
                res.end();
                return;
            }
            if (req.method === "GET" && path === "/metrics") {
                res.writeHead(200, { "content-type": "text/plain; version=0.0.4" });
                res.end(state.metricsText());
                return;
            }
            if (req.method === "GET" && path === "/v1/models") {
                json(res, 200, {
                    object: "list",
                    data: [{ id: modelName, object: "model", owned_by: "vllm", root: modelName }],
                });
                return;
            }
            if (req.method !== "POST" || path !== "/v1/chat/completions") {
                json(res, 404, { detail: "Not Found" });
                return;
            }
            let body: RecordedRequest["body"];
            try {
                body = JSON.parse(
                    Buffer.concat(chunks).toString("utf8"),
                ) as RecordedRequest["body"];
            } catch {
                vllmError(res, 400, "request body is not JSON");
                return;
            }
            requests.push({ path, headers: req.headers, body });
            if (body.model !== modelName) {
                vllmError(res, 404, `The model \`${String(body.model)}\` does not exist.`);
                return;
            }
            const prompt = flatten(body.messages);
            const mode = state.mode;
            let text: string;
            if (isSelfCheckPrompt(prompt)) {
                text = state.selfCheckAnswer;
            } else if (mode.kind === "error") {
                counters.error++;
                vllmError(res, mode.status, "stand-in told to fail");
                return;
            } else {
                text = mode.text;
            }
            const delay = mode.kind === "slow" && !isSelfCheckPrompt(prompt) ? mode.delayMs : 0;
            setTimeout(() => {
                counters.ok++;
                const id = `chatcmpl-standin-${++seq}`;
                const created = Math.floor(Date.now() / 1000);
                if (body.stream) {
                    res.writeHead(200, { "content-type": "text/event-stream" });
                    const send = (delta: Record<string, unknown>, finish: string | null) =>
                        res.write(
                            `data: ${JSON.stringify({
                                id,
                                object: "chat.completion.chunk",
                                created,
                                model: modelName,
                                choices: [{ index: 0, delta, finish_reason: finish }],
                            })}\n\n`,
                        );
                    send({ role: "assistant", content: "" }, null);
                    // Word-sized chunks, as a tokenizer would split them.
                    for (const piece of text.match(/\S+\s*/g) ?? []) {
                        send({ content: piece }, null);
                    }
                    send({}, "stop");
                    res.end("data: [DONE]\n\n");
                    return;
                }
                json(res, 200, {
                    id,
                    object: "chat.completion",
                    created,
                    model: modelName,
                    choices: [
                        {
                            index: 0,
                            message: { role: "assistant", content: text },
                            finish_reason: "stop",
                        },
                    ],
                    usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
                });
            }, delay);
        });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    (state as { port: number }).port = (server.address() as AddressInfo).port;
    return state;
}
