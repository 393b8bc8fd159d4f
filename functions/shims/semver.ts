/**
 * Stands in for the `semver` package in the Lambda bundles (an esbuild alias, lib/house-function.ts). The
 * X-Ray SDK under Powertools Tracer asks semver one question, `gte`: cls-hooked, whether Node is at least
 * 8, when it loads (and the SDK v2 patcher, which we never call). The package itself, in the two copies the
 * SDK pulls (5.x and 7.x), costs 28 KB of a function's 300 KB budget.
 *
 * `gte` as semver defines it for `major.minor.patch[-prerelease]` versions (a leading `v` and build
 * metadata are ignored; a prerelease sorts before its release, prereleases compare as strings).
 */
function parse(version: string): { core: number[]; pre?: string } {
  const m = /^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/.exec(String(version).trim());
  if (!m) throw new TypeError(`Invalid Version: ${version}`);
  return { core: [Number(m[1]), Number(m[2]), Number(m[3])], pre: m[4] };
}

export function gte(version: string, minimum: string): boolean {
  const a = parse(version);
  const b = parse(minimum);
  for (let i = 0; i < 3; i++) if (a.core[i] !== b.core[i]) return a.core[i]! > b.core[i]!;
  if (a.pre === undefined || b.pre === undefined) return a.pre === undefined;
  return a.pre >= b.pre;
}
