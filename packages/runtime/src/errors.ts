// One error class for all of autocal. Codes say what kind of failure it is;
// `retryable` tells the bus (and callers) whether trying again may help.

export const errorCodes = [
  'AUTOCAL_CONFIG_INVALID',
  'AUTOCAL_WORKFLOW_INVALID',
  'AUTOCAL_DECODE_FAILED',
  'AUTOCAL_VALIDATION_FAILED',
  'AUTOCAL_HANDLER_FAILED',
  'AUTOCAL_LEASE_LOST',
  'AUTOCAL_NOT_READY',
  'AUTOCAL_UNAUTHENTICATED',
  'AUTOCAL_FORBIDDEN',
  'AUTOCAL_NOT_FOUND',
  'AUTOCAL_SOURCE_FAILED',
  'AUTOCAL_BACKEND_FAILED',
  'AUTOCAL_UPLOAD_FAILED',
  'AUTOCAL_SHUTTING_DOWN',
  // the handler cannot take the message now (back-pressure): the bus retries it
  // for as long as that lasts, without counting attempts, and never dead-letters it
  'AUTOCAL_BUSY'
] as const

export type ErrorCode = typeof errorCodes[number]

export interface AutocalErrorOptions {
  /** Unknown errors are retryable by default (the kafkajs and Temporal convention). */
  retryable?: boolean
  cause?: unknown
  details?: Record<string, unknown>
}

export class AutocalError extends Error {
  readonly code: ErrorCode
  readonly retryable: boolean
  readonly details: Record<string, unknown>

  constructor (code: ErrorCode, message: string, options: AutocalErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'AutocalError'
    this.code = code
    this.retryable = options.retryable ?? defaultRetryable(code)
    this.details = options.details ?? {}
  }
}

const notRetryable = new Set<ErrorCode>(['AUTOCAL_CONFIG_INVALID', 'AUTOCAL_WORKFLOW_INVALID', 'AUTOCAL_DECODE_FAILED',
  'AUTOCAL_VALIDATION_FAILED', 'AUTOCAL_UNAUTHENTICATED', 'AUTOCAL_FORBIDDEN', 'AUTOCAL_NOT_FOUND'])

function defaultRetryable (code: ErrorCode): boolean {
  return !notRetryable.has(code)
}

/** True unless the error says it is not worth trying again. */
export function isRetryable (err: unknown): boolean {
  if (err instanceof AutocalError) return err.retryable
  return true
}

export function errorCode (err: unknown): string {
  if (err instanceof AutocalError) return err.code
  return 'AUTOCAL_HANDLER_FAILED'
}

export function errorMessage (err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
