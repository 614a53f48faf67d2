/** Child process entry: plans one stack and reports the result to the parent. */
import { planStack } from "./run-stack";

const [projectDir, stack, outRoot, configDir] = process.argv.slice(2);

planStack(projectDir, stack, outRoot, configDir || undefined, (step) =>
    process.send?.({ progress: step }),
).then(
    (result) => {
        process.send?.(result);
        process.exitCode = result.exitCode;
    },
    (e: unknown) => {
        process.send?.({
            stack,
            exitCode: 1,
            problems: [`plan crashed: ${e instanceof Error ? e.stack : String(e)}`],
            resourceCount: 0,
            seconds: 0,
        });
        process.exitCode = 1;
    },
);
