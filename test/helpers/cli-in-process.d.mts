/** test/helpers/cli-in-process.mjs: partkit's command line in this process, its output captured per run. */
export function runCliInProcess(
  args: readonly string[],
  options?: { readonly env?: Record<string, string>; readonly signal?: AbortSignal },
): Promise<{ exitCode: number; stdout: string; stderr: string }>;
