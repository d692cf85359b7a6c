import { STATUS_CODES } from 'node:http'
import type { FastifyError, FastifyInstance, FastifySchemaValidationError } from 'fastify'
import { DemoError, ERROR_CODES } from './errors.js'
import { FIELD_HINTS } from './schemas.js'

interface ErrorBody {
  statusCode: number
  code: string
  error: string
  message: string
  field?: string
}

function body(statusCode: number, code: string, message: string, field?: string): ErrorBody {
  const out: ErrorBody = { statusCode, code, error: STATUS_CODES[statusCode] ?? 'Error', message }
  if (field !== undefined) out.field = field
  return out
}

/**
 * ajv says "must NOT have additional properties" without naming it, and prints raw regular
 * expressions: reword the first error so the message and `field` name the offending input.
 */
export function describeValidation(
  error: FastifySchemaValidationError,
  context: string,
): { field: string; message: string } {
  const params = error.params as { missingProperty?: string; additionalProperty?: string }
  if (error.keyword === 'required' && params.missingProperty) {
    return { field: params.missingProperty, message: `${params.missingProperty} is required` }
  }
  if (error.keyword === 'additionalProperties' && params.additionalProperty) {
    const field = params.additionalProperty
    return { field, message: `${field} is not an allowed ${context} property` }
  }
  if (error.keyword === 'minProperties') {
    return { field: context, message: `${context} must set at least one property` }
  }
  const field = error.instancePath.replace(/^\//, '').replaceAll('/', '.') || context
  const hint = error.keyword === 'pattern' ? FIELD_HINTS[field] : undefined
  return { field, message: `${field} ${hint ?? error.message ?? 'is invalid'}` }
}

/** One error shape for every route: `{ statusCode, code, error, message, field? }`. */
export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | DemoError, request, reply) => {
    if (error instanceof DemoError) {
      return reply.code(error.statusCode).send(body(error.statusCode, error.code, error.message, error.field))
    }
    const first = error.validation?.[0]
    if (first) {
      const { field, message } = describeValidation(first, error.validationContext ?? 'request')
      return reply.code(400).send(body(400, ERROR_CODES.validation, message, field))
    }
    const status = error.statusCode ?? 500
    if (status >= 400 && status < 500) {
      // Fastify's own client errors (bad JSON, wrong content type, body too large) keep their code.
      return reply.code(status).send(body(status, error.code ?? ERROR_CODES.validation, error.message))
    }
    request.log.error({ err: error }, 'request failed')
    return reply.code(500).send(body(500, ERROR_CODES.internal, 'Internal Server Error'))
  })
  app.setNotFoundHandler((request, reply) => {
    reply
      .code(404)
      .send(body(404, ERROR_CODES.notFound, `Route ${request.method} ${request.url.split('?')[0]} not found`))
  })
}
