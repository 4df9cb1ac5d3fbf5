// Configuration from the environment, validated once at start. A bad or
// missing key fails the process before it does anything, with every problem
// listed at once.
import { accessSync, constants, readFileSync } from 'node:fs'
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
  AUTOCAL_DATA_DIR: z.string().min(1).default(new URL('../../../.autocal/data', import.meta.url).pathname),
  /** Refused calls without a known token audited one by one per peer address and minute; the rest in one summary record a minute (audit-throttle.ts). */
  AUTOCAL_AUDIT_ANONYMOUS_PER_MINUTE: z.coerce.number().int().min(1).default(30)
}

export const kafkaShape = {
  /** Comma-separated host:port list. */
  AUTOCAL_KAFKA_BROKERS: z.string().regex(/^[^,\s]+:\d+(,[^,\s]+:\d+)*$/, 'expected host:port[,host:port...]').default('127.0.0.1:9092'),
  /** Prefix of every topic name ("" = the plain autocal.<name>.v1 names); isolates tests and tenants on one cluster. */
  AUTOCAL_KAFKA_TOPIC_PREFIX: z.string().regex(/^[a-zA-Z0-9._-]*$/, 'letters, digits, . _ - only').default(''),
  /** Create missing topics from the registry at start. */
  AUTOCAL_KAFKA_CREATE_TOPICS: z.stringbool().default(true),
  /** Replicas of each topic the services create (unset = the broker's default.replication.factor). */
  AUTOCAL_KAFKA_REPLICATION_FACTOR: z.coerce.number().int().min(1).optional(),
  /** min.insync.replicas of each topic the services create (unset = the broker's default); at most the replication factor. */
  AUTOCAL_KAFKA_MIN_INSYNC_REPLICAS: z.coerce.number().int().min(1).optional(),
  /** retention.ms of the topics rebuilds read from the beginning (runs, tasks, conditions); -1 = forever; unset = the broker's default. */
  AUTOCAL_KAFKA_REBUILD_RETENTION_MS: z.coerce.number().int().min(-1).optional(),
  /** Handler attempts before a message goes to the DLQ. */
  AUTOCAL_KAFKA_MAX_ATTEMPTS: z.coerce.number().int().positive().default(8),
  AUTOCAL_KAFKA_RETRY_BASE_MS: z.coerce.number().int().positive().default(200),
  AUTOCAL_KAFKA_RETRY_MAX_MS: z.coerce.number().int().positive().default(30_000),
  /** Partitions handled in parallel by one consumer (order is kept within a partition). */
  AUTOCAL_KAFKA_PARTITIONS_CONCURRENCY: z.coerce.number().int().positive().default(3),
  AUTOCAL_KAFKA_SESSION_TIMEOUT_MS: z.coerce.number().int().positive().default(30_000),
  /**
   * Bytes one fetch returns per partition at most (kafkajs maxBytesPerPartition; a larger single message still comes).
   * A fetch's batches are all handled before the next fetch, so a large batch of one topic holds every other topic
   * of the consumer back; small batches also bound the memory a fetch takes.
   */
  AUTOCAL_KAFKA_FETCH_PARTITION_BYTES: z.coerce.number().int().min(1024).default(128 * 1024),
  /** Bytes one fetch returns at most over all partitions (kafkajs maxBytes). */
  AUTOCAL_KAFKA_FETCH_BYTES: z.coerce.number().int().min(1024).default(4 * 1024 * 1024),
  /** TLS to the brokers (implied by any AUTOCAL_KAFKA_TLS_* file); the system CAs unless AUTOCAL_KAFKA_TLS_CA_FILE is set. */
  AUTOCAL_KAFKA_TLS: z.stringbool().default(false),
  /** PEM file of the CA(s) that signed the brokers' certificates. */
  AUTOCAL_KAFKA_TLS_CA_FILE: z.string().min(1).optional(),
  /** PEM client certificate and its key (mutual TLS); both or neither. */
  AUTOCAL_KAFKA_TLS_CERT_FILE: z.string().min(1).optional(),
  AUTOCAL_KAFKA_TLS_KEY_FILE: z.string().min(1).optional(),
  /** SASL mechanism (SCRAM only: the password never crosses the wire); needs TLS, a user name and a password. */
  AUTOCAL_KAFKA_SASL_MECHANISM: z.enum(['scram-sha-512', 'scram-sha-256']).optional(),
  /** The service's Kafka principal (User:<name> in the brokers' ACLs). */
  AUTOCAL_KAFKA_USERNAME: z.string().min(1).optional(),
  /** Its password, or (better: it stays out of the environment) a file holding it. */
  AUTOCAL_KAFKA_PASSWORD: z.string().min(1).optional(),
  AUTOCAL_KAFKA_PASSWORD_FILE: z.string().min(1).optional()
}

export const redisShape = {
  AUTOCAL_REDIS_URL: z.string().regex(/^rediss?:\/\//, 'expected redis://host:port[/db]').default('redis://127.0.0.1:6390'),
  /** Prefix of every Redis key. */
  AUTOCAL_REDIS_KEY_PREFIX: z.string().default('autocal:'),
  /** Redis ACL user (AUTH username password); without it AUTH uses the default user. */
  AUTOCAL_REDIS_USERNAME: z.string().min(1).optional(),
  /** Its password, or a file holding it. */
  AUTOCAL_REDIS_PASSWORD: z.string().min(1).optional(),
  AUTOCAL_REDIS_PASSWORD_FILE: z.string().min(1).optional(),
  /** PEM file of the CA that signed Redis' certificate (needs a rediss:// URL). */
  AUTOCAL_REDIS_TLS_CA_FILE: z.string().min(1).optional(),
  /** PEM client certificate and key for Redis (tls-auth-clients); both or neither. */
  AUTOCAL_REDIS_TLS_CERT_FILE: z.string().min(1).optional(),
  AUTOCAL_REDIS_TLS_KEY_FILE: z.string().min(1).optional(),
  /**
   * Redis Sentinels, host:port,host:port…: the client asks them for the
   * primary of AUTOCAL_REDIS_SENTINEL_NAME and follows it through failovers.
   * AUTOCAL_REDIS_URL then gives only the scheme (rediss:// = TLS to the
   * primary and to the Sentinels) and the database number.
   */
  AUTOCAL_REDIS_SENTINELS: z.string().regex(/^[^\s,:]+:\d{1,5}(,[^\s,:]+:\d{1,5})*$/, 'expected host:port[,host:port…]').optional(),
  /** The Sentinels' name of the primary (sentinel monitor <name> …). */
  AUTOCAL_REDIS_SENTINEL_NAME: z.string().min(1).optional()
}

/**
 * The keys that say where Kafka and Redis are and how to authenticate to
 * them. Tests and launchers copy exactly these from their environment into
 * the configurations they build (see connectionEnv), so that every client of
 * a test run talks to the same servers with the same credentials.
 */
export const connectionKeys = [
  'AUTOCAL_KAFKA_BROKERS', 'AUTOCAL_KAFKA_TLS', 'AUTOCAL_KAFKA_TLS_CA_FILE', 'AUTOCAL_KAFKA_TLS_CERT_FILE',
  'AUTOCAL_KAFKA_TLS_KEY_FILE', 'AUTOCAL_KAFKA_SASL_MECHANISM', 'AUTOCAL_KAFKA_USERNAME', 'AUTOCAL_KAFKA_PASSWORD',
  'AUTOCAL_KAFKA_PASSWORD_FILE', 'AUTOCAL_REDIS_URL', 'AUTOCAL_REDIS_USERNAME', 'AUTOCAL_REDIS_PASSWORD',
  'AUTOCAL_REDIS_PASSWORD_FILE', 'AUTOCAL_REDIS_TLS_CA_FILE', 'AUTOCAL_REDIS_TLS_CERT_FILE', 'AUTOCAL_REDIS_TLS_KEY_FILE',
  'AUTOCAL_REDIS_SENTINELS', 'AUTOCAL_REDIS_SENTINEL_NAME'
] as const

/**
 * The connection keys (connectionKeys) set in `env`, and nothing else:
 * `loadConfig(Config, { ...connectionEnv(), AUTOCAL_KAFKA_TOPIC_PREFIX: id })`.
 */
export function connectionEnv (env: Record<string, string | undefined> = process.env): Record<string, string> {
  const out: Record<string, string> = {}
  for (const key of connectionKeys) {
    const value = env[key]
    if (value !== undefined && value !== '') out[key] = value
  }
  return out
}

/**
 * A file named by configuration key `key` (a CA, a certificate, a token), read at start. Throws
 * AUTOCAL_CONFIG_INVALID naming the key, the path and why (`ENOENT`, `EACCES`) when it cannot be read.
 */
export function readConfigFile (key: string, path: string): Buffer {
  try {
    return readFileSync(path)
  } catch (err) {
    throw new AutocalError('AUTOCAL_CONFIG_INVALID', `${key}=${path}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { retryable: false, cause: err })
  }
}

/** A secret given inline or as a file (its content without the trailing newline). */
export function secretOf (inline: string | undefined, file: string | undefined): string | undefined {
  if (inline !== undefined) return inline
  if (file === undefined) return undefined
  return readFileSync(file, 'utf8').replace(/\r?\n$/, '')
}

type Values = Record<string, unknown>

function set (config: Values, key: string): boolean {
  return config[key] !== undefined
}

function unreadable (path: string): boolean {
  try {
    accessSync(path, constants.R_OK)
    return false
  } catch {
    return true
  }
}

/**
 * Security settings that are each valid alone but wrong together (a user
 * without a password, SASL without TLS, half a client certificate, a file
 * that cannot be read): a half-configured connection must not fall back to
 * an unauthenticated or plaintext one. Returns one line per problem, each
 * naming its keys; empty when the configuration holds together.
 */
export function connectionProblems (config: Values): string[] {
  const problems: string[] = []
  const pair = (a: string, b: string, what: string): void => {
    if (set(config, a) !== set(config, b)) problems.push(`${set(config, a) ? a : b} is set without ${set(config, a) ? b : a}: ${what} needs both`)
  }
  // userRequired: a password alone is meaningless (Kafka); Redis' AUTH <password> is the default user's
  const onePassword = (user: string, password: string, file: string, userRequired: boolean): void => {
    if (set(config, password) && set(config, file)) problems.push(`${password} and ${file} are both set: give one`)
    if (set(config, user) && !set(config, password) && !set(config, file)) problems.push(`${user} is set without ${password} or ${file}`)
    if (userRequired && !set(config, user) && (set(config, password) || set(config, file))) {
      problems.push(`${set(config, password) ? password : file} is set without ${user}`)
    }
  }
  if ('AUTOCAL_KAFKA_BROKERS' in config) {
    const sasl = set(config, 'AUTOCAL_KAFKA_SASL_MECHANISM')
    const tls = config.AUTOCAL_KAFKA_TLS === true || ['AUTOCAL_KAFKA_TLS_CA_FILE', 'AUTOCAL_KAFKA_TLS_CERT_FILE', 'AUTOCAL_KAFKA_TLS_KEY_FILE'].some(k => set(config, k))
    if (sasl && !set(config, 'AUTOCAL_KAFKA_USERNAME')) problems.push('AUTOCAL_KAFKA_SASL_MECHANISM is set without AUTOCAL_KAFKA_USERNAME')
    if (!sasl && set(config, 'AUTOCAL_KAFKA_USERNAME')) problems.push('AUTOCAL_KAFKA_USERNAME is set without AUTOCAL_KAFKA_SASL_MECHANISM (scram-sha-512)')
    onePassword('AUTOCAL_KAFKA_USERNAME', 'AUTOCAL_KAFKA_PASSWORD', 'AUTOCAL_KAFKA_PASSWORD_FILE', true)
    if (sasl && !tls) problems.push('AUTOCAL_KAFKA_SASL_MECHANISM is set without TLS: set AUTOCAL_KAFKA_TLS=true or AUTOCAL_KAFKA_TLS_CA_FILE (SASL_SSL only)')
    pair('AUTOCAL_KAFKA_TLS_CERT_FILE', 'AUTOCAL_KAFKA_TLS_KEY_FILE', 'a Kafka client certificate')
  }
  if ('AUTOCAL_REDIS_URL' in config) {
    const url = String(config.AUTOCAL_REDIS_URL)
    onePassword('AUTOCAL_REDIS_USERNAME', 'AUTOCAL_REDIS_PASSWORD', 'AUTOCAL_REDIS_PASSWORD_FILE', false)
    const tlsFiles = ['AUTOCAL_REDIS_TLS_CA_FILE', 'AUTOCAL_REDIS_TLS_CERT_FILE', 'AUTOCAL_REDIS_TLS_KEY_FILE'].filter(k => set(config, k))
    if (tlsFiles.length > 0 && !url.startsWith('rediss://')) problems.push(`${tlsFiles.join(', ')} set but AUTOCAL_REDIS_URL is not rediss:// (TLS)`)
    pair('AUTOCAL_REDIS_TLS_CERT_FILE', 'AUTOCAL_REDIS_TLS_KEY_FILE', 'a Redis client certificate')
    pair('AUTOCAL_REDIS_SENTINELS', 'AUTOCAL_REDIS_SENTINEL_NAME', 'Redis Sentinel (the Sentinels and the name of the primary they monitor)')
    if (/^rediss?:\/\/[^/]*@/.test(url) && (set(config, 'AUTOCAL_REDIS_PASSWORD') || set(config, 'AUTOCAL_REDIS_PASSWORD_FILE'))) {
      problems.push('AUTOCAL_REDIS_URL carries credentials and AUTOCAL_REDIS_PASSWORD(_FILE) is set: give them once')
    }
  }
  for (const key of ['AUTOCAL_KAFKA_TLS_CA_FILE', 'AUTOCAL_KAFKA_TLS_CERT_FILE', 'AUTOCAL_KAFKA_TLS_KEY_FILE', 'AUTOCAL_KAFKA_PASSWORD_FILE',
    'AUTOCAL_REDIS_PASSWORD_FILE', 'AUTOCAL_REDIS_TLS_CA_FILE', 'AUTOCAL_REDIS_TLS_CERT_FILE', 'AUTOCAL_REDIS_TLS_KEY_FILE']) {
    const path = config[key]
    if (typeof path !== 'string') continue
    if (unreadable(path)) problems.push(`${key}: cannot read ${path}`)
    else if (key.endsWith('_PASSWORD_FILE') && secretOf(undefined, path) === '') problems.push(`${key}: ${path} is empty`)
  }
  return problems
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
 * AUTOCAL_CONFIG_INVALID listing every bad or missing key, then checks the
 * Kafka and Redis security keys together (connectionProblems). Empty values
 * count as unset, so that a default applies.
 */
export function loadConfig<S extends z.ZodObject> (schema: S, env: Record<string, string | undefined> = process.env): z.infer<S> {
  const known = new Set(Object.keys(schema.shape))
  const input = Object.fromEntries(Object.entries(env).filter(([k, v]) => known.has(k) && v !== undefined && v !== ''))
  const result = schema.safeParse(input)
  if (!result.success) {
    throw new AutocalError('AUTOCAL_CONFIG_INVALID', `invalid configuration:\n${z.prettifyError(result.error)}`, { retryable: false })
  }
  const problems = connectionProblems(result.data)
  if (problems.length > 0) {
    throw new AutocalError('AUTOCAL_CONFIG_INVALID', `invalid configuration:\n${problems.map(p => `✖ ${p}`).join('\n')}`, { retryable: false })
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
