/**
 * Lua scripts of the KeyDB/Redis backend, registered once per client with `defineCommand`. KEYS are
 * version keys: pairs `<ns>:t:{<tag>}` (hard) and `<ns>:t:{<tag>}:s` (soft). On a cluster each call
 * carries the keys of one tag (one hash slot); on a single server one call may carry many tags.
 * Only Redis 6.2 commands are used (KeyDB). `redis.replicate_commands()` makes the writes that follow
 * `TIME` replicate as effects (the default since Redis 5, a no-op on 7).
 */
export const scripts = {
  /**
   * Versions for a fill. KEYS: version keys. ARGV[1] random suffix, ARGV[2] ttl ms.
   * Creates missing versions (`c<now µs>.<random>`), renews a ttl when less than half of it remains.
   * Returns { version of KEYS[1], version of KEYS[2], ..., server time µs }.
   */
  fktagCapture: `
redis.replicate_commands()
local t = redis.call('TIME')
local now = t[1] .. string.format('%06d', tonumber(t[2]))
local ttl = tonumber(ARGV[2])
local out = {}
for i = 1, #KEYS do
  local v = redis.call('GET', KEYS[i])
  if not v then
    v = 'c' .. now .. '.' .. ARGV[1]
    redis.call('SET', KEYS[i], v, 'PX', ttl)
  elseif redis.call('PTTL', KEYS[i]) < ttl / 2 then
    redis.call('PEXPIRE', KEYS[i], ttl)
  end
  out[i] = v
end
out[#KEYS + 1] = now
return out`,

  /**
   * Invalidation: one SET per key, nothing read. KEYS: the hard (or the soft) version key of each tag.
   * ARGV[1] random suffix, ARGV[2] ttl ms. Returns the new version (`i<now µs>.<random>`).
   */
  fktagInvalidate: `
redis.replicate_commands()
local t = redis.call('TIME')
local v = 'i' .. t[1] .. string.format('%06d', tonumber(t[2])) .. '.' .. ARGV[1]
for i = 1, #KEYS do
  redis.call('SET', KEYS[i], v, 'PX', ARGV[2])
end
return v`,
} as const

export type TagScriptName = keyof typeof scripts

/**
 * KeyDB only (behind server detection, never sent to Redis): the member index of a tag.
 */
export const indexScripts = {
  /**
   * Records the entry key in the tag's index set; the member expires with the entry (KeyDB
   * `EXPIREMEMBER ... ms`), the set lives as long as the tag's versions. KEYS[1] index set.
   * ARGV[1] entry key, ARGV[2] entry ttl ms, ARGV[3] set ttl ms.
   */
  fktagIndex: {
    numberOfKeys: 1,
    lua: `
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('EXPIREMEMBER', KEYS[1], ARGV[1], ARGV[2], 'ms')
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[3]) / 2 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return 1`,
  },
} as const
