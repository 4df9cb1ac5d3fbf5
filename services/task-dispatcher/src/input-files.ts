// The files of data-aware tasks (issue 15), between the planner and DBS: once
// every other gate of a task with an input dataset is open, DBS is asked
// about the dataset for the block's runs (adapters/dbs.ts), and the decision
// (domain/file-slices.ts) becomes the task's gates transition: wait for
// Tier-0 to close the dataset (`datasetLocked`), skip the task when there is
// no file, or dispatch one job per slice. A failed read of DBS is an
// infrastructure failure: retried after the task's backoff (doubling) up to
// its `retry.infrastructure`, then the task fails; the note of the failures
// is kept in Redis (`td:dbs:<task key>|<attempt>`, made afresh after a loss
// of Redis: the count starts again).
import { errorMessage, type Logger, type RedisHandle } from '@autocal/runtime'
import { datasetProblem, dbsFailureDecision, dbsGate, expandDataset, inputDecision, lockGate, lockPending, unusableAccessTypes } from './domain/file-slices.ts'
import type { Task } from './domain/task-state.ts'
import type { TaskDef } from './domain/workflow.ts'
import type { DbsClient } from './adapters/dbs.ts'

/** What the gates transition of a data-aware task carries besides its pending gates (task-state.ts `gates`). */
export interface InputGates {
  pending: string[]
  jobFiles?: string[][]
  why?: string
  end?: { state: 'skipped' | 'failed', reason: string }
}

interface FailureNote { failures: number, retryAtMs: number, why: string }

export interface InputFilesDeps {
  /** undefined: no DBS configured (AUTOCAL_DBS_URL unset); a data-aware task then waits with that reason. */
  dbs: DbsClient | undefined
  redis: RedisHandle
  logger: Logger
  /** How long DBS's "not closed yet" is trusted before DBS is asked again for a `datasetLocked` gate (ms). */
  recheckMs: number
  now?: () => number
}

export function createInputFiles (deps: InputFilesDeps) {
  const log = deps.logger.child({ component: 'input-files' })
  const now = deps.now ?? Date.now
  const noteKey = (key: string, attempt: number): string => deps.redis.key('td', 'dbs', `${key}|${attempt}`)
  const lockKey = (key: string, attempt: number): string => deps.redis.key('td', 'dbslock', `${key}|${attempt}`)

  /**
   * The gates of task `t` (key `key`) once its input dataset is asked about: `pending` (the other gates) as it is
   * for a task without input, or while one of them is closed; else DBS decides (see the header).
   */
  async function gates (key: string, t: Task, def: TaskDef, pending: string[]): Promise<InputGates> {
    if (def.input === undefined || pending.length > 0) return { pending }
    const dataset = expandDataset(def.input.dataset, t.block)
    const problem = datasetProblem(dataset)
    if (problem !== undefined) return { pending: [], end: { state: 'failed', reason: `input dataset of block ${t.block.id}: ${problem}` } }
    if (deps.dbs === undefined) return { pending: [dbsGate(dataset)], why: 'no DBS configured: set AUTOCAL_DBS_URL' }
    const nk = noteKey(key, t.attempt)
    const raw = await deps.redis.client.get(nk)
    const note = raw === null ? undefined : JSON.parse(raw) as FailureNote
    if (note !== undefined && note.retryAtMs > now()) return { pending: [dbsGate(dataset)], why: note.why }
    // a "not closed yet" is trusted for recheckMs (the tick evaluates waiting tasks every second; DBS has no push)
    if (def.gates.datasetLocked === true && await deps.redis.client.exists(lockKey(key, t.attempt)) === 1) return { pending: [lockGate(dataset)] }
    try {
      const state = await deps.dbs.datasetState(dataset, t.block.runs)
      const lock = def.gates.datasetLocked === true ? lockPending(dataset, state) : undefined
      const files = lock !== undefined || (state.accessType !== undefined && unusableAccessTypes.has(state.accessType)) ? [] : await deps.dbs.datasetFiles(dataset, t.block.runs)
      if (note !== undefined) await deps.redis.client.del(nk)
      if (lock !== undefined) {
        await deps.redis.client.set(lockKey(key, t.attempt), '1', 'PX', deps.recheckMs)
        return { pending: [lock] }
      }
      const d = inputDecision(dataset, t.block.runs, state, files, def.input.fanOut)
      if (d.kind === 'skip') return { pending: [], end: { state: 'skipped', reason: d.reason } }
      log.info({ campaign: t.campaign, block: t.block.id, task: t.task, dataset, files: files.length, jobs: d.jobFiles.length }, 'input files listed')
      return { pending: [], jobFiles: d.jobFiles }
    } catch (err) {
      const failures = note?.failures ?? 0
      const d = dbsFailureDecision({ infrastructure: def.infrastructureRetries }, failures, def.backoffS, now(), dataset, errorMessage(err))
      log.warn({ campaign: t.campaign, block: t.block.id, task: t.task, dataset, failures: failures + 1, reason: errorMessage(err) }, 'DBS not read')
      if (d.kind === 'fail') {
        await deps.redis.client.del(nk)
        return { pending: [], end: { state: 'failed', reason: d.reason } }
      }
      await deps.redis.client.set(nk, JSON.stringify({ failures: failures + 1, retryAtMs: d.atMs, why: d.why } satisfies FailureNote), 'PX', Math.max(60_000, 2 * (d.atMs - now())))
      return { pending: [dbsGate(dataset)], why: d.why }
    }
  }

  return { gates }
}

export type InputFiles = ReturnType<typeof createInputFiles>
