// Configuration of the condition-uploader (environment keys, validated at start).
import { join } from 'node:path'
import { z } from 'zod'
import { baseShape, httpShape, kafkaShape, readShape, redisShape } from '@autocal/runtime'

const policy = z.enum(['move', 'reject'])

/** "TagA=reject,TagB=move" → { TagA: 'reject', TagB: 'move' }. */
const tagPolicies = z.string().transform((s, ctx) => {
  const out: Record<string, 'move' | 'reject'> = {}
  for (const part of s.split(',').map(p => p.trim()).filter(p => p !== '')) {
    const [tag, value] = part.split('=').map(x => x.trim())
    const parsed = policy.safeParse(value)
    if (tag === undefined || tag === '' || !parsed.success) {
      ctx.addIssue({ code: 'custom', message: `'${part}': expected <tag>=move|reject` })
      continue
    }
    out[tag] = parsed.data
  }
  return out
})

const list = z.string().transform(s => s.split(',').map(p => p.trim()).filter(p => p !== ''))

export const Config = z.object({
  ...baseShape,
  ...kafkaShape,
  ...redisShape,
  ...httpShape,
  AUTOCAL_HTTP_PORT: httpShape.AUTOCAL_HTTP_PORT.unwrap().default(8084),
  /** Who may read /api/v1/*: AUTOCAL_READ_TOKENS "<principal>:<token>,…", or AUTOCAL_READ_PUBLIC=true. */
  ...readShape,
  /** sqlite: the local CondDB file (embedded default); dropbox: the CMS conditions upload service. */
  AUTOCAL_UPLOAD_TARGET: z.enum(['sqlite', 'dropbox']).default('sqlite'),
  /** Local CondDB file; default <AUTOCAL_DATA_DIR>/conddb.sqlite. Read by the HTTP API whatever the target. */
  AUTOCAL_CONDDB_PATH: z.string().min(1).optional(),
  /** The uploader's own history file; default <AUTOCAL_DATA_DIR>/condition-uploads.sqlite. */
  AUTOCAL_UPLOAD_HISTORY_PATH: z.string().min(1).optional(),
  /** USER_NAME written in TAG_LOG rows of the local CondDB. */
  AUTOCAL_CONDDB_USER: z.string().min(1).default('autocal'),
  /** Base URL of the conditions upload service (prep by default). */
  AUTOCAL_DROPBOX_URL: z.url().default('https://cms-conddb-dev.cern.ch/cmsDbCondUpload/'),
  /** Destination database when the request names none. */
  AUTOCAL_DROPBOX_DATABASE: z.string().min(1).default('oracle://cms_orcoff_prep/CMS_CONDITIONS'),
  AUTOCAL_DROPBOX_USERNAME: z.string().optional(),
  AUTOCAL_DROPBOX_PASSWORD: z.string().optional(),
  /** Retries of one request to the service on 502/503/504, network errors and a tag lock held by another session. */
  AUTOCAL_DROPBOX_RETRIES: z.coerce.number().int().min(0).default(3),
  AUTOCAL_DROPBOX_RETRY_MS: z.coerce.number().int().min(0).default(2000),
  AUTOCAL_DROPBOX_TIMEOUT_MS: z.coerce.number().int().positive().default(120_000),
  /** Tags validated but never written (comma-separated). */
  AUTOCAL_DRY_RUN_TAGS: list.default([]),
  /** FCSR policy when neither the tag list below nor the request sets one. */
  AUTOCAL_FCSR_POLICY: policy.default('move'),
  /** Per-tag FCSR policy, overriding the request: "TagA=reject,TagB=move". */
  AUTOCAL_FCSR_POLICY_TAGS: tagPolicies.default({}),
  /** For hlt/express/prompt/pcl tags while no FCSR has been seen: accept (recorded) or reject. */
  AUTOCAL_FCSR_WHEN_UNKNOWN: z.enum(['accept', 'reject']).default('accept'),
  /** Redis lease per destination tag, so two replicas never interleave on one tag. */
  AUTOCAL_TAG_LEASE_MS: z.coerce.number().int().positive().default(30_000),
  /** How long a request waits for another replica's tag lease before it is retried with the consumer's backoff. */
  AUTOCAL_TAG_LEASE_WAIT_MS: z.coerce.number().int().min(0).default(10_000),
  /** Payload files must resolve inside this directory (and inside the request's output_dir); default <AUTOCAL_DATA_DIR>/jobs, where the job-executor puts job outputs. */
  AUTOCAL_OUTPUT_ROOT: z.string().min(1).optional(),
  /** Largest payload file read, in bytes; larger ones are refused unread. */
  AUTOCAL_PAYLOAD_MAX_BYTES: z.coerce.number().int().positive().default(256 * 1024 * 1024)
}).superRefine((c, ctx) => {
  if (c.AUTOCAL_UPLOAD_TARGET === 'dropbox' && (c.AUTOCAL_DROPBOX_USERNAME === undefined || c.AUTOCAL_DROPBOX_PASSWORD === undefined)) {
    ctx.addIssue({ code: 'custom', path: ['AUTOCAL_DROPBOX_USERNAME'], message: 'AUTOCAL_UPLOAD_TARGET=dropbox needs AUTOCAL_DROPBOX_USERNAME and AUTOCAL_DROPBOX_PASSWORD' })
  }
})
export type Config = z.infer<typeof Config>

export function conddbPath (config: Config): string {
  return config.AUTOCAL_CONDDB_PATH ?? join(config.AUTOCAL_DATA_DIR, 'conddb.sqlite')
}

export function historyPath (config: Config): string {
  return config.AUTOCAL_UPLOAD_HISTORY_PATH ?? join(config.AUTOCAL_DATA_DIR, 'condition-uploads.sqlite')
}

/** The directory payload files must resolve inside: AUTOCAL_OUTPUT_ROOT, else the job-executor's <AUTOCAL_DATA_DIR>/jobs. */
export function outputRoot (config: Pick<Config, 'AUTOCAL_OUTPUT_ROOT' | 'AUTOCAL_DATA_DIR'>): string {
  return config.AUTOCAL_OUTPUT_ROOT ?? join(config.AUTOCAL_DATA_DIR, 'jobs')
}
