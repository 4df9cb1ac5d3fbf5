// The console's part of the read model in Redis, under "<prefix>metrics:console:"
// (so a rebuild clears and refills it with the rest of the model). Layout:
//   console:runs:<campaign>        sorted set run → run (server-side paging, newest first)
//   console:history:<task key>     hash version → TransitionView JSON
//   console:tags                   set of destination tags
//   console:tag:<tag>              hash request id → TagUploadView JSON
//   console:dead-letters           sorted set (time ms) of dead-letter JSON, newest 500 kept
//   console:redriven               hash dead-letter id → RedriveView JSON (accepted dlq.redrive audit records)
//   console:executors              hash executor → ExecutorSeen JSON
//   console:running                hash job entry → executor (jobs whose latest phase is running)
// Every write is idempotent: a redelivered message writes the same field again.
import type { RedisHandle } from '@autocal/runtime'
import type { ExecutorSeen, TagUploadView, TransitionView } from '../domain/console-views.ts'

export interface DeadLetterView {
  /** Where it sits on the DLQ topic, "<partition>/<offset>": what `autocal dlq` and the redrive route name it by. */
  id: string
  /** The subsystem of the message (see subsystemOfDeadLetter), null when it has none or cannot be read. */
  subsystem: string | null
  eventId: string
  topic: string
  partition: number
  offset: string
  code: string
  reason: string
  consumerGroup: string
  service: string
  attempts: number
  at: string
}

/** Who sent a dead letter back, when (ISO), and why. */
export interface RedriveView {
  principal: string
  at: string
  reason: string
}

export interface ConsoleStore {
  addRuns: (campaign: string, runs: number[]) => Promise<void>
  /** Runs of a campaign, newest first, below `before` (exclusive) when given. */
  runsPage: (campaign: string, before: number | undefined, count: number) => Promise<number[]>
  runCount: (campaign: string) => Promise<number>
  addTransition: (taskKey: string, t: TransitionView) => Promise<void>
  history: (taskKey: string) => Promise<TransitionView[]>
  saveUpload: (tag: string, u: TagUploadView) => Promise<void>
  tags: () => Promise<string[]>
  uploadsOf: (tag: string) => Promise<TagUploadView[]>
  addDeadLetter: (d: DeadLetterView) => Promise<void>
  deadLetters: (count: number) => Promise<DeadLetterView[]>
  markRedriven: (id: string, r: RedriveView) => Promise<void>
  /** The redrives of these dead-letter ids (absent: not redriven). */
  redrivesOf: (ids: string[]) => Promise<Map<string, RedriveView>>
  seeExecutor: (e: ExecutorSeen) => Promise<void>
  setRunning: (entry: string, executor: string | undefined) => Promise<void>
  executors: () => Promise<ExecutorSeen[]>
  running: () => Promise<Array<{ entry: string, executor: string }>>
  /** Task keys of the read model's prompt-hold index (metrics:deadlines) due up to `to` (ms), read only. */
  deadlineKeysUpTo: (to: number) => Promise<string[]>
}

const keptDeadLetters = 500

export function createConsoleStore (redis: RedisHandle): ConsoleStore {
  const { client } = redis
  const k = (...parts: Array<string | number>): string => redis.key('metrics', 'console', ...parts)
  return {
    addRuns: async (campaign, runs) => {
      if (runs.length > 0) await client.zadd(k('runs', campaign), ...runs.flatMap(r => [r, String(r)]))
    },
    runsPage: async (campaign, before, count) =>
      (await client.zrevrangebyscore(k('runs', campaign), before === undefined ? '+inf' : `(${before}`, '-inf', 'LIMIT', 0, count)).map(Number),
    runCount: async campaign => await client.zcard(k('runs', campaign)),
    addTransition: async (taskKey, t) => { await client.hset(k('history', taskKey), String(t.version), JSON.stringify(t)) },
    history: async taskKey => Object.values(await client.hgetall(k('history', taskKey))).map(v => JSON.parse(v) as TransitionView).sort((a, b) => a.version - b.version),
    saveUpload: async (tag, u) => {
      await client.multi().sadd(k('tags'), tag).hset(k('tag', tag), u.requestId, JSON.stringify(u)).exec()
    },
    tags: async () => (await client.smembers(k('tags'))).sort(),
    uploadsOf: async tag => Object.values(await client.hgetall(k('tag', tag))).map(v => JSON.parse(v) as TagUploadView),
    addDeadLetter: async d => {
      await client.multi().zadd(k('dead-letters'), Date.parse(d.at) || 0, JSON.stringify(d)).zremrangebyrank(k('dead-letters'), 0, -keptDeadLetters - 1).exec()
    },
    deadLetters: async count => (await client.zrevrange(k('dead-letters'), 0, count - 1)).map(v => JSON.parse(v) as DeadLetterView),
    markRedriven: async (id, r) => { await client.hset(k('redriven'), id, JSON.stringify(r)) },
    redrivesOf: async ids => {
      if (ids.length === 0) return new Map()
      const values = await client.hmget(k('redriven'), ...ids)
      return new Map(ids.flatMap((id, i) => { const v = values[i]; return v === null || v === undefined ? [] : [[id, JSON.parse(v) as RedriveView] as const] }))
    },
    seeExecutor: async e => {
      const old = await client.hget(k('executors'), e.executor)
      if (old !== null && (JSON.parse(old) as ExecutorSeen).lastSeenAt >= e.lastSeenAt) return
      await client.hset(k('executors'), e.executor, JSON.stringify(e))
    },
    setRunning: async (entry, executor) => {
      if (executor === undefined) await client.hdel(k('running'), entry)
      else await client.hset(k('running'), entry, executor)
    },
    executors: async () => Object.values(await client.hgetall(k('executors'))).map(v => JSON.parse(v) as ExecutorSeen),
    deadlineKeysUpTo: async to => await client.zrangebyscore(redis.key('metrics', 'deadlines'), '-inf', to),
    running: async () => Object.entries(await client.hgetall(k('running'))).map(([entry, executor]) => ({ entry, executor }))
  }
}
