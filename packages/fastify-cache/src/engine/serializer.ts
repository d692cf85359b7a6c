/** Turns values into bytes for the store and back. Must be symmetric. */
export interface Serializer {
  /** Stable name, stored nowhere but useful in logs. */
  readonly name: string
  serialize(value: unknown): Buffer
  deserialize(bytes: Buffer): unknown
}

/**
 * The key that marks a value JSON cannot carry as it is (a Date, a Buffer). It starts with U+0000, so
 * no ordinary object key looks like it; an object that has it anyway is refused (not cached).
 */
const TYPE_KEY = '\u0000fk'
/** How TYPE_KEY appears in JSON text: JSON.stringify escapes U+0000. */
const TYPE_KEY_JSON = Buffer.from(JSON.stringify(TYPE_KEY).slice(1, -1))

function replacer(this: Record<string, unknown>, key: string, value: unknown): unknown {
  // `this[key]` is the value before its toJSON(): a Date or a Buffer as it is.
  const raw = this[key]
  if (raw instanceof Date)
    return { [TYPE_KEY]: 'date', v: Number.isNaN(raw.getTime()) ? null : raw.toISOString() }
  if (Buffer.isBuffer(raw)) return { [TYPE_KEY]: 'buffer', v: raw.toString('base64') }
  if (value !== null && typeof value === 'object' && Object.hasOwn(value, TYPE_KEY))
    throw new TypeError(`an object with the key ${JSON.stringify(TYPE_KEY)} cannot be cached`)
  return value
}

function reviver(_key: string, value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value
  const typed = value as { [TYPE_KEY]?: unknown; v?: unknown }
  if (typed[TYPE_KEY] === 'date') return new Date(typed.v === null ? Number.NaN : String(typed.v))
  if (typed[TYPE_KEY] === 'buffer') return Buffer.from(String(typed.v), 'base64')
  return value
}

/**
 * JSON, the default for service calls. What a hit returns is what the miss returned for every value
 * JSON carries (objects, arrays, strings, finite numbers, booleans, null), and for Date and Buffer
 * too, at any depth. As in JSON: `undefined` object members and functions are dropped, NaN and
 * Infinity become null, Map/Set/class instances come back as plain objects, BigInt is refused (such a
 * value is returned to the caller and not cached, counted as a `serialize` skip).
 */
export const jsonSerializer: Serializer = {
  name: 'json',
  serialize(value) {
    const text = JSON.stringify(value, replacer)
    // JSON.stringify returns undefined for functions and symbols: nothing storable.
    if (text === undefined) throw new TypeError('value is not JSON-serializable')
    return Buffer.from(text)
  },
  deserialize(bytes) {
    const text = bytes.toString('utf8')
    // Most values hold no Date or Buffer: parse them without a reviver, which costs a call per value.
    return bytes.includes(TYPE_KEY_JSON) ? JSON.parse(text, reviver) : JSON.parse(text)
  },
}
