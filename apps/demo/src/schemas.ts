// JSON schemas shared by the routes. Request schemas reject unknown properties (400 naming them);
// response schemas let fast-json-stringify serialize without reflection.

export const MAX_PAGE_LIMIT = 100
export const DEFAULT_PAGE_LIMIT = 20
export const PRICE_PATTERN = '^\\d{1,10}(\\.\\d{1,2})?$'
export const CURRENCY_PATTERN = '^[A-Z]{3}$'
export const SKU_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]*$'
const INT32_MAX = 2_147_483_647

export const errorSchema = {
  type: 'object',
  required: ['statusCode', 'error', 'message'],
  properties: {
    statusCode: { type: 'integer' },
    code: { type: 'string' },
    error: { type: 'string' },
    message: { type: 'string' },
    field: { type: 'string' },
  },
} as const

/** 4xx/5xx bodies of every route. */
export const errorResponses = { '4xx': errorSchema, '5xx': errorSchema } as const

export const productSchema = {
  type: 'object',
  required: [
    'id',
    'sku',
    'name',
    'description',
    'price',
    'currency',
    'categoryId',
    'categorySlug',
    'featured',
    'stock',
    'updatedAt',
  ],
  properties: {
    id: { type: 'integer' },
    sku: { type: 'string' },
    name: { type: 'string' },
    description: { type: 'string' },
    price: { type: 'string', description: 'decimal string, e.g. "19.99"' },
    currency: { type: 'string' },
    categoryId: { type: 'integer' },
    categorySlug: { type: 'string' },
    featured: { type: 'boolean' },
    stock: { type: 'integer' },
    updatedAt: { type: 'string', format: 'date-time' },
  },
} as const

export const productPageSchema = {
  type: 'object',
  required: ['items', 'nextCursor'],
  properties: {
    items: { type: 'array', items: productSchema },
    nextCursor: { type: ['string', 'null'] },
  },
} as const

export const productIdParams = {
  type: 'object',
  required: ['id'],
  additionalProperties: false,
  properties: { id: { type: 'integer', minimum: 1, maximum: INT32_MAX } },
} as const

export const slugParams = {
  type: 'object',
  required: ['slug'],
  additionalProperties: false,
  properties: { slug: { type: 'string', minLength: 1, maxLength: 64 } },
} as const

const limit = { type: 'integer', minimum: 1, maximum: MAX_PAGE_LIMIT, default: DEFAULT_PAGE_LIMIT } as const
const cursor = { type: 'string', pattern: '^[A-Za-z0-9_-]{1,16}$' } as const

export const pageQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { limit, cursor },
} as const

export const productListQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    category: { type: 'string', minLength: 1, maxLength: 64 },
    featured: { type: 'boolean' },
    limit,
    cursor,
  },
} as const

export const emptyQuery = { type: 'object', additionalProperties: false, properties: {} } as const

const productFields = {
  sku: { type: 'string', minLength: 1, maxLength: 64, pattern: SKU_PATTERN },
  name: { type: 'string', minLength: 1, maxLength: 200 },
  description: { type: 'string', maxLength: 5000 },
  price: { type: 'string', pattern: PRICE_PATTERN },
  currency: { type: 'string', pattern: CURRENCY_PATTERN },
  categorySlug: { type: 'string', minLength: 1, maxLength: 64 },
  featured: { type: 'boolean' },
  stock: { type: 'integer', minimum: 0, maximum: INT32_MAX },
} as const

export const createProductBody = {
  type: 'object',
  additionalProperties: false,
  required: ['sku', 'name', 'price', 'currency', 'categorySlug'],
  properties: productFields,
} as const

export const updateProductBody = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: productFields,
} as const

/** Human wording for pattern errors, where ajv would only print the regular expression. */
export const FIELD_HINTS: Readonly<Record<string, string>> = {
  price: 'must be a decimal string with up to 10 digits and 2 decimals, e.g. "19.99"',
  currency: 'must be an ISO 4217 code of 3 uppercase letters, e.g. "EUR"',
  sku: 'must start with a letter or digit and contain only letters, digits, ".", "_" or "-"',
  cursor: 'must be the nextCursor of a previous page',
}
