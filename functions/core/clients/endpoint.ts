/**
 * SDK client factories, one module per client, so that a function's bundle loads only the clients it uses
 * (the SDK is external on Lambda: every client module imported is loaded at cold start). On AWS the clients
 * use the defaults; locally the ENV endpoint overrides point them at the emulators. Callers build clients
 * once at module scope.
 */
export type Env = NodeJS.ProcessEnv;

/** An endpoint override from the environment (unset on AWS). */
export const endpointOverride = (env: Env, name: string): string | undefined => env[name] || undefined;
