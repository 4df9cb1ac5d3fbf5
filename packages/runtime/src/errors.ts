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
  'AUTOCAL_BUSY',
  // a dependency (Kafka, Redis, …) is unreachable or not ready: an outage, not a
  // fault of the message; the bus waits it out without counting attempts
  'AUTOCAL_UNAVAILABLE'
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

// Node's network error codes: the peer cannot be reached or went away.
const networkCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH',
  'ENETUNREACH', 'ENETDOWN', 'EAI_AGAIN', 'ENOTCONN'])
// ioredis: commands rejected while the connection is down (offline queue given
// up after maxRetriesPerRequest, or the stream closed under them).
const redisOutageNames = new Set(['MaxRetriesPerRequestError', 'ClusterAllFailedError'])
const redisOutageMessages = ['Connection is closed.', 'Stream isn\'t writeable', 'Socket timeout.']
// Redis replies that say the server cannot serve yet, not that the command is wrong.
const redisNotReadyReplies = /^(LOADING|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|READONLY|NOREPLICAS)\b/
// kafkajs errors that are about reaching the cluster rather than the request
const kafkaOutageNames = new Set(['KafkaJSConnectionError', 'KafkaJSConnectionClosedError', 'KafkaJSRequestTimeoutError',
  'KafkaJSBrokerNotFound', 'KafkaJSNoBrokerAvailableError', 'KafkaJSMetadataNotLoaded', 'KafkaJSTopicMetadataNotLoaded',
  'KafkaJSGroupCoordinatorNotFound', 'KafkaJSLockTimeout'])

/**
 * True when the error (or any error in its `cause` chain) says that a
 * dependency is unreachable or not ready — an outage of the infrastructure,
 * not a fault of the message being handled. Kinds recognised:
 * - AutocalError `AUTOCAL_UNAVAILABLE` and `AUTOCAL_NOT_READY`;
 * - kafkajs connection, timeout, broker/coordinator-not-found errors, retries
 *   exhausted on those (through the cause), and protocol errors kafkajs marks `retriable`
 *   (NOT_LEADER_FOR_PARTITION, LEADER_NOT_AVAILABLE, NOT_ENOUGH_REPLICAS, …);
 * - ioredis commands rejected while the connection is down
 *   (`MaxRetriesPerRequestError`, "Connection is closed.") and Redis replies
 *   LOADING, MASTERDOWN, CLUSTERDOWN, TRYAGAIN, READONLY, NOREPLICAS;
 * - Node network errors (ECONNREFUSED, ECONNRESET, ETIMEDOUT, …).
 * The bus retries these without limit and without counting attempts, with
 * `/readyz` 503 meanwhile (DESIGN rule 8: the DLQ is for faults of a message).
 */
export function isInfrastructureError (err: unknown): boolean {
  const seen = new Set<unknown>()
  for (let e: unknown = err; e !== undefined && e !== null && !seen.has(e); e = (e as { cause?: unknown }).cause) {
    seen.add(e)
    if (e instanceof AutocalError) {
      if (e.code === 'AUTOCAL_UNAVAILABLE' || e.code === 'AUTOCAL_NOT_READY') return true
      continue
    }
    if (typeof e !== 'object') return false
    const { name, message, code, retriable } = e as { name?: unknown, message?: unknown, code?: unknown, retriable?: unknown }
    if (typeof code === 'string' && networkCodes.has(code)) return true
    if (typeof name === 'string') {
      if (redisOutageNames.has(name) || kafkaOutageNames.has(name)) return true
      if (name === 'ReplyError' && typeof message === 'string' && redisNotReadyReplies.test(message)) return true
      if (name.startsWith('KafkaJS') && retriable === true) return true
    }
    if (typeof message === 'string' && redisOutageMessages.some(m => message.startsWith(m))) return true
  }
  return false
}
