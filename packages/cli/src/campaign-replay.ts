// `autocal campaign replay`: feeds the recorded runs of a past period into a
// sandbox campaign, through the dispatcher's replay RPCs (the dispatcher
// feeds them; the CLI only starts, shows, follows or cancels a replay).
import { setTimeout as delay } from 'node:timers/promises'
import { create, toJson, type MessageInitShape } from '@bufbuild/protobuf'
import { timestampDate, timestampFromMs } from '@bufbuild/protobuf/wkt'
import { z } from 'zod'
import { ReplayBoundSchema, ReplaySchema, ReplayState, runProblem, type ControlService, type Replay } from '@autocal/contracts'
import type { GrpcClient } from '@autocal/runtime'

/** A usage mistake in the replay flags (exit 2). */
export class ReplayUsageError extends Error {}

export interface ReplayFlags {
  from?: string | undefined
  to?: string | undefined
  into?: string | undefined
  speed?: string | undefined
  follow?: boolean | undefined
  status?: string | undefined
  list?: boolean | undefined
  cancel?: string | undefined
  campaign?: string | undefined
  reason?: string | undefined
  json?: boolean | undefined
}

// an ISO 8601 date-time with seconds and a zone (Z or ±hh:mm): zod's check, then the standard Date parse
const isoTime = z.iso.datetime({ offset: true, local: false })

/**
 * A bound of `--from`/`--to`: a run number (digits) or an ISO 8601 time with
 * its zone (`2022-07-20T10:00:00Z`, `2022-07-20T12:00:00+02:00`). Throws
 * ReplayUsageError naming the flag and the value otherwise.
 */
export function replayBoundOf (text: string | undefined, flag: '--from' | '--to'): MessageInitShape<typeof ReplayBoundSchema> {
  if (text === undefined || text.trim() === '') throw new ReplayUsageError(`${flag} is required: an ISO time (e.g. 2022-07-20T10:00:00Z) or a run number`)
  if (/^\d+$/.test(text)) {
    const problem = runProblem(BigInt(text))
    if (problem !== undefined) throw new ReplayUsageError(`${flag}: ${problem}`)
    return { bound: { case: 'run', value: Number(text) } }
  }
  if (!isoTime.safeParse(text).success) throw new ReplayUsageError(`${flag}: '${text}' is neither a run number nor an ISO 8601 time with a zone (e.g. 2022-07-20T10:00:00Z)`)
  return { bound: { case: 'time', value: timestampFromMs(Date.parse(text)) } }
}

/** `--speed`: a number > 0 (3600 = an hour in a second), or `max` (as fast as possible: 0 on the wire); default 1, the original pace. */
export function replaySpeedOf (text: string | undefined): number {
  if (text === undefined) return 1
  if (text === 'max') return 0
  const n = Number(text)
  if (text.trim() === '' || !Number.isFinite(n) || n <= 0) throw new ReplayUsageError(`--speed: expected a number > 0 or max, got '${text}'`)
  return n
}

const stateNames: Record<ReplayState, string> = { [ReplayState.UNSPECIFIED]: 'unknown', [ReplayState.RUNNING]: 'running', [ReplayState.DONE]: 'done', [ReplayState.CANCELLED]: 'cancelled', [ReplayState.FAILED]: 'failed' }

const boundText = (b: Replay['from']): string => b?.bound.case === 'run' ? `run ${b.bound.value}` : b?.bound.case === 'time' ? timestampDate(b.bound.value).toISOString() : '?'

/** One line of a replay: `ID campaign C period A .. B speed S: state, fed/total, run R (start)`. */
export function replayLine (r: Replay): string {
  const current = r.currentRun === 0 ? '' : `, last run ${r.currentRun}${r.currentRunStart === undefined ? '' : ` (started ${timestampDate(r.currentRunStart).toISOString()})`}`
  const resumed = r.resumed === 0 ? '' : `, taken over ${r.resumed} time(s)`
  const why = r.stateReason === '' ? '' : ` — ${r.stateReason}`
  return `${r.id} campaign ${r.campaign} period ${boundText(r.from)} .. ${boundText(r.to)} speed ${r.speed === 0 ? 'max' : r.speed}: ${stateNames[r.state] ?? 'unknown'}, ${r.fed}/${r.total} run(s) fed${current}${resumed}${why}`
}

/**
 * Runs `autocal campaign replay`: start (--from --to --into [--speed] [--follow]),
 * --status ID [--follow], --list [--campaign C], --cancel ID --reason. Returns the
 * exit code: 0, or 1 when a followed replay ends other than done.
 */
export async function runCampaignReplay (v: ReplayFlags, connect: () => GrpcClient<typeof ControlService>, out: (s: string) => void, progress: (s: string, last?: boolean) => void): Promise<number> {
  const show = (r: Replay): void => { out(v.json === true ? JSON.stringify(toJson(ReplaySchema, r)) : replayLine(r)) }
  const chosen = [v.status !== undefined, v.list === true, v.cancel !== undefined, v.into !== undefined].filter(Boolean).length
  if (chosen > 1) throw new ReplayUsageError('give one of --into (start a replay), --status ID, --list or --cancel ID')
  if (v.list === true) {
    const res = await connect().listReplays({ campaign: v.campaign ?? '' })
    if (v.json === true) out(JSON.stringify(res.replays.map(r => toJson(ReplaySchema, r))))
    else if (res.replays.length === 0) out('no replays')
    else for (const r of res.replays) show(r)
    return 0
  }
  if (v.cancel !== undefined) {
    if (v.reason === undefined || v.reason.trim() === '') throw new ReplayUsageError('--reason is required')
    const res = await connect().cancelReplay({ id: v.cancel, reason: v.reason })
    if (res.replay !== undefined) show(res.replay)
    return 0
  }
  let id: string
  if (v.status !== undefined) {
    id = v.status
    const res = await connect().getReplay({ id })
    if (res.replay === undefined || v.follow !== true) {
      if (res.replay !== undefined) show(res.replay)
      return 0
    }
  } else {
    if (v.into === undefined || v.into.trim() === '') throw new ReplayUsageError('--into CAMPAIGN is required (or --status ID, --list, --cancel ID)')
    if (v.reason === undefined || v.reason.trim() === '') throw new ReplayUsageError('--reason is required')
    const request = { campaign: v.into, from: create(ReplayBoundSchema, replayBoundOf(v.from, '--from')), to: create(ReplayBoundSchema, replayBoundOf(v.to, '--to')), speed: replaySpeedOf(v.speed), reason: v.reason }
    const res = await connect().startReplay(request)
    if (res.replay === undefined) throw new Error('the dispatcher answered without the replay')
    id = res.replay.id
    show(res.replay)
    if (v.follow !== true) return 0
  }
  // --follow: the replay's progress until it ends (the dispatcher feeds it whether or not this waits)
  for (;;) {
    await delay(1000)
    const r = (await connect().getReplay({ id })).replay
    if (r === undefined) throw new Error(`replay ${id} is gone`)
    if (r.state !== ReplayState.RUNNING) {
      progress(replayLine(r), true)
      if (v.json === true) show(r)
      return r.state === ReplayState.DONE ? 0 : 1
    }
    progress(replayLine(r))
  }
}
