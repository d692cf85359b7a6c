import { eq, sql } from 'drizzle-orm'
import type { PgUpdateSetSource } from 'drizzle-orm/pg-core'
import { errors } from '../errors.js'
import type { Db } from './client.js'
import { findCategory, findProduct, type Product } from './products.js'
import { products } from './schema.js'

/** Body of `POST /products` (already validated by its JSON schema). */
export interface ProductInput {
  sku: string
  name: string
  description?: string
  /** Decimal string, e.g. "19.99". */
  price: string
  /** ISO 4217, 3 uppercase letters. */
  currency: string
  categorySlug: string
  featured?: boolean
  stock?: number
}

/** Body of `PATCH /products/:id`: any non-empty subset of the input. */
export type ProductPatch = Partial<ProductInput>

const UNIQUE_VIOLATION = '23505'
const SKU_CONSTRAINT = 'products_sku_unique'

/** Drizzle wraps driver errors (DrizzleQueryError); postgres.js and PGlite name the constraint differently. */
function isDuplicateSku(error: unknown): boolean {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    const fields = e as Error & { code?: unknown; constraint_name?: unknown; constraint?: unknown }
    if (fields.code === UNIQUE_VIOLATION) {
      return (fields.constraint_name ?? fields.constraint) === SKU_CONSTRAINT
    }
  }
  return false
}

async function withDuplicateSkuAs409<T>(sku: string | undefined, write: () => Promise<T>): Promise<T> {
  try {
    return await write()
  } catch (error) {
    if (isDuplicateSku(error)) throw errors.conflict('sku', `sku "${sku}" already exists`)
    throw error
  }
}

async function categoryIdOf(tx: Db, slug: string): Promise<number> {
  const category = await findCategory(tx, slug)
  if (!category) throw errors.badRequest('categorySlug', `categorySlug "${slug}" is not a known category`)
  return category.id
}

/** The columns a patch sets: the keys the client sent, except categorySlug (resolved to an id). */
function columnsOf(patch: ProductPatch): PgUpdateSetSource<typeof products> {
  const { categorySlug: _slug, ...columns } = patch
  return columns
}

/**
 * Each write is one transaction: the category lookup, the write and the re-read of the row (with
 * its category slug, exactly as GET returns it) commit together or not at all.
 */
export function createProduct(orm: Db, input: ProductInput): Promise<{ before: null; after: Product }> {
  return withDuplicateSkuAs409(input.sku, () =>
    orm.transaction(async (tx) => {
      const categoryId = await categoryIdOf(tx, input.categorySlug)
      const [row] = await tx
        .insert(products)
        .values({
          sku: input.sku,
          name: input.name,
          description: input.description ?? '',
          price: input.price,
          currency: input.currency,
          categoryId,
          featured: input.featured ?? false,
          stock: input.stock ?? 0,
        })
        .returning({ id: products.id })
      const after = await findProduct(tx, row!.id)
      return { before: null, after: after! }
    }),
  )
}

/** Undefined when the product does not exist. */
export function updateProduct(
  orm: Db,
  id: number,
  patch: ProductPatch,
): Promise<{ before: Product; after: Product } | undefined> {
  return withDuplicateSkuAs409(patch.sku, () =>
    orm.transaction(async (tx) => {
      // The row lock makes `before` the state this update replaces, even with concurrent writers.
      const before = await findProduct(tx, id, { lock: true })
      if (!before) return undefined
      const set: PgUpdateSetSource<typeof products> = { ...columnsOf(patch), updatedAt: sql`now()` }
      if (patch.categorySlug !== undefined && patch.categorySlug !== before.categorySlug) {
        set.categoryId = await categoryIdOf(tx, patch.categorySlug)
      }
      await tx.update(products).set(set).where(eq(products.id, id))
      const after = await findProduct(tx, id)
      return { before, after: after! }
    }),
  )
}

/** Undefined when the product does not exist. */
export function deleteProduct(orm: Db, id: number): Promise<{ before: Product; after: null } | undefined> {
  return orm.transaction(async (tx) => {
    const before = await findProduct(tx, id, { lock: true })
    if (!before) return undefined
    await tx.delete(products).where(eq(products.id, id))
    return { before, after: null }
  })
}
