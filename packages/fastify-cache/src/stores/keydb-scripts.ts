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
   * Writes an entry only if the key's generation is still the one seen before the load started, and
   * gives the generation the entry's lifetime: other fills that read it (started when a slow holder's
   * lock expired) may still land, the newest load last, as without a fence; a delete removes both,
   * and the generation never outlives the entry it fences.
   * KEYS[1] entry, KEYS[2] generation. ARGV[1] value, ARGV[2] ttl ms, ARGV[3] expected generation
   * (never ''). Returns 1 when written, 0 when a delete (or an expiry) removed the generation meanwhile.
   */
  fkSetIfGeneration: `
if redis.call('GET', KEYS[2]) ~= ARGV[3] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 1`,

  /**
   * Deletes an entry and its generation: every fill in flight read a generation that no longer
   * exists, so it loses (a generation is created on read and compared for equality, so a missing one
   * never matches); a fill that starts later reads a new one.
   * KEYS[1] entry, KEYS[2] generation. Returns the number of entries removed (0 or 1).
   */
  fkDelete: `
local removed = redis.call('UNLINK', KEYS[1])
redis.call('UNLINK', KEYS[2])
return removed`,

  /**
   * Takes the fill lock (SET NX PX with a token) and reads the generation in the same round trip.
   * A key without a generation gets one now: a fill then compares against a value that exists, so if
   * the generation key is evicted (allkeys-lru) during the load, the fill is refused (fail safe)
   * instead of mistaking "evicted" for "never deleted".
   * KEYS[1] lock, KEYS[2] generation. ARGV[1] token, ARGV[2] lock ttl ms, ARGV[3] the generation to
   * create (the token: a fill that lost the reply can still remove it), ARGV[4] its ttl ms, ARGV[5]
   * '1' to take nothing if KEYS[3] (the entry) exists. Returns { 1 | 0, generation }, or { 2, '' }
   * when the entry exists (ARGV[5]).
   */
  fkAcquire: `
if ARGV[5] == '1' and redis.call('EXISTS', KEYS[3]) == 1 then return { 2, '' } end
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
   * Ends a fill: compare-and-delete release of its lock (never one another holder took after ours
   * expired), and removal of the generation it read if that is still the current one, so a fill that
   * stored nothing leaves no key behind. With a lock, only while the lock is still ours: once it
   * expired, the fill that took it over may have read the same generation and will store with it.
   * KEYS[1] lock, KEYS[2] generation. ARGV[1] token ('' = no lock taken), ARGV[2] the generation read
   * ('' = none). Returns 1 when the lock was released.
   */
  fkRelease: `
if ARGV[1] ~= '' then
  if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
  redis.call('DEL', KEYS[1])
end
if ARGV[2] ~= '' and redis.call('GET', KEYS[2]) == ARGV[2] then redis.call('UNLINK', KEYS[2]) end
if ARGV[1] ~= '' then return 1 end
return 0`,

  /**
   * Records a variant key in the vary marker of a route key (see VaryMarker in engine/entry.ts): one
   * atomic read-modify-write, so instances filling variants at once never go past the bound.
   * KEYS[1] the marker (the route key's entry key). ARGV[1] header names (comma-separated),
   * ARGV[2] the variant key, ARGV[3] most variants, ARGV[4] ttl ms (kept if the marker lives longer).
   * Returns 1 when recorded (or already there), 0 when the marker is full.
   */
  fkVary: `
local v = redis.call('GET', KEYS[1])
local keys = ''
if v and string.byte(v, 1) == 253 then
  local nl = string.find(v, '\\n', 2, true)
  if nl then keys = string.sub(v, nl + 1) end
  if not string.find('\\n' .. keys, '\\n' .. ARGV[2] .. '\\n', 1, true) then
    local _, count = string.gsub(keys, '\\n', '')
    if count >= tonumber(ARGV[3]) then return 0 end
    keys = keys .. ARGV[2] .. '\\n'
  end
else
  keys = ARGV[2] .. '\\n'
end
local ttl = tonumber(ARGV[4])
local left = redis.call('PTTL', KEYS[1])
if left > ttl then ttl = left end
redis.call('SET', KEYS[1], '\\253' .. ARGV[1] .. '\\n' .. keys, 'PX', ttl)
return 1`,
} as const

export type ScriptName = keyof typeof scripts
