// Configuration of the metrics service: the shared shapes plus its own keys.
import { z } from 'zod'
import { baseShape, httpShape, kafkaShape, portSchema, readShape, redisShape, scopedTokensSchema } from '@autocal/runtime'
import { notificationKinds, type NotificationKind } from './domain/notifications.ts'
import { routeProblems, type Route } from './domain/routing.ts'

const kind = z.string().refine((k): k is NotificationKind => k in notificationKinds, { error: i => `unknown notification kind '${String(i.input)}' (known: ${Object.keys(notificationKinds).join(', ')})` })
const route = z.strictObject({
  name: z.string().min(1),
  kinds: z.array(kind).optional(),
  audiences: z.array(z.enum(['failures', 'experts'])).optional(),
  subsystems: z.array(z.string().min(1)).optional(),
  webhook: z.url().optional(),
  channel: z.string().min(1).optional(),
  campaignChannel: z.boolean().optional()
})
/** AUTOCAL_NOTIFY_ROUTES: a JSON array of routes (domain/routing.ts), checked at start. */
const routes = z.string().transform((s, ctx) => {
  let parsed: unknown
  try {
    parsed = JSON.parse(s)
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `not JSON: ${(err as Error).message}` })
    return z.NEVER
  }
  const r = z.array(route).safeParse(parsed)
  if (!r.success) {
    ctx.addIssue({ code: 'custom', message: z.prettifyError(r.error) })
    return z.NEVER
  }
  const problems = routeProblems(r.data as Route[])
  for (const message of problems) ctx.addIssue({ code: 'custom', message })
  return problems.length > 0 ? z.NEVER : r.data as Route[]
})

const list = z.string().transform(s => s.split(',').map(x => x.trim()).filter(x => x !== ''))

export const Config = z.object({
  ...baseShape,
  ...kafkaShape,
  ...redisShape,
  ...httpShape,
  AUTOCAL_HTTP_PORT: portSchema.default(8085),
  /** Consumer group of the read model (prefixed like every group). */
  AUTOCAL_METRICS_GROUP: z.string().min(1).default('metrics'),
  /** Consumer groups whose lag /metrics reports (besides AUTOCAL_METRICS_GROUP), comma-separated, unprefixed. */
  AUTOCAL_METRICS_LAG_GROUPS: list.default(['task-dispatcher', 'job-executor', 'condition-uploader', 'condition-uploader-fcsr']),
  /** Also report the lag of every other group of this deployment the broker lists (see README). */
  AUTOCAL_METRICS_LAG_DISCOVER: z.stringbool().default(true),
  /** How long a lag reading is reused, so that a scrape does not hammer the broker. */
  AUTOCAL_METRICS_LAG_CACHE_MS: z.coerce.number().int().nonnegative().default(5000),
  /** How often the service checks that its Redis read model is still there (a missing marker triggers a rebuild). */
  AUTOCAL_METRICS_MARKER_CHECK_MS: z.coerce.number().int().positive().default(10_000),
  /** The console serves plot outputs of jobs only from below this directory (default: AUTOCAL_DATA_DIR, where the executors write). */
  AUTOCAL_METRICS_FILES_ROOT: z.string().min(1).optional(),
  /** Read token the console presents to the executors' log route (one of their AUTOCAL_READ_TOKENS); unset = none (their logs must be public). */
  AUTOCAL_EXECUTOR_READ_TOKEN: z.string().min(1).optional(),
  /** Who may read the dashboard's data, /api/v1/*, /console/api/*: AUTOCAL_READ_TOKENS "<principal>:<token>,…" (a browser signs in once at /console/login), or AUTOCAL_READ_PUBLIC=true. */
  ...readShape,
  /**
   * Who may act from the console (DLQ redrive): control tokens in the task-dispatcher's format, JSON
   * {"<token>": {"principal": "alice", "subsystems": ["ECAL"] | "*"}}; a token may redrive the dead letters of its
   * subsystems, "*" also those of no subsystem. They read the console too. Default: none (no redrive from the console).
   */
  AUTOCAL_CONTROL_TOKENS: scopedTokensSchema('AUTOCAL_CONTROL_TOKENS'),
  /** Incoming webhook of Mattermost; notifications are only logged when unset. */
  AUTOCAL_MATTERMOST_WEBHOOK_URL: z.url().optional(),
  AUTOCAL_MATTERMOST_CHANNEL: z.string().min(1).optional(),
  AUTOCAL_MATTERMOST_USERNAME: z.string().min(1).default('autocal'),
  /** Notifications sent per minute at most; the rest is dropped and counted. */
  AUTOCAL_NOTIFY_RATE_PER_MINUTE: z.coerce.number().int().positive().default(10),
  /** How long one notification identity (e.g. task failed, attempt 2) is remembered. */
  AUTOCAL_NOTIFY_DEDUP_SECONDS: z.coerce.number().int().positive().default(7 * 24 * 3600),
  /** Events older than this do not notify (a rebuild from Kafka does not replay old alerts). */
  AUTOCAL_NOTIFY_MAX_AGE_MINUTES: z.coerce.number().int().positive().default(60),
  /** Prompt hold: a prompt/express/hlt condition must be uploaded within this many hours of the run end. */
  AUTOCAL_PROMPT_HOLD_HOURS: z.coerce.number().positive().default(48),
  /** Warn when a prompt-synchronised task is not done and its deadline is this close. */
  AUTOCAL_DEADLINE_WARN_HOURS: z.coerce.number().positive().default(6),
  AUTOCAL_DEADLINE_SCAN_MS: z.coerce.number().int().positive().default(60_000),
  /** Routes of notifications by kind, audience and subsystem to webhooks/channels (JSON array, see README); none: everything to the default webhook. */
  AUTOCAL_NOTIFY_ROUTES: routes.default([]),
  /** How often the notifications held back by the rate limit are posted as one digest per route. */
  AUTOCAL_NOTIFY_DIGEST_MS: z.coerce.number().int().positive().default(60_000),
  /** A consumer group with a backlog and no committed progress for this long notifies (consumer-stalled). */
  AUTOCAL_ALERT_STALL_SECONDS: z.coerce.number().positive().default(120),
  /** A consumer lag that grew over this many minutes, and is at least AUTOCAL_ALERT_LAG_MIN, notifies (lag-growing). */
  AUTOCAL_ALERT_LAG_GROWING_MINUTES: z.coerce.number().positive().default(10),
  AUTOCAL_ALERT_LAG_MIN: z.coerce.number().int().positive().default(50),
  /** How often the consumer groups are checked for stalls (also at every scrape). */
  AUTOCAL_ALERT_SCAN_MS: z.coerce.number().int().positive().default(15_000),
  /** Dead letters within one minute that count as a flood (and notify). */
  AUTOCAL_DLQ_FLOOD_PER_MINUTE: z.coerce.number().int().positive().default(20)
}).superRefine((c, ctx) => {
  // one token, one meaning: a token that is both a read and a control token would act with a read sign-in
  const readers = new Map(c.AUTOCAL_READ_TOKENS.map(([principal, token]) => [token, principal]))
  for (const [token, p] of c.AUTOCAL_CONTROL_TOKENS) {
    const reader = readers.get(token)
    if (reader !== undefined) ctx.addIssue({ code: 'custom', path: ['AUTOCAL_CONTROL_TOKENS'], message: `the control token of ${p.principal} is also the read token of ${reader} (AUTOCAL_READ_TOKENS); each must be its own` })
  }
})
export type Config = z.infer<typeof Config>
