/** Turns values into bytes for the store and back. Must be symmetric. */
export interface Serializer {
  /** Stable name, stored nowhere but useful in logs. */
  readonly name: string
  serialize(value: unknown): Buffer
  deserialize(bytes: Buffer): unknown
}

/** JSON, the default. `undefined` cannot be represented and is refused by the engine beforehand. */
export const jsonSerializer: Serializer = {
  name: 'json',
  serialize(value) {
    const text = JSON.stringify(value)
    // JSON.stringify returns undefined for functions and symbols: nothing storable.
    if (text === undefined) throw new TypeError('value is not JSON-serializable')
    return Buffer.from(text)
  },
  deserialize(bytes) {
    return JSON.parse(bytes.toString('utf8'))
  },
}
