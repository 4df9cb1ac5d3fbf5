// Configuration from the environment, validated once at start. A bad or
// missing key fails the process before it does anything, with every problem
// listed at once.
import { z } from 'zod'
import { AutocalError } from './errors.ts'

const port = z.coerce.number().int().min(0).max(65535)

/** Keys every service has. */
export const baseShape = {
  AUTOCAL_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** OTLP/HTTP traces endpoint, e.g. http://127.0.0.1:4318/v1/traces; tracing is off when unset. */
  AUTOCAL_OTLP_ENDPOINT: z.url().optional(),
  AUTOCAL_SHUTDOWN_GRACE_MS: z.coerce.number().int().positive().default(10_000),
  /** Name of this replica (defaults to host name + pid). */
  AUTOCAL_INSTANCE_ID: z.string().min(1).optional(),
  /** Shared data directory of the embedded setup (job outputs, CondDB, logs). */
  AUTOCAL_DATA_DIR: z.string().min(1).default(new URL('../../../.autocal/data', import.meta.url).pathname)
}

export const kafkaShape = {
  /** Comma-separated host:port list. */
  AUTOCAL_KAFKA_BROKERS: z.string().regex(/^[^,\s]+:\d+(,[^,\s]+:\d+)*$/, 'expected host:port[,host:port...]').default('127.0.0.1:9092'),
  /** Prefix of every topic name ("" = the plain autocal.<name>.v1 names); isolates tests and tenants on one cluster. */
  AUTOCAL_KAFKA_TOPIC_PREFIX: z.string().regex(/^[a-zA-Z0-9._-]*$/, 'letters, digits, . _ - only').default(''),
  /** Create missing topics from the registry at start. */
  AUTOCAL_KAFKA_CREATE_TOPICS: z.stringbool().default(true),
  /** Handler attempts before a message goes to the DLQ. */
  AUTOCAL_KAFKA_MAX_ATTEMPTS: z.coerce.number().int().positive().default(8),
  AUTOCAL_KAFKA_RETRY_BASE_MS: z.coerce.number().int().positive().default(200),
  AUTOCAL_KAFKA_RETRY_MAX_MS: z.coerce.number().int().positive().default(30_000),
  /** Partitions handled in parallel by one consumer (order is kept within a partition). */
  AUTOCAL_KAFKA_PARTITIONS_CONCURRENCY: z.coerce.number().int().positive().default(3),
  AUTOCAL_KAFKA_SESSION_TIMEOUT_MS: z.coerce.number().int().positive().default(30_000)
}

export const redisShape = {
  AUTOCAL_REDIS_URL: z.string().regex(/^rediss?:\/\//, 'expected redis://host:port[/db]').default('redis://127.0.0.1:6390'),
  /** Prefix of every Redis key. */
  AUTOCAL_REDIS_KEY_PREFIX: z.string().default('autocal:')
}

export const httpShape = {
  AUTOCAL_HTTP_HOST: z.string().default('127.0.0.1'),
  AUTOCAL_HTTP_PORT: port.default(8080)
}

export const grpcShape = {
  AUTOCAL_GRPC_HOST: z.string().default('127.0.0.1'),
  AUTOCAL_GRPC_PORT: port.default(50051)
}

/** A key that must be a port, for services with their own port keys. */
export const portSchema = port

/**
 * Parses the environment with the service's schema; on failure throws
 * AUTOCAL_CONFIG_INVALID listing every bad or missing key. Empty values count
 * as unset, so that a default applies.
 */
export function loadConfig<S extends z.ZodObject> (schema: S, env: Record<string, string | undefined> = process.env): z.infer<S> {
  const known = new Set(Object.keys(schema.shape))
  const input = Object.fromEntries(Object.entries(env).filter(([k, v]) => known.has(k) && v !== undefined && v !== ''))
  const result = schema.safeParse(input)
  if (!result.success) {
    throw new AutocalError('AUTOCAL_CONFIG_INVALID', `invalid configuration:\n${z.prettifyError(result.error)}`, { retryable: false })
  }
  return result.data
}

/**
 * AUTOCAL_ keys in the environment that the schema does not know: worth a
 * warning at start (a misspelt key silently keeps its default), not a failure,
 * since one environment may serve several services.
 */
export function unknownKeys (schema: z.ZodObject, env: Record<string, string | undefined> = process.env): string[] {
  const known = new Set(Object.keys(schema.shape))
  return Object.keys(env).filter(k => k.startsWith('AUTOCAL_') && !known.has(k)).sort()
}
