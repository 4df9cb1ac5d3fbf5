// Configuration of the task-dispatcher: the shared shapes plus its own keys.
import { z } from 'zod'
import { baseShape, grpcShape, httpShape, kafkaShape, parseScopedTokens, readShape, redisShape } from '@autocal/runtime'

/**
 * The DBS read API, the file-list source of tasks with an input dataset (adapters/dbs.ts, README "Data-aware
 * tasks"): the DBSReader base URL, cmsweb's authentication (client certificate and key, and/or a bearer token file),
 * a CA file for the server's certificate, and the time limits.
 */
const dbsShape = {
  /** e.g. https://cmsweb.cern.ch/dbs/prod/global/DBSReader; unset = no data-aware task may be loaded. */
  AUTOCAL_DBS_URL: z.url({ protocol: /^https?$/, error: 'expected the http(s) URL of a DBSReader instance' }).optional(),
  AUTOCAL_DBS_CA_FILE: z.string().min(1).optional(),
  AUTOCAL_DBS_CERT_FILE: z.string().min(1).optional(),
  AUTOCAL_DBS_KEY_FILE: z.string().min(1).optional(),
  AUTOCAL_DBS_TOKEN_FILE: z.string().min(1).optional(),
  /** Time limit of one DBS request. */
  AUTOCAL_DBS_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(30_000),
  /** How long DBS's "dataset not closed yet" is trusted before a `datasetLocked` gate asks again. */
  AUTOCAL_DBS_RECHECK_MS: z.coerce.number().int().min(100).max(86_400_000).default(60_000)
}

const loopback = (url: string): boolean => ['127.0.0.1', 'localhost', '[::1]'].includes(new URL(url).hostname)

export const Config = z.object({
  ...baseShape,
  ...kafkaShape,
  ...redisShape,
  ...httpShape,
  ...grpcShape,
  AUTOCAL_HTTP_PORT: httpShape.AUTOCAL_HTTP_PORT.default(8082),
  AUTOCAL_GRPC_PORT: grpcShape.AUTOCAL_GRPC_PORT.default(50051),
  /** Directory of workflow YAML files. */
  AUTOCAL_WORKFLOWS_DIR: z.string().min(1).default(new URL('../../../deploy/workflows', import.meta.url).pathname),
  /** Watch AUTOCAL_WORKFLOWS_DIR and load changed workflow files without a restart (adapters/workflow-watch.ts). */
  AUTOCAL_WORKFLOWS_RELOAD: z.stringbool().default(true),
  /** Bearer tokens of the control API: JSON {"<token>": {"principal": "alice", "subsystems": ["ECAL"]}}; "*" = every subsystem. */
  AUTOCAL_CONTROL_TOKENS: z.string().default('{}').transform((v, ctx) => {
    const parsed = parseScopedTokens(v, 'AUTOCAL_CONTROL_TOKENS')
    if (typeof parsed === 'string') {
      ctx.addIssue({ code: 'custom', message: parsed })
      return z.NEVER
    }
    return parsed
  }),
  /** Who may call the read RPCs besides control tokens: AUTOCAL_READ_TOKENS "<principal>:<token>,…" (every subsystem), or AUTOCAL_READ_PUBLIC=true. */
  ...readShape,
  /** TLS of the control API (PEM files): both, or AUTOCAL_CONTROL_INSECURE=true. */
  AUTOCAL_CONTROL_TLS_CERT_FILE: z.string().min(1).optional(),
  AUTOCAL_CONTROL_TLS_KEY_FILE: z.string().min(1).optional(),
  /** Serve the control API without TLS (tokens travel in clear text): only on loopback or a trusted network. */
  AUTOCAL_CONTROL_INSECURE: z.stringbool().default(false),
  /** Period of the planner's tick: bucket grouping, timeouts, retries due, HTTP rechecks and the safety net (run blocks, gates and dispatch happen in the handlers). */
  AUTOCAL_DISPATCH_TICK_MS: z.coerce.number().int().positive().default(1000),
  /** Bucket grouping (fill, lumi, era; never run blocks) also waits until no run arrived for this long (at most 10 times this); run order itself comes from the grouping mark (domain/grouping-order.ts). */
  AUTOCAL_RUN_SETTLE_MS: z.coerce.number().int().nonnegative().default(10_000),
  /** TTL of the per-campaign planning lease and the per-task lease. */
  AUTOCAL_DISPATCH_LEASE_MS: z.coerce.number().int().positive().default(15_000),
  /** Transitions of different tasks the planner applies at once. */
  AUTOCAL_DISPATCH_PARALLEL: z.coerce.number().int().positive().default(32),
  /** Run events of different runs, and job statuses of different tasks, handled at once per partition (those of one run, or of one task, stay in order). */
  AUTOCAL_DISPATCH_MESSAGES_CONCURRENCY: z.coerce.number().int().positive().default(16),
  /** Settled runs grouped into blocks per planner tick at most (a backlog is dispatched while it is grouped). */
  AUTOCAL_DISPATCH_RUNS_PER_TICK: z.coerce.number().int().positive().default(200),
  /** How long an HTTP gate answer is trusted before asking again (a yes is kept). */
  AUTOCAL_HTTP_GATE_RECHECK_MS: z.coerce.number().int().positive().default(30_000),
  /** How long a requested job may stay without any status from the job-executor before the watchdog acts (1 s … 24 h). */
  AUTOCAL_JOB_ANSWER_TIMEOUT_MS: z.coerce.number().int().min(1000).max(86_400_000).default(120_000),
  /** How often the watchdog requests an unanswered job again (same job id and try) before it fails the try (0 … 10). */
  AUTOCAL_JOB_ANSWER_REREQUESTS: z.coerce.number().int().min(0).max(10).default(2),
  ...dbsShape
}).superRefine((c, ctx) => {
  if ((c.AUTOCAL_DBS_CERT_FILE === undefined) !== (c.AUTOCAL_DBS_KEY_FILE === undefined)) ctx.addIssue({ code: 'custom', path: [c.AUTOCAL_DBS_CERT_FILE === undefined ? 'AUTOCAL_DBS_CERT_FILE' : 'AUTOCAL_DBS_KEY_FILE'], message: 'half a client certificate: set AUTOCAL_DBS_CERT_FILE and AUTOCAL_DBS_KEY_FILE together' })
  for (const key of ['AUTOCAL_DBS_CA_FILE', 'AUTOCAL_DBS_CERT_FILE', 'AUTOCAL_DBS_TOKEN_FILE'] as const) {
    if (c[key] !== undefined && c.AUTOCAL_DBS_URL === undefined) ctx.addIssue({ code: 'custom', path: [key], message: `${key} is set but AUTOCAL_DBS_URL is not` })
  }
  if (c.AUTOCAL_DBS_URL?.startsWith('http:') === true && (c.AUTOCAL_DBS_TOKEN_FILE !== undefined || c.AUTOCAL_DBS_CERT_FILE !== undefined) && !loopback(c.AUTOCAL_DBS_URL)) {
    ctx.addIssue({ code: 'custom', path: ['AUTOCAL_DBS_URL'], message: 'DBS credentials would travel in clear text: use an https URL' })
  }
  const cert = c.AUTOCAL_CONTROL_TLS_CERT_FILE !== undefined
  const key = c.AUTOCAL_CONTROL_TLS_KEY_FILE !== undefined
  if (cert !== key) ctx.addIssue({ code: 'custom', path: [cert ? 'AUTOCAL_CONTROL_TLS_KEY_FILE' : 'AUTOCAL_CONTROL_TLS_CERT_FILE'], message: 'half-configured TLS: set AUTOCAL_CONTROL_TLS_CERT_FILE and AUTOCAL_CONTROL_TLS_KEY_FILE together' })
  else if (cert && c.AUTOCAL_CONTROL_INSECURE) ctx.addIssue({ code: 'custom', path: ['AUTOCAL_CONTROL_INSECURE'], message: 'AUTOCAL_CONTROL_INSECURE=true contradicts AUTOCAL_CONTROL_TLS_CERT_FILE / AUTOCAL_CONTROL_TLS_KEY_FILE: choose one' })
  else if (!cert && !c.AUTOCAL_CONTROL_INSECURE) ctx.addIssue({ code: 'custom', path: ['AUTOCAL_CONTROL_TLS_CERT_FILE'], message: 'the control API needs TLS (its bearer tokens would travel in clear text): set AUTOCAL_CONTROL_TLS_CERT_FILE and AUTOCAL_CONTROL_TLS_KEY_FILE, or AUTOCAL_CONTROL_INSECURE=true on loopback or a trusted network' })
})
export type Config = z.infer<typeof Config>
