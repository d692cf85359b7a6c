import { and, asc, count, eq, gt, inArray, type SQL } from 'drizzle-orm'
import type { Db } from './client.js'
import { categories, products } from './schema.js'

/**
 * A product as the API shows it: JSON-safe (price a decimal string, updatedAt an ISO string), so a
 * cache that stores it as JSON gives back an identical object.
 */
export interface Product {
  id: number
  sku: string
  name: string
  description: string
  price: string
  currency: string
  categoryId: number
  categorySlug: string
  featured: boolean
  stock: number
  updatedAt: string
}

export interface Category {
  id: number
  slug: string
  name: string
  productCount: number
}

export interface ProductFilter {
  categorySlug?: string | undefined
  featured?: boolean | undefined
  /** Keyset cursor: only ids greater than this. */
  afterId?: number | undefined
  /** Rows to return (callers ask for one more than a page to learn whether another page exists). */
  limit: number
}

const productColumns = {
  id: products.id,
  sku: products.sku,
  name: products.name,
  description: products.description,
  price: products.price,
  currency: products.currency,
  categoryId: products.categoryId,
  categorySlug: categories.slug,
  featured: products.featured,
  stock: products.stock,
  updatedAt: products.updatedAt,
}

type ProductSelection = Omit<Product, 'updatedAt'> & { updatedAt: Date }

function toProduct(row: ProductSelection): Product {
  return { ...row, updatedAt: row.updatedAt.toISOString() }
}

function selectProducts(orm: Db) {
  return orm
    .select(productColumns)
    .from(products)
    .innerJoin(categories, eq(products.categoryId, categories.id))
    .$dynamic()
}

/** One product with its category slug. `lock` takes a row lock (inside a write transaction). */
export async function findProduct(
  orm: Db,
  id: number,
  options: { lock?: boolean } = {},
): Promise<Product | undefined> {
  const query = selectProducts(orm).where(eq(products.id, id))
  const rows = options.lock ? await query.for('update', { of: products }) : await query
  return rows[0] && toProduct(rows[0])
}

/** A page of products and how many match the filter in all (`undefined` on an empty page). */
export interface ProductRows {
  rows: Product[]
  total: number | undefined
}

/**
 * Keyset-ordered products (ascending id), served by the (category_id, id) or (featured, id) index,
 * with the number of products matching the filter (cursor aside) as a scalar subquery: still one
 * statement per request.
 */
export async function listProducts(orm: Db, filter: ProductFilter): Promise<ProductRows> {
  const matching: SQL[] = []
  if (filter.categorySlug !== undefined)
    matching.push(
      inArray(
        products.categoryId,
        orm.select({ id: categories.id }).from(categories).where(eq(categories.slug, filter.categorySlug)),
      ),
    )
  if (filter.featured !== undefined) matching.push(eq(products.featured, filter.featured))
  const conditions = filter.afterId === undefined ? matching : [...matching, gt(products.id, filter.afterId)]
  const rows = await orm
    .select({ ...productColumns, total: orm.$count(products, and(...matching)) })
    .from(products)
    .innerJoin(categories, eq(products.categoryId, categories.id))
    .where(and(...conditions))
    .orderBy(asc(products.id))
    .limit(filter.limit)
  return { rows: rows.map(({ total: _, ...row }) => toProduct(row)), total: rows[0]?.total }
}

export async function findCategory(orm: Db, slug: string): Promise<{ id: number; slug: string } | undefined> {
  const rows = await orm
    .select({ id: categories.id, slug: categories.slug })
    .from(categories)
    .where(eq(categories.slug, slug))
  return rows[0]
}

/** All categories with their product counts (an aggregate over the whole table: a slow-ish origin). */
export function listCategories(orm: Db): Promise<Category[]> {
  return orm
    .select({
      id: categories.id,
      slug: categories.slug,
      name: categories.name,
      productCount: count(products.id),
    })
    .from(categories)
    .leftJoin(products, eq(products.categoryId, categories.id))
    .groupBy(categories.id)
    .orderBy(asc(categories.id))
}
