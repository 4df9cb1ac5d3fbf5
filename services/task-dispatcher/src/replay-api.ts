// The control API's replay RPCs (`autocal campaign replay`): StartReplay and
// CancelReplay are commands (a reason, a control token covering the
// campaign's subsystems, one audit record whatever their fate), GetReplay and
// ListReplays reads (a refused read is audited). The replay itself runs in the
// dispatcher (replay-runner.ts), not in the CLI: it goes on when the CLI
// disconnects, and a replica takes it over from its stored cursor when the
// one feeding it stops.
import { timestampMs } from '@bufbuild/protobuf/wkt'
import { nameProblem, operatorReasonProblem, type Replay, type ReplayBound as ReplayBoundMessage, type StartReplayRequest } from '@autocal/contracts'
import { AutocalError, type KafkaConfig, type Logger, type grpc } from '@autocal/runtime'
import { liveCampaigns, type Catalog } from './domain/catalog.ts'
import { periodProblem, periodText, replayTargetProblem, selectReplayRuns, type ReplayBound, type UploadTarget } from './domain/replay-plan.ts'
import { authorise, scopeAllows, type Principal } from './domain/selection.ts'
import { promptCampaign } from './domain/workflow.ts'
import { readRecordedRuns } from './adapters/recorded-runs.ts'
import type { ReplayStore } from './adapters/replay-store.ts'
import type { StateStore } from './adapters/state-store.ts'
import type { ReplayRunner } from './replay-runner.ts'

export interface ReplayApiDeps {
  catalog: Catalog
  store: Pick<StateStore, 'knownRuns' | 'runFacts'>
  replays: ReplayStore
  runner: ReplayRunner
  /** Kafka settings of the run registry reader. */
  kafka: KafkaConfig
  logger: Logger
}

const replayIdRe = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

type Call = { metadata: grpc.Metadata, getPeer: () => string }
interface AuditFacts { principal: string, subsystem: string, target: string, commandId: string, reason: string, details: Record<string, string> }

/** What the replay RPCs use of the control service: its audit wrapper and the principals of a command and of a read. */
export interface ControlHelpers {
  audited: <T>(call: Call, action: string, kind: 'command' | 'read', work: (facts: AuditFacts) => Promise<T>) => Promise<T>
  actorOf: (call: Call) => Principal
  readerOf: (call: Call) => Principal
}

/** A bound of the request as the domain compares it; AUTOCAL_VALIDATION_FAILED naming the flag when it is missing or not a run. */
export function boundOf (b: ReplayBoundMessage | undefined, flag: '--from' | '--to'): ReplayBound {
  const bound = b?.bound
  if (bound?.case === 'time') return { kind: 'time', ms: Number(timestampMs(bound.value)) }
  if (bound?.case === 'run' && bound.value > 0) return { kind: 'run', run: bound.value }
  throw new AutocalError('AUTOCAL_VALIDATION_FAILED', `${flag} is required: an ISO time (e.g. 2022-07-20T10:00:00Z) or a run number`)
}

/** The condition targets of a campaign's tasks (tag, database, dry run), as the replay target check compares them. */
function targetsOf (catalog: Catalog, campaign: string): UploadTarget[] {
  return (catalog.campaigns.get(campaign)?.tasks ?? []).flatMap(t => t.upload === undefined ? [] : [{ task: t.name, tag: t.upload.tag, destinationDatabase: t.upload.destinationDatabase, dryRun: t.upload.dryRun }])
}

export function replayRpcs (deps: ReplayApiDeps, h: ControlHelpers) {
  const { catalog, replays, runner } = deps
  const log = deps.logger.child({ component: 'control' })

  /** The replay `id` within the reader's scope; NOT_FOUND / FORBIDDEN otherwise. */
  async function replayFor (p: Principal, id: string, withRuns: boolean): Promise<Replay> {
    if (id.trim() === '') throw new AutocalError('AUTOCAL_VALIDATION_FAILED', 'a replay id is required (as `autocal campaign replay --list` shows it)')
    // ids are the UUIDs StartReplay gave; anything else is refused before it becomes part of a Redis key
    if (!replayIdRe.test(id)) throw new AutocalError('AUTOCAL_VALIDATION_FAILED', `id: ${JSON.stringify(id)} is not a replay id (a UUID, as \`autocal campaign replay --list\` shows it)`)
    const r = await replays.get(id, withRuns)
    if (r === undefined) throw new AutocalError('AUTOCAL_NOT_FOUND', `no replay ${JSON.stringify(id)} (autocal campaign replay --list shows them)`)
    if (!r.subsystems.some(s => scopeAllows(p.subsystems, s))) throw Object.assign(new AutocalError('AUTOCAL_FORBIDDEN', `${p.principal} may act for ${p.subsystems.join(', ') || 'no subsystem'}, but replay ${id} feeds campaign ${r.campaign} of ${r.subsystems.join(', ')}`), { principal: p.principal })
    return r
  }

  return {
    startReplay: async (req: StartReplayRequest, call: Call) => await h.audited(call, 'control.StartReplay', 'command', async facts => {
      facts.reason = req.reason
      facts.target = `campaign ${req.campaign}`
      const p = h.actorOf(call)
      facts.principal = p.principal
      const why = operatorReasonProblem(req.reason)
      if (why !== undefined) throw new AutocalError('AUTOCAL_VALIDATION_FAILED', why)
      if (req.campaign !== '') {
        const problem = nameProblem('campaign', req.campaign)
        if (problem !== undefined) throw new AutocalError('AUTOCAL_VALIDATION_FAILED', `--into: ${problem}`)
      }
      const from = boundOf(req.from, '--from')
      const to = boundOf(req.to, '--to')
      const period = periodText(from, to)
      facts.target = `campaign ${req.campaign} period ${period}`
      facts.details = { period, speed: req.speed === 0 ? 'max' : String(req.speed) }
      if (!Number.isFinite(req.speed) || req.speed < 0) throw new AutocalError('AUTOCAL_VALIDATION_FAILED', `--speed must be a number > 0 or max, got ${req.speed}`)
      const problem = periodProblem(from, to)
      if (problem !== undefined) throw new AutocalError('AUTOCAL_VALIDATION_FAILED', problem)
      const known = [...catalog.campaigns.keys()]
      // live campaigns (prompt, shadows, runtime live ones) take live runs, not replays; a closed one takes no run at all
      const live = new Set([promptCampaign, ...liveCampaigns(catalog)])
      const closed = catalog.campaigns.get(req.campaign)?.state === 'closed'
      if (closed) throw new AutocalError('AUTOCAL_VALIDATION_FAILED', `campaign '${req.campaign}' is closed: it takes no runs (autocal campaign list)`)
      const target = replayTargetProblem(req.campaign, known, live, await runner.busyCampaigns(), targetsOf(catalog, req.campaign), targetsOf(catalog, promptCampaign))
      if (target !== undefined) throw new AutocalError(known.includes(req.campaign) || req.campaign === '' ? 'AUTOCAL_VALIDATION_FAILED' : 'AUTOCAL_NOT_FOUND', target)
      const c = catalog.campaigns.get(req.campaign)
      if (c === undefined) throw new AutocalError('AUTOCAL_NOT_FOUND', `unknown campaign '${req.campaign}'`)
      facts.subsystem = [...c.subsystems].sort().join(',')
      const auth = authorise(p, c.subsystems, `replaying into campaign ${c.name}`)
      if (!auth.ok) throw new AutocalError('AUTOCAL_FORBIDDEN', auth.reason)
      const recorded = await readRecordedRuns(deps.kafka, deps.logger, deps.store)
      const selected = selectReplayRuns([...recorded.values()].map(f => ({ run: f.run.run, startMs: f.run.startTime === undefined ? undefined : Number(timestampMs(f.run.startTime)), facts: f })), from, to).map(r => r.facts)
      if (selected.length === 0) {
        const runs = [...recorded.keys()].sort((a, b) => a - b)
        throw new AutocalError('AUTOCAL_VALIDATION_FAILED', `no recorded run in the period ${period} (the run registry and the runs topic hold ${runs.length} run(s)${runs.length === 0 ? '' : `, ${runs[0]} to ${runs[runs.length - 1]}`})`)
      }
      const replay = await runner.start({ campaign: c.name, from: req.from as ReplayBoundMessage, to: req.to as ReplayBoundMessage, speed: req.speed, actor: p.principal, reason: req.reason, subsystems: [...c.subsystems].sort(), runs: selected })
      facts.commandId = replay.id
      facts.details = { ...facts.details, replay_id: replay.id, runs: String(replay.total), first_run: String(selected[0]?.run.run ?? ''), last_run: String(selected[selected.length - 1]?.run.run ?? '') }
      log.info({ actor: p.principal, replay: replay.id, campaign: c.name, period, runs: replay.total, reason: req.reason }, 'replay accepted')
      return { replay }
    }),
    getReplay: async (req: { id: string }, call: Call) => await h.audited(call, 'control.GetReplay', 'read', async facts => {
      facts.target = `replay ${req.id}`
      const p = h.readerOf(call)
      facts.principal = p.principal
      return { replay: await replayFor(p, req.id, true) }
    }),
    listReplays: async (req: { campaign: string }, call: Call) => await h.audited(call, 'control.ListReplays', 'read', async facts => {
      facts.target = req.campaign === '' ? 'replays' : `replays of campaign ${req.campaign}`
      const p = h.readerOf(call)
      facts.principal = p.principal
      const problem = req.campaign === '' ? undefined : nameProblem('campaign', req.campaign)
      if (problem !== undefined) throw new AutocalError('AUTOCAL_VALIDATION_FAILED', `campaign: ${problem}`)
      const all = await replays.list()
      return { replays: all.filter(r => (req.campaign === '' || r.campaign === req.campaign) && r.subsystems.some(s => scopeAllows(p.subsystems, s))) }
    }),
    cancelReplay: async (req: { id: string, reason: string }, call: Call) => await h.audited(call, 'control.CancelReplay', 'command', async facts => {
      facts.reason = req.reason
      facts.target = `replay ${req.id}`
      const p = h.actorOf(call)
      facts.principal = p.principal
      const r = await replayFor(p, req.id, false)
      facts.subsystem = r.subsystems.join(',')
      facts.commandId = r.id
      const auth = authorise(p, r.subsystems, `cancelling replay ${r.id} into campaign ${r.campaign}`)
      if (!auth.ok) throw new AutocalError('AUTOCAL_FORBIDDEN', auth.reason)
      const why = operatorReasonProblem(req.reason)
      if (why !== undefined) throw new AutocalError('AUTOCAL_VALIDATION_FAILED', why)
      if (!await runner.cancel(r.id, p.principal, req.reason)) throw new AutocalError('AUTOCAL_VALIDATION_FAILED', `replay ${r.id} has ended (${r.stateReason}): nothing to cancel`)
      facts.details = { replay_id: r.id, campaign: r.campaign, fed: String(r.fed), total: String(r.total) }
      log.info({ actor: p.principal, replay: r.id, campaign: r.campaign, reason: req.reason }, 'replay cancelled')
      return { replay: await replays.get(r.id, false) }
    })
  }
}
