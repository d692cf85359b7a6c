import { sql } from 'drizzle-orm'
import type { Db } from './client.js'
import { categories, type NewProductRow, products } from './schema.js'

/** Products generated when `SEED_PRODUCTS` is unset. */
export const DEFAULT_SEED_PRODUCTS = 10_000
/** Rows per INSERT: 1,000 rows x 9 columns stays far below Postgres' 65,535 bind parameters. */
const BATCH_ROWS = 1_000
const PRNG_SEED = 0x5eed_f00d

const CATEGORY_NAMES = [
  'Audio',
  'Books',
  'Cameras',
  'Clothing',
  'Computers',
  'Garden',
  'Groceries',
  'Health',
  'Home',
  'Jewelry',
  'Kitchen',
  'Lighting',
  'Music',
  'Office',
  'Outdoor',
  'Pets',
  'Shoes',
  'Sports',
  'Toys',
  'Video Games',
] as const
const ADJECTIVES = [
  'Compact',
  'Classic',
  'Deluxe',
  'Eco',
  'Pro',
  'Smart',
  'Vintage',
  'Ultra',
  'Mini',
  'Rugged',
]
const MATERIALS = [
  'bamboo',
  'steel',
  'cotton',
  'oak',
  'glass',
  'leather',
  'ceramic',
  'carbon',
  'wool',
  'copper',
]
const NOUNS = [
  'Lamp',
  'Speaker',
  'Kettle',
  'Backpack',
  'Notebook',
  'Chair',
  'Watch',
  'Mug',
  'Jacket',
  'Drone',
]

export interface SeedOptions {
  /** Number of products to generate. @default 10000 */
  products?: number
}

export interface SeedResult {
  seeded: boolean
  categories: number
  products: number
}

/** mulberry32: tiny, fast, and the same sequence on every machine for the same seed. */
function prng(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function slugify(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]+/g, '-')
}

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)] as T
}

function formatCents(cents: number): string {
  return `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`
}

/** The seed categories, in insertion order (so ids 1..20 on a fresh database). */
export function seedCategories(): { slug: string; name: string }[] {
  return CATEGORY_NAMES.map((name) => ({ slug: slugify(name), name }))
}

/**
 * Generates product `n` of the deterministic catalogue. Rows depend only on their position, never
 * on batch size or database, so two seeds give the same catalogue.
 */
export function* generateProducts(count: number, categoryIds: readonly number[]): Generator<NewProductRow> {
  const random = prng(PRNG_SEED)
  for (let n = 1; n <= count; n++) {
    const adjective = pick(random, ADJECTIVES)
    const material = pick(random, MATERIALS)
    const noun = pick(random, NOUNS)
    const currencyRoll = random()
    yield {
      sku: `SKU-${String(n).padStart(6, '0')}`,
      name: `${adjective} ${material} ${noun}`,
      description: `${/^[AEIOU]/.test(adjective) ? 'An' : 'A'} ${adjective.toLowerCase()} ${noun.toLowerCase()} made of ${material}.`,
      price: formatCents(199 + Math.floor(random() * 99_800)),
      currency: currencyRoll < 0.6 ? 'EUR' : currencyRoll < 0.9 ? 'USD' : 'GBP',
      categoryId: pick(random, categoryIds),
      featured: random() < 0.05,
      stock: Math.floor(random() * 501),
    }
  }
}

async function insertCatalogue(tx: Db, productCount: number): Promise<SeedResult> {
  const inserted = await tx
    .insert(categories)
    .values(seedCategories())
    .returning({ id: categories.id, slug: categories.slug })
  const categoryIds = inserted.map((row) => row.id)
  let batch: NewProductRow[] = []
  for (const row of generateProducts(productCount, categoryIds)) {
    batch.push(row)
    if (batch.length === BATCH_ROWS) {
      await tx.insert(products).values(batch)
      batch = []
    }
  }
  if (batch.length > 0) await tx.insert(products).values(batch)
  return { seeded: true, categories: categoryIds.length, products: productCount }
}

function productCount(options: SeedOptions): number {
  return options.products ?? DEFAULT_SEED_PRODUCTS
}

/** Seeds only when the catalogue has no category yet (first start). Call after migrating. */
export async function seedIfEmpty(orm: Db, options: SeedOptions = {}): Promise<SeedResult> {
  const existing = await orm.select({ id: categories.id }).from(categories).limit(1)
  if (existing.length > 0) return { seeded: false, categories: 0, products: 0 }
  return orm.transaction((tx) => insertCatalogue(tx, productCount(options)))
}

/** Empties both tables (ids restart at 1) and seeds again, in one transaction. */
export function reseed(orm: Db, options: SeedOptions = {}): Promise<SeedResult> {
  return orm.transaction(async (tx) => {
    await tx.execute(sql`truncate table ${products}, ${categories} restart identity`)
    return insertCatalogue(tx, productCount(options))
  })
}
