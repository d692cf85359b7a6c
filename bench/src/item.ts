/** The payload every HTTP scenario serves: a product of about 1 KB of JSON, the same in every mode. */
export interface Item {
  id: number
  sku: string
  name: string
  description: string
  price: string
  currency: string
  category: { id: number; slug: string; name: string }
  tags: string[]
  stock: number
  featured: boolean
  updatedAt: string
}

/** Distinct paths the load generator cycles through by default (`/item/1` … `/item/KEYS`). */
export const KEYS = 100

/** The largest key count of the default sweep: every server can answer ids 1..MAX_KEYS. */
export const MAX_KEYS = 10_000

/** The five extra response headers of the `*-headers` modes (stored with the entry, replayed on a hit). */
export const EXTRA_HEADERS: ReadonlyArray<readonly [string, string]> = [
  // A lifetime longer than any run: a full run must not see the entries expire.
  ['cache-control', 'public, max-age=7200'],
  ['x-product-version', '2025-01-01T00:00:00.000Z'],
  ['x-served-by', 'bench-catalog'],
  ['content-language', 'en'],
  ['link', '</item/1/reviews>; rel="related"'],
]

const WORDS =
  'sturdy compact quiet efficient durable elegant portable modular precise reliable versatile lightweight'.split(
    ' ',
  )

/** Deterministic: every process builds byte-identical items. */
export function makeItem(id: number): Item {
  const words: string[] = []
  for (let i = 0; words.join(' ').length < 700; i++) words.push(WORDS[(id * 7 + i * 3) % WORDS.length]!)
  return {
    id,
    sku: `SKU-${String(id).padStart(6, '0')}`,
    name: `Product ${id}: ${words.slice(0, 3).join(' ')} widget`,
    description: words.join(' '),
    price: `${(id % 90) + 9}.99`,
    currency: 'EUR',
    category: { id: (id % 20) + 1, slug: `category-${(id % 20) + 1}`, name: `Category ${(id % 20) + 1}` },
    tags: ['bench', `c${id % 20}`, `p${id}`],
    stock: (id * 37) % 500,
    featured: id % 10 === 0,
    updatedAt: '2025-01-01T00:00:00.000Z',
  }
}

/** Pre-serialized bodies (the floor returns these). */
export function itemBodies(count = KEYS): string[] {
  const bodies = ['']
  for (let id = 1; id <= count; id++) bodies.push(JSON.stringify(makeItem(id)))
  return bodies
}
