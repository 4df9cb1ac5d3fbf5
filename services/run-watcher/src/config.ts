// Configuration of the run-watcher. Each source is on when its key is set;
// several can run at once.
import { existsSync } from 'node:fs'
import { z } from 'zod'
import { baseShape, httpShape, kafkaShape, redisShape } from '@autocal/runtime'
import { isValidName, runLimit } from '@autocal/contracts'
import { parseInjectTokens } from './inject-tokens.ts'

/** A run number setting: 1 ≤ run < 2^32, as on every topic. */
const runNumber = z.coerce.number().int().positive().lt(runLimit, 'a run number must be below 2^32')

const list = z.string().transform(s => s.split(',').map(p => p.trim()).filter(p => p !== ''))

/**
 * Tier-0 stream and primary dataset names (Express, ALCAPHISYM, ZeroBias …):
 * they become parts of Redis keys and event content, so they follow the
 * generic name grammar of @autocal/contracts (letters, digits, _ . -).
 */
const t0Names = list.superRefine((names, ctx) => {
  for (const n of names) if (n !== 'none' && !isValidName('workflow', n)) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(n.slice(0, 60))} is not a valid stream or dataset name: expected letters, digits, _ . - (at most 100, starting with a letter or digit)` })
})

export const Config = z.object({
  ...baseShape,
  ...kafkaShape,
  ...redisShape,
  ...httpShape,
  AUTOCAL_HTTP_PORT: httpShape.AUTOCAL_HTTP_PORT.unwrap().default(8081),

  /** OMS REST API base, e.g. https://cmsoms.cern.ch/agg/api/v1 (the poller is off when unset). */
  AUTOCAL_OMS_URL: z.url().optional(),
  AUTOCAL_OMS_POLL_MS: z.coerce.number().int().positive().default(30_000),
  AUTOCAL_OMS_PAGE_SIZE: z.coerce.number().int().min(1).max(10_000).default(100),
  AUTOCAL_OMS_TIMEOUT_MS: z.coerce.number().int().positive().default(15_000),
  /** First run to ask OMS for (before any watermark exists). */
  AUTOCAL_OMS_FIRST_RUN: runNumber.default(1),
  /** Runs below the watermark asked again each round, for late corrections. */
  AUTOCAL_OMS_LOOKBACK_RUNS: z.coerce.number().int().min(0).default(50),
  /** Only global runs (filter[sequence][EQ]=GLOBAL-RUN). */
  AUTOCAL_OMS_GLOBAL_ONLY: z.stringbool().default(true),
  /** OIDC client credentials (all three, or none). */
  AUTOCAL_OMS_TOKEN_URL: z.url().optional(),
  AUTOCAL_OMS_CLIENT_ID: z.string().min(1).optional(),
  AUTOCAL_OMS_CLIENT_SECRET: z.string().min(1).optional(),
  AUTOCAL_OMS_AUDIENCE: z.string().min(1).default('cmsoms-prod'),

  /** Tier-0 data service base, e.g. https://cmsweb.cern.ch/t0wmadatasvc/prod (off when unset). */
  AUTOCAL_T0_URL: z.url().optional(),
  AUTOCAL_T0_POLL_MS: z.coerce.number().int().positive().default(60_000),
  AUTOCAL_T0_TIMEOUT_MS: z.coerce.number().int().positive().default(15_000),
  /** Streams asked about, e.g. "Express,ALCAPHISYM". */
  AUTOCAL_T0_STREAMS: t0Names.default([]),
  AUTOCAL_T0_DATASETS: t0Names.default([]),
  AUTOCAL_T0_WINDOW_RUNS: z.coerce.number().int().positive().default(200),

  /** Run list to replay: an OMS CSV export or a JSON run list (off when unset). */
  AUTOCAL_REPLAY_FILE: z.string().min(1).refine(existsSync, 'file does not exist').optional(),
  /** 0 = everything at once; S = S times faster than the runs happened (52560: a year in ten minutes). */
  AUTOCAL_REPLAY_SCALE: z.coerce.number().min(0).default(0),
  AUTOCAL_REPLAY_FROM_RUN: runNumber.optional(),
  AUTOCAL_REPLAY_TO_RUN: runNumber.optional(),
  /** Streams announced done when a replayed run ends (replaying the past: Tier-0 processed it); "none" for none. */
  AUTOCAL_REPLAY_T0_STREAMS: t0Names.transform(l => l.length === 1 && l[0] === 'none' ? [] : l).default(['Express', 'ALCAPHISYM']),
  AUTOCAL_REPLAY_TICK_MS: z.coerce.number().int().positive().default(200),
  /**
   * Tier-0's prompt delay in hours: the replay (and the generator) announce the
   * first condition-safe run as Tier-0 would, this long after each run's end;
   * "none" for no FCSR facts. Off while the Tier-0 poller (AUTOCAL_T0_URL) runs.
   */
  AUTOCAL_REPLAY_FCSR_DELAY_HOURS: z.union([z.literal('none').transform(() => false as const), z.coerce.number().min(0).max(24 * 365)]).default(48),

  /** Built-in run generator: N made-up runs, replayed like a run list (off when 0). */
  AUTOCAL_GENERATOR_RUNS: z.coerce.number().int().min(0).default(0),
  AUTOCAL_GENERATOR_SEED: z.coerce.number().int().default(2022),
  AUTOCAL_GENERATOR_FIRST_RUN: runNumber.default(400_000),
  AUTOCAL_GENERATOR_FIRST_FILL: z.coerce.number().int().positive().default(9000),
  /** Start of the first generated run: an ISO-8601 time, or "now" (fixed at the first start, kept in Redis). */
  AUTOCAL_GENERATOR_START: z.union([z.literal('now'), z.iso.datetime({ offset: true })]).default('2022-07-05T00:00:00Z'),
  /** Like AUTOCAL_REPLAY_SCALE; 1 = in real time. */
  AUTOCAL_GENERATOR_SCALE: z.coerce.number().min(0).default(0),
  AUTOCAL_GENERATOR_COLLISION_FRACTION: z.coerce.number().min(0).max(1).default(0.6),
  AUTOCAL_GENERATOR_RUNS_PER_ERA: z.coerce.number().int().positive().default(400),

  /** Retry of a failed source round: first pause, doubled each failure up to the maximum. */
  AUTOCAL_SOURCE_BACKOFF_MS: z.coerce.number().int().positive().default(1000),
  AUTOCAL_SOURCE_BACKOFF_MAX_MS: z.coerce.number().int().positive().default(60_000),

  /**
   * Tokens allowed to POST /api/v1/runs, in the control API's format:
   * {"<token>": {"principal": "alice", "subsystems": "*"}} (only "*" tokens may
   * inject run facts). Or AUTOCAL_INJECT_TOKENS_FILE: a file holding that JSON.
   * Injection is refused when neither is set.
   */
  AUTOCAL_INJECT_TOKENS: z.string().optional(),
  AUTOCAL_INJECT_TOKENS_FILE: z.string().min(1).refine(existsSync, 'file does not exist').optional()
}).superRefine((c, ctx) => {
  if (c.AUTOCAL_INJECT_TOKENS !== undefined && c.AUTOCAL_INJECT_TOKENS_FILE !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['AUTOCAL_INJECT_TOKENS_FILE'], message: 'set AUTOCAL_INJECT_TOKENS or AUTOCAL_INJECT_TOKENS_FILE, not both' })
  } else if (c.AUTOCAL_INJECT_TOKENS !== undefined) {
    const parsed = parseInjectTokens(c.AUTOCAL_INJECT_TOKENS, 'AUTOCAL_INJECT_TOKENS')
    if (typeof parsed === 'string') ctx.addIssue({ code: 'custom', path: ['AUTOCAL_INJECT_TOKENS'], message: parsed })
  }
  const oidc = [c.AUTOCAL_OMS_TOKEN_URL, c.AUTOCAL_OMS_CLIENT_ID, c.AUTOCAL_OMS_CLIENT_SECRET].filter(v => v !== undefined).length
  if (oidc !== 0 && oidc !== 3) {
    ctx.addIssue({ code: 'custom', path: ['AUTOCAL_OMS_TOKEN_URL'], message: 'set AUTOCAL_OMS_TOKEN_URL, AUTOCAL_OMS_CLIENT_ID and AUTOCAL_OMS_CLIENT_SECRET together' })
  }
  if (c.AUTOCAL_T0_URL !== undefined && c.AUTOCAL_T0_STREAMS.length === 0 && c.AUTOCAL_T0_DATASETS.length === 0) {
    ctx.addIssue({ code: 'custom', path: ['AUTOCAL_T0_STREAMS'], message: 'the Tier-0 poller needs AUTOCAL_T0_STREAMS or AUTOCAL_T0_DATASETS' })
  }
  if (c.AUTOCAL_REPLAY_FROM_RUN !== undefined && c.AUTOCAL_REPLAY_TO_RUN !== undefined && c.AUTOCAL_REPLAY_FROM_RUN > c.AUTOCAL_REPLAY_TO_RUN) {
    ctx.addIssue({ code: 'custom', path: ['AUTOCAL_REPLAY_TO_RUN'], message: 'must not be below AUTOCAL_REPLAY_FROM_RUN' })
  }
})
export type Config = z.infer<typeof Config>
