// Replays in Redis: one hash per replay (td:replay:<id>) and an index by
// creation time (td:replays). The hash holds the replay as started (campaign,
// period, speed, who and why, the runs in feeding order), the recorded facts
// of its runs as read when it started (so that a replica taking it over feeds
// exactly those), and its progress: state, the cursor (runs fed), the run fed
// last. Progress and the end state are written only while the replay is
// running (one script: read the state, then write), so a cancel is never
// overwritten by the feeder.
import { create, fromJson, fromJsonString, toJson, toJsonString, type JsonValue } from '@bufbuild/protobuf'
import { timestampFromMs } from '@bufbuild/protobuf/wkt'
import { ReplaySchema, ReplayState, RunSchema, type Replay } from '@autocal/contracts'
import { redisScript, runScript, type RedisHandle } from '@autocal/runtime'
import type { RecordedRunFacts } from './recorded-runs.ts'

/** Where a replay stands, as stored. */
export type ReplayStateName = 'running' | 'done' | 'cancelled' | 'failed'

const stateOfName: Record<ReplayStateName, ReplayState> = { running: ReplayState.RUNNING, done: ReplayState.DONE, cancelled: ReplayState.CANCELLED, failed: ReplayState.FAILED }

// KEYS: the replay's hash. ARGV: field, value, field, value, … Writes them only while its state is "running"; 1 when written.
const whileRunning = redisScript(`
if redis.call('hget', KEYS[1], 'state') ~= 'running' then return 0 end
redis.call('hset', KEYS[1], unpack(ARGV))
return 1
`)

export type ReplayStore = ReturnType<typeof createReplayStore>

export function createReplayStore (redis: RedisHandle) {
  const r = redis.client
  const k = (id: string): string => redis.key('td', 'replay', id)
  const index = redis.key('td', 'replays')

  /** The replay as stored (without its runs when `withRuns` is false), or undefined. */
  async function get (id: string, withRuns = true): Promise<Replay | undefined> {
    const [text, state, fed, currentRun, currentStart, updated, resumed, reason] = await r.hmget(k(id), 'replay', 'state', 'fed', 'current_run', 'current_start_ms', 'updated_ms', 'resumed', 'state_reason')
    if (text === null || text === undefined) return undefined
    const replay = fromJsonString(ReplaySchema, text)
    replay.state = stateOfName[(state ?? 'running') as ReplayStateName] ?? ReplayState.UNSPECIFIED
    replay.fed = Number(fed ?? 0)
    replay.currentRun = Number(currentRun ?? 0)
    if (currentStart !== null && currentStart !== undefined && currentStart !== '') replay.currentRunStart = timestampFromMs(Number(currentStart))
    if (updated !== null && updated !== undefined) replay.updated = timestampFromMs(Number(updated))
    replay.resumed = Number(resumed ?? 0)
    replay.stateReason = reason ?? ''
    if (!withRuns) replay.runs = []
    return replay
  }

  return {
    get,
    /** Stores a new replay in state running with nothing fed, and the recorded facts of its runs in feeding order. */
    create: async (replay: Replay, runs: readonly RecordedRunFacts[], nowMs: number): Promise<void> => {
      const facts = runs.map(f => ({ run: toJson(RunSchema, f.run), streams: [...f.streams].sort(), datasets: [...f.datasets].sort() }))
      await r.multi()
        .hset(k(replay.id), 'replay', toJsonString(ReplaySchema, create(ReplaySchema, { ...replay, state: ReplayState.RUNNING })), 'facts', JSON.stringify(facts), 'state', 'running', 'fed', '0', 'current_run', '0', 'updated_ms', String(nowMs), 'resumed', '0')
        .zadd(index, nowMs, replay.id)
        .exec()
    },
    /** The recorded facts of the replay's runs, in feeding order. */
    feeds: async (id: string): Promise<RecordedRunFacts[]> => {
      const text = await r.hget(k(id), 'facts')
      return (JSON.parse(text ?? '[]') as Array<{ run: JsonValue, streams: string[], datasets: string[] }>).map(f => ({ run: fromJson(RunSchema, f.run), streams: new Set(f.streams), datasets: new Set(f.datasets) }))
    },
    stateOf: async (id: string): Promise<ReplayStateName | undefined> => (await r.hget(k(id), 'state') ?? undefined) as ReplayStateName | undefined,
    /** Moves the cursor: `fed` runs fed, the last one `run` (started at startMs); false when the replay no longer runs. */
    advance: async (id: string, fed: number, run: number, startMs: number | undefined, nowMs: number): Promise<boolean> =>
      await runScript(r, whileRunning, [k(id)], ['fed', fed, 'current_run', run, 'current_start_ms', startMs ?? '', 'updated_ms', nowMs]) === 1,
    /** Ends a running replay (done, cancelled or failed, with why); false when it had ended already. */
    finish: async (id: string, state: Exclude<ReplayStateName, 'running'>, reason: string, nowMs: number): Promise<boolean> =>
      await runScript(r, whileRunning, [k(id)], ['state', state, 'state_reason', reason, 'updated_ms', nowMs]) === 1,
    /** Counts a take-over of the replay from its stored cursor. */
    noteResumed: async (id: string): Promise<void> => { await r.hincrby(k(id), 'resumed', 1) },
    /** Every replay, newest first, without their runs. */
    list: async (): Promise<Replay[]> => {
      const ids = await r.zrevrange(index, 0, -1)
      const out: Replay[] = []
      for (const id of ids) {
        const replay = await get(id, false)
        if (replay !== undefined) out.push(replay)
      }
      return out
    },
    /** Ids of the replays in state running. */
    running: async (): Promise<string[]> => {
      const ids = await r.zrange(index, 0, -1)
      if (ids.length === 0) return []
      const pipe = r.pipeline()
      for (const id of ids) pipe.hget(k(id), 'state')
      const res = (await pipe.exec()) ?? []
      return ids.filter((_, i) => res[i]?.[1] === 'running')
    }
  }
}
