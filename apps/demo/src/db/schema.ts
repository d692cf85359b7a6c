import { sql } from 'drizzle-orm'
import {
  boolean,
  char,
  check,
  index,
  integer,
  numeric,
  pgTable,
  text,
  timestamp,
  varchar,
} from 'drizzle-orm/pg-core'

// Changing this file? Run `pnpm --filter @fastkey/demo db:generate` and commit the new migration in
// drizzle/: the app applies migrations at start, it never pushes the schema.

export const categories = pgTable('categories', {
  id: integer('id').primaryKey().generatedAlwaysAsIdentity(),
  slug: varchar('slug', { length: 64 }).notNull().unique(),
  name: varchar('name', { length: 120 }).notNull(),
})

export const products = pgTable(
  'products',
  {
    id: integer('id').primaryKey().generatedAlwaysAsIdentity(),
    sku: varchar('sku', { length: 64 }).notNull().unique(),
    name: varchar('name', { length: 200 }).notNull(),
    description: text('description').notNull().default(''),
    // numeric, never float: drizzle hands it over as a string ("19.99") and so does the API.
    price: numeric('price', { precision: 12, scale: 2 }).notNull(),
    currency: char('currency', { length: 3 }).notNull(),
    // restrict: deleting a category that still has products is a mistake, not a cascade.
    categoryId: integer('category_id')
      .notNull()
      .references(() => categories.id, { onDelete: 'restrict' }),
    featured: boolean('featured').notNull().default(false),
    stock: integer('stock').notNull().default(0),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [
    // Keyset pages: `WHERE category_id = $1 AND id > $cursor ORDER BY id LIMIT n` reads one index range.
    index('products_category_id_id_idx').on(t.categoryId, t.id),
    // Same for the featured list and `?featured=true` pages.
    index('products_featured_id_idx').on(t.featured, t.id),
    check('products_price_nonnegative', sql`${t.price} >= 0`),
    check('products_stock_nonnegative', sql`${t.stock} >= 0`),
    check('products_currency_code', sql`${t.currency} ~ '^[A-Z]{3}$'`),
  ],
)

export type CategoryRow = typeof categories.$inferSelect
export type ProductRow = typeof products.$inferSelect
export type NewProductRow = typeof products.$inferInsert
