import { errors } from './errors.js'

/** A keyset page: `nextCursor` is null on the last page. */
export interface Page<T> {
  items: T[]
  nextCursor: string | null
}

const ID_TEXT = /^[1-9]\d{0,9}$/
const INT32_MAX = 2_147_483_647

/** Opaque to clients (base64url of the last id) so the keyset can change without breaking them. */
export function encodeCursor(lastId: number): string {
  return Buffer.from(String(lastId)).toString('base64url')
}

/** The id after which the page starts; a cursor that was not made by encodeCursor is a 400. */
export function decodeCursor(cursor: string | undefined): number | undefined {
  if (cursor === undefined) return undefined
  const text = Buffer.from(cursor, 'base64url').toString('utf8')
  const id = ID_TEXT.test(text) ? Number(text) : Number.NaN
  if (!(id <= INT32_MAX))
    throw errors.badRequest('cursor', 'cursor must be the nextCursor of a previous page')
  return id
}

/** `rows` were fetched with `limit + 1`: the extra row only says that another page exists. */
export function toPage<T extends { id: number }>(rows: T[], limit: number): Page<T> {
  if (rows.length <= limit) return { items: rows, nextCursor: null }
  const items = rows.slice(0, limit)
  return { items, nextCursor: encodeCursor(items[items.length - 1]!.id) }
}

/**
 * The headers of a list page: `link` to the next page (RFC 8288, the cursor in the URL) and to the
 * first, and `x-total-count` when known. They are stored with the page and replayed on a hit.
 */
export function pageHeaders(
  url: string,
  page: Page<unknown>,
  total: number | undefined,
): Record<string, string | string[]> {
  const here = new URL(url, 'http://x')
  here.searchParams.delete('cursor')
  const first = `${here.pathname}${here.search}`
  const links = [`<${first}>; rel="first"`]
  if (page.nextCursor) {
    here.searchParams.set('cursor', page.nextCursor)
    links.push(`<${here.pathname}${here.search}>; rel="next"`)
  }
  return total === undefined ? { link: links } : { link: links, 'x-total-count': String(total) }
}
