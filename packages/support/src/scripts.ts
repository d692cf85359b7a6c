/** A Lua script for `defineCommand`: the source, and how many of its arguments are keys (else the caller says). */
export type ScriptSource = string | { lua: string; numberOfKeys: number }

/** What registering scripts needs of a client: ioredis' `Redis` and `Cluster` both have it. */
export interface ScriptHost {
  defineCommand(name: string, definition: { lua: string; numberOfKeys?: number }): void
}

/**
 * Registers Lua scripts on a client once (`defineCommand`; ioredis then sends EVALSHA and falls back
 * to EVAL after a server restart). A name the client already has is left alone, so several stores and
 * providers can share one connection.
 */
export function defineScripts(client: ScriptHost, scripts: Readonly<Record<string, ScriptSource>>): void {
  for (const [name, source] of Object.entries(scripts)) {
    if (name in client) continue
    client.defineCommand(name, typeof source === 'string' ? { lua: source } : source)
  }
}
