// The feeder of replays (`autocal campaign replay`): a replay's runs go into
// its campaign one after the other, as run events on autocal.runs.v1 carrying
// the campaign (the way an injection does), spaced by the runs' original
// start-time gaps divided by the speed (domain/replay-plan.ts). Before each,
// the run's recorded Tier-0 facts are put into the read model, so the
// campaign's filters and gates see what production saw.
//
// One replica feeds a replay, under a Redis lease kept alive while it feeds.
// The cursor (runs fed) is stored after each run. When that replica stops
// (restart, crash), the lease ends and a replica — another one, or this one
// when it starts again — takes the replay over from the stored cursor (the
// periodic check runs every lease period; `resumed` counts take-overs). A run
// fed twice around a take-over has the same event id, and the dispatcher
// drops the repeat. A Redis loss loses the replays' progress (not the runs
// fed, which are on Kafka; the start is on the audit topic).
import { randomUUID } from 'node:crypto'
import { setTimeout as delay } from 'node:timers/promises'
import { create } from '@bufbuild/protobuf'
import { timestampFromMs, timestampMs, timestampNow } from '@bufbuild/protobuf/wkt'
import { ReplaySchema, RunEventSchema, RunSchema, topics, type Replay, type ReplayBound as ReplayBoundMessage } from '@autocal/contracts'
import { acquireLease, keepLease, type Logger, type Producer, type RedisHandle } from '@autocal/runtime'
import type { Catalog } from './domain/catalog.ts'
import { replayOffsets } from './domain/replay-plan.ts'
import type { RecordedRunFacts } from './adapters/recorded-runs.ts'
import type { ReplayStore } from './adapters/replay-store.ts'
import type { StateStore } from './adapters/state-store.ts'

export interface ReplayRunnerDeps {
  store: Pick<StateStore, 'saveRun' | 'setRunFact'>
  replays: ReplayStore
  redis: RedisHandle
  producer: Producer
  catalog: Catalog
  logger: Logger
  /** Waits until the read model is complete (rebuilt after a Redis loss). */
  ensureState: () => Promise<void>
  /** TTL of a replay's lease (ms); a stopped feeder's replay is taken over within about this long. */
  leaseMs: number
  now?: () => number
}

/** What a new replay is: the campaign, the period as asked, the speed, who and why, and its recorded runs in feeding order. */
export interface ReplayStart {
  campaign: string
  from: ReplayBoundMessage
  to: ReplayBoundMessage
  speed: number
  actor: string
  reason: string
  subsystems: string[]
  runs: RecordedRunFacts[]
}

/** The longest sleep between two looks at a replay's state (a cancel is seen within it). */
const lookEveryMs = 500

export type ReplayRunner = ReturnType<typeof createReplayRunner>

export function createReplayRunner (deps: ReplayRunnerDeps) {
  const { replays, producer } = deps
  const log = deps.logger.child({ component: 'replay' })
  const now = deps.now ?? Date.now
  const stopping = new AbortController()
  const feeding = new Map<string, Promise<void>>()

  /** Feeds replay `id` from its stored cursor while this replica holds its lease. */
  async function feed (id: string, signal: AbortSignal): Promise<void> {
    const replay = await replays.get(id)
    if (replay === undefined) return
    const runs = await replays.feeds(id)
    const offsets = replayOffsets(runs.map(f => f.run.startTime === undefined ? undefined : Number(timestampMs(f.run.startTime))), replay.speed)
    const base = { replay: id, campaign: replay.campaign }
    if (!deps.catalog.campaigns.has(replay.campaign)) {
      await replays.finish(id, 'failed', `campaign '${replay.campaign}' is no longer in the workflows`, now())
      log.warn(base, 'replay failed: its campaign is gone')
      return
    }
    // each run at its place on one schedule (its offset from the first run), so the time a feed takes does not add
    // up; a replay taken over starts its schedule at the run fed last
    const origin = now() - (replay.fed === 0 ? 0 : offsets[replay.fed - 1] ?? 0)
    for (let i = replay.fed; i < runs.length; i++) {
      if (!await wait(id, origin + (offsets[i] ?? 0) - now(), signal)) {
        // a replay whose record vanished (a Redis loss) is said, with where it stood, not dropped unseen
        if (!signal.aborted && await replays.stateOf(id) === undefined) log.error({ ...base, fed: i, total: runs.length, nextRun: runs[i]?.run.run }, 'replay lost with the Redis read model: start it again from its next run')
        return
      }
      const f = runs[i] as RecordedRunFacts
      // an outage of Redis or Kafka is waited out: the same run again, until it is fed or the replay stops
      for (;;) {
        try {
          await feedRun(replay, f)
          break
        } catch (err) {
          log.warn({ ...base, run: f.run.run, err }, 'replay could not feed a run; trying again')
          if (!await wait(id, 1000, signal)) return
        }
      }
      const startMs = f.run.startTime === undefined ? undefined : Number(timestampMs(f.run.startTime))
      if (!await replays.advance(id, i + 1, f.run.run, startMs, now())) return
      log.debug({ ...base, run: f.run.run, fed: i + 1, total: runs.length }, 'replayed run fed')
    }
    if (await replays.finish(id, 'done', `${runs.length} run(s) fed`, now())) log.info({ ...base, runs: runs.length }, 'replay done')
  }

  /** Puts a run's recorded facts into the read model, then its end into the campaign (event id: once per replay and run). */
  async function feedRun (replay: Replay, f: RecordedRunFacts): Promise<void> {
    await deps.ensureState()
    await deps.store.saveRun(f.run)
    for (const s of f.streams) await deps.store.setRunFact(f.run.run, 'streams', s, true)
    for (const d of f.datasets) await deps.store.setRunFact(f.run.run, 'datasets', d, true)
    const ended = f.run.endTime === undefined ? create(RunSchema, { ...f.run, endTime: timestampNow() }) : f.run
    await producer.publish(topics.runs, create(RunEventSchema, {
      run: f.run.run,
      source: 'replay',
      actor: replay.actor,
      campaign: replay.campaign,
      contentHash: replay.id,
      change: { case: 'ended', value: { run: ended } }
    }), { eventId: `runs/${f.run.run}/replay/${replay.campaign}/${replay.id}` })
  }

  /** Waits `ms`, looking at the replay's state every lookEveryMs: false when it stopped running or this replica stops feeding it. */
  async function wait (id: string, ms: number, signal: AbortSignal): Promise<boolean> {
    const until = now() + ms
    for (;;) {
      if (signal.aborted) return false
      if (await replays.stateOf(id) !== 'running') return false
      const left = until - now()
      if (left <= 0) return true
      await delay(Math.min(left, lookEveryMs), undefined, { signal }).catch(() => undefined)
    }
  }

  /** Takes the replay's lease and feeds it in the background; false when another replica holds it or this one feeds it. */
  async function take (id: string, resumed: boolean): Promise<boolean> {
    if (feeding.has(id) || stopping.signal.aborted) return false
    const lease = await acquireLease(deps.redis, `td:replay:${id}`, deps.leaseMs)
    if (lease === null) return false
    const keeper = keepLease(lease, deps.leaseMs)
    if (resumed) {
      await replays.noteResumed(id)
      log.info({ replay: id }, 'replay taken over from its stored cursor')
    }
    const signal = AbortSignal.any([stopping.signal, keeper.signal])
    const work = feed(id, signal)
      .catch((err: unknown) => { log.error({ replay: id, err }, 'replay feeder stopped; another look takes it over') })
      .finally(async () => {
        await keeper.stop()
        await lease.release().catch(() => false)
        feeding.delete(id)
      })
    feeding.set(id, work)
    return true
  }

  /** Takes over the running replays no replica feeds (their feeder stopped: its lease ended). */
  async function adopt (): Promise<void> {
    for (const id of await replays.running()) {
      if (!feeding.has(id)) await take(id, true)
    }
  }

  const timer = setInterval(() => { adopt().catch((err: unknown) => { log.warn({ err }, 'replay take-over check failed') }) }, deps.leaseMs)
  timer.unref()

  return {
    adopt,
    /** Stores a new replay (state running, cursor 0) and starts feeding it on this replica; returns it as stored. */
    start: async (s: ReplayStart): Promise<Replay> => {
      const id = randomUUID()
      const at = now()
      const replay = create(ReplaySchema, { id, campaign: s.campaign, from: s.from, to: s.to, speed: s.speed, total: s.runs.length, actor: s.actor, reason: s.reason, created: timestampFromMs(at), updated: timestampFromMs(at), subsystems: s.subsystems, runs: s.runs.map(f => f.run.run) })
      await replays.create(replay, s.runs, at)
      await take(id, false)
      log.info({ replay: id, campaign: s.campaign, runs: s.runs.length, speed: s.speed, actor: s.actor }, 'replay started')
      return (await replays.get(id)) ?? replay
    },
    /** Cancels a running replay (its feeder sees it within lookEveryMs); false when it had ended. */
    cancel: async (id: string, actor: string, reason: string): Promise<boolean> =>
      await replays.finish(id, 'cancelled', `cancelled by ${actor}: ${reason}`, now()),
    /** Campaigns a running replay feeds. */
    busyCampaigns: async (): Promise<Set<string>> => {
      const out = new Set<string>()
      for (const id of await replays.running()) {
        const r = await replays.get(id, false)
        if (r !== undefined) out.add(r.campaign)
      }
      return out
    },
    /** Stops feeding (the leases are released: another replica, or this one restarted, goes on from the cursor). */
    [Symbol.asyncDispose]: async (): Promise<void> => {
      clearInterval(timer)
      stopping.abort()
      await Promise.all([...feeding.values()])
    }
  }
}
