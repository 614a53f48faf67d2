/** Exit codes of the offline plan (docs/ARCHITECTURE.md). */
export const exitCodes = { clean: 0, violation: 1, configOrUsage: 2 } as const;
