import { MAX_TIMER_MS } from '@fastkey/support'
import type { EntryWindows } from '../engine/freshness.js'

/** What a response's own `cache-control` says about storing it in this (shared) cache. */
export interface ResponseDirectives {
  /** `no-store`, `private`, `no-cache` or a zero lifetime: the response is served, never stored. */
  storable: boolean
  /** Windows the response sets (`s-maxage` or else `max-age`, RFC 5861 extensions), ms. */
  windows: EntryWindows | undefined
}

const NOT_STORED: ResponseDirectives = Object.freeze({ storable: false, windows: undefined })
const NO_DIRECTIVES: ResponseDirectives = Object.freeze({ storable: true, windows: undefined })

/** `name=value` pairs of a cache-control value; quoted values unquoted, names lower-cased. */
function parse(value: string): Map<string, string> {
  const directives = new Map<string, string>()
  for (const part of value.split(',')) {
    const eq = part.indexOf('=')
    const name = (eq < 0 ? part : part.slice(0, eq)).trim().toLowerCase()
    if (name === '') continue
    const raw = eq < 0 ? '' : part.slice(eq + 1).trim()
    directives.set(name, raw.startsWith('"') && raw.endsWith('"') ? raw.slice(1, -1) : raw)
  }
  return directives
}

/** Whole seconds of a delta-seconds value as ms (RFC 9111 1.2.2), or undefined when not one. */
function seconds(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d+$/.test(value)) return undefined
  return Math.min(Number(value) * 1000, MAX_TIMER_MS)
}

/**
 * Reads the `cache-control` a handler set, as a shared cache does (RFC 9111 5.2.2, RFC 5861):
 * `no-store`, `private` and `no-cache` keep it out of the cache; `s-maxage`, or else `max-age`, sets
 * its fresh time (capped by `maxFreshMs`; 0 means it is never fresh, so it is not stored);
 * `stale-while-revalidate` and `stale-if-error` set those windows; `must-revalidate` and
 * `proxy-revalidate` forbid serving it stale.
 */
export function directivesOf(value: unknown, maxFreshMs: number): ResponseDirectives {
  if (value === undefined) return NO_DIRECTIVES
  const d = parse(Array.isArray(value) ? value.join(',') : String(value))
  if (d.has('no-store') || d.has('private') || d.has('no-cache')) return NOT_STORED
  const maxAge = seconds(d.get('s-maxage')) ?? seconds(d.get('max-age'))
  if (maxAge === 0) return NOT_STORED
  const revalidate = d.has('must-revalidate') || d.has('proxy-revalidate')
  const windows: EntryWindows = {
    freshMs: maxAge === undefined ? undefined : Math.min(maxAge, maxFreshMs),
    staleMs: revalidate ? 0 : seconds(d.get('stale-while-revalidate')),
    graceMs: revalidate ? 0 : seconds(d.get('stale-if-error')),
  }
  const any = windows.freshMs !== undefined || windows.staleMs !== undefined || windows.graceMs !== undefined
  return any ? { storable: true, windows } : NO_DIRECTIVES
}
