/**
 * The ECS task this recorder runs in, from the task metadata endpoint (v4) that Fargate announces in
 * ECS_CONTAINER_METADATA_URI_V4. It only labels log lines, so any failure (no variable in local mode, a
 * slow or odd answer) gives undefined instead of delaying or failing the recording.
 */
export async function ecsTaskId(
  env: NodeJS.ProcessEnv = process.env,
  deps: { fetch?: typeof fetch; timeoutMs?: number } = {},
): Promise<string | undefined> {
  const base = env.ECS_CONTAINER_METADATA_URI_V4;
  if (!base) return undefined;
  try {
    const res = await (deps.fetch ?? fetch)(`${base}/task`, { signal: AbortSignal.timeout(deps.timeoutMs ?? 1000) });
    if (!res.ok) return undefined;
    const { TaskARN } = (await res.json()) as { TaskARN?: unknown };
    // arn:aws:ecs:<region>:<account>:task/<cluster>/<task id>: the id is also the awslogs stream's last part.
    return typeof TaskARN === 'string' && TaskARN.includes('/') ? TaskARN.slice(TaskARN.lastIndexOf('/') + 1) || undefined : undefined;
  } catch {
    return undefined;
  }
}
