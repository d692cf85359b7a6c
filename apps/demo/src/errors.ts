/**
 * Errors the demo's routes send on purpose. `code` is stable (tests assert it); `field` names the
 * offending input when there is one. Rendered by the error handler in error-handler.ts.
 */
export class DemoError extends Error {
  constructor(
    readonly code: DemoErrorCode,
    readonly statusCode: number,
    message: string,
    readonly field?: string,
  ) {
    super(message)
    this.name = 'DemoError'
  }
}

export const ERROR_CODES = {
  validation: 'FST_DEMO_VALIDATION',
  notFound: 'FST_DEMO_NOT_FOUND',
  conflict: 'FST_DEMO_CONFLICT',
  internal: 'FST_DEMO_INTERNAL',
} as const

export type DemoErrorCode = (typeof ERROR_CODES)[keyof typeof ERROR_CODES]

export const errors = {
  badRequest: (field: string, message: string) => new DemoError(ERROR_CODES.validation, 400, message, field),
  notFound: (message: string) => new DemoError(ERROR_CODES.notFound, 404, message),
  conflict: (field: string, message: string) => new DemoError(ERROR_CODES.conflict, 409, message, field),
}
