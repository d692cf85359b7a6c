/**
 * Every Lua script the KeyDB store runs, registered once per client with `defineCommand`.
 * Each touches only keys of one hash slot (entry, lock and generation of a key share the hash tag
 * `{<key>}`), so all of them work on Redis Cluster. Only Redis 6.2 commands are used (KeyDB).
 */
export const scripts = {
  /**
   * Reads many entries with their remaining TTL in one round trip.
   * KEYS: entry keys (one slot). ARGV: none.
   * Returns a flat array: value1, pttl1, value2, pttl2, ... (nil value = miss).
   */
  fkRead: `
local out = {}
for i = 1, #KEYS do
  -- pcall: a foreign key of another type (WRONGTYPE) is a miss for it alone, not for the whole batch.
  local value = redis.pcall('GET', KEYS[i])
  if type(value) == 'table' and value.err then value = false end
  out[2 * i - 1] = value
  out[2 * i] = redis.call('PTTL', KEYS[i])
end
return out`,

  /**
   * Writes an entry only if the key's generation is still the one seen before the load started.
   * KEYS[1] entry, KEYS[2] generation. ARGV[1] value, ARGV[2] ttl ms, ARGV[3] expected generation
   * ('' = never deleted). Returns 1 when written, 0 when a delete happened meanwhile.
   */
  fkSetIfGeneration: `
local current = redis.call('GET', KEYS[2]) or ''
if current ~= ARGV[3] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`,

  /**
   * Deletes an entry and gives the key a new generation so that fills in flight lose.
   * KEYS[1] entry, KEYS[2] generation. ARGV[1] new generation (unique), ARGV[2] its ttl ms.
   * Returns the number of entries removed (0 or 1).
   */
  fkDelete: `
local removed = redis.call('UNLINK', KEYS[1])
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
return removed`,

  /**
   * Takes the fill lock (SET NX PX with a token) and reads the generation in the same round trip.
   * A key without a generation gets one now: a fill then compares against a value that exists, so if
   * the generation key is evicted (allkeys-lru) during the load, the fill is refused (fail safe)
   * instead of mistaking "evicted" for "never deleted".
   * KEYS[1] lock, KEYS[2] generation. ARGV[1] token, ARGV[2] lock ttl ms, ARGV[3] a fresh generation,
   * ARGV[4] its ttl ms. Returns { 1 | 0, generation }.
   */
  fkAcquire: `
local ok = redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2])
local generation = redis.call('GET', KEYS[2])
if not generation then
  generation = ARGV[3]
  redis.call('SET', KEYS[2], generation, 'PX', ARGV[4])
end
return { ok and 1 or 0, generation }`,

  /**
   * Reads the generation of a key, creating one if it has none (see fkAcquire for why).
   * KEYS[1] generation. ARGV[1] a fresh generation, ARGV[2] its ttl ms. Returns the generation.
   */
  fkGeneration: `
local generation = redis.call('GET', KEYS[1])
if generation then return generation end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return ARGV[1]`,

  /**
   * Compare-and-delete release: never removes a lock another holder took after ours expired.
   * KEYS[1] lock. ARGV[1] token. Returns 1 when released.
   */
  fkRelease: `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`,
} as const

export type ScriptName = keyof typeof scripts
