// The executor's side of the agent protocol (autocal.agent.v1.AgentService).
// An agent dials in with a bearer token, registers its capabilities and the
// jobs it still has, then keeps one stream open. Each token belongs to one
// agent id: registering under another id is refused (PERMISSION_DENIED), and
// an update for a job not assigned to the agent is refused (not published,
// logged with the peer, autocal_agent_refused_total).
//   agent → executor  heartbeats (renew its liveness key in Redis: its lease on
//                     its jobs), job updates (RUNNING, DONE, FAILED), log text
//   executor → agent  assignments of queued agent jobs (atomically in Redis, so
//                     each (job id, try) goes to one agent), cancels
// Every executor's reconcile loop re-queues the jobs of agents whose liveness
// key expired (agent lost: autocal_agent_lost_total), whichever executor they
// were connected to; a live agent that reconnects (to any executor) within the
// window keeps its jobs.
import { appendFileSync, mkdirSync } from 'node:fs'
import { dirname, isAbsolute, normalize } from 'node:path'
import { create, fromBinary, type MessageInitShape } from '@bufbuild/protobuf'
import { AgentCapabilitiesSchema, AgentServiceConnectResponseSchema, JobPhase, JobRequestSchema, type AgentCapabilities, type AgentServiceConnectRequest, type AgentServiceConnectResponse, type JobRequest } from '@autocal/contracts'
import { AutocalError, bearerToken, failStream, type grpc, type Logger } from '@autocal/runtime'
import type { JobEntry, JobStore } from './adapters/job-store.ts'
import type { StatusPublisher } from './status-publisher.ts'
import type { AgentMetrics } from './metrics.ts'
import { isInside } from './domain/manifest.ts'

export interface AgentHubOptions {
  /** The agent id a presented token belongs to (constant-time check), or undefined. */
  agentOf: (token: string | undefined) => string | undefined
  heartbeatMs: number
  /** No heartbeat for this long: the agent is lost. */
  lostAfterMs: number
  store: JobStore
  statuses: StatusPublisher
  logger: Logger
  metrics: AgentMetrics
  /** Resolves once the job table is complete (rebuilt after a loss of Redis's data); absent = assumed complete. */
  ensureState?: () => Promise<void>
}

type Call = grpc.ServerDuplexStream<AgentServiceConnectRequest, AgentServiceConnectResponse>

interface Session {
  agent: string
  call: Call
  capabilities: AgentCapabilities
  lastHeartbeatMs: number
  /** Keys of jobs assigned to this agent. */
  jobs: Set<string>
  cancelsSent: Set<string>
}

const requestOf = (entry: JobEntry): JobRequest => fromBinary(JobRequestSchema, Buffer.from(entry.request, 'base64'))

export function createAgentHub (o: AgentHubOptions) {
  const log = o.logger.child({ component: 'agent-hub' })
  const sessions = new Map<string, Session>()
  let stopped = false

  const send = (s: Session, message: MessageInitShape<typeof AgentServiceConnectResponseSchema>['message']): void => {
    if (!s.call.destroyed && !s.call.writableEnded) s.call.write(create(AgentServiceConnectResponseSchema, { message } as MessageInitShape<typeof AgentServiceConnectResponseSchema>))
  }

  async function register (call: Call, agent: string, capabilities: AgentCapabilities, jobs: Array<{ jobId: string, try: number }>): Promise<Session> {
    const previous = sessions.get(agent)
    if (previous !== undefined && previous.call !== call) previous.call.end()
    await o.store.agentHeartbeat(agent, o.lostAfterMs)
    const s: Session = { agent, call, capabilities, lastHeartbeatMs: Date.now(), jobs: new Set(), cancelsSent: new Set() }
    const cancel: Array<{ jobId: string, try: number }> = []
    const reported = new Set<string>()
    for (const j of jobs) {
      const key = `${j.jobId}#${j.try}`
      reported.add(key)
      if (await o.store.reattachToAgent(key, agent) || await o.store.assignToAgent(key, agent)) s.jobs.add(key)
      else cancel.push(j)
    }
    // jobs assigned to this agent that it no longer knows (it restarted without its state): queued again
    for (const entry of await o.store.entries()) {
      if (entry.backend === 'agent' && entry.agent === agent && !reported.has(entry.key)) {
        if (await o.store.requeueFromAgent(entry.key, agent, false)) log.warn({ agent, job: entry.jobId, try: entry.try }, 'agent no longer has a job assigned to it; queued again')
      }
    }
    sessions.set(agent, s)
    send(s, { case: 'registered', value: { heartbeatIntervalMs: o.heartbeatMs, cancel } })
    log.info({ agent, slots: capabilities.slots, pool: capabilities.pool, reattached: s.jobs.size, cancelled: cancel.length }, 'agent registered')
    return s
  }

  async function onUpdate (s: Session, update: AgentServiceConnectRequest['message'] & { case: 'jobUpdate' }): Promise<void> {
    const st = update.value.status
    if (st === undefined) return
    const key = `${st.jobId}#${st.try}`
    // after a loss of the job table, the update waits for its rebuild (which gives the job back to this agent)
    await o.ensureState?.()
    const entry = await o.store.get(key)
    if (entry === undefined || entry.agent !== s.agent || entry.state === 'queued') {
      log.warn({ agent: s.agent, peer: s.call.getPeer(), job: st.jobId, try: st.try }, 'update for a job not assigned to this agent; refused')
      o.metrics.refused.inc({ agent: s.agent, reason: 'not assigned' })
      return
    }
    const request = requestOf(entry)
    const backendId = `${s.agent}/${st.backendId}`
    const outdir = request.action.case === 'start' ? request.action.value.outdir : ''
    const outside = outdir === '' ? undefined : st.outputs.find(out => !isAbsolute(out.path) || !isInside(normalize(outdir), normalize(out.path)))
    if (st.phase === JobPhase.DONE && outside !== undefined) {
      // the agent checked its outputs with realpath; one that did not is not trusted with them
      log.warn({ agent: s.agent, peer: s.call.getPeer(), job: st.jobId, path: outside.path }, 'agent reported an output outside the job\'s output directory')
      o.metrics.refused.inc({ agent: s.agent, reason: 'output outside outdir' })
      await o.statuses.publish(request, entry.trace, JobPhase.FAILED, { backend: 'agent', backendId, reason: `output ${outside.path} is outside the job's output directory ${outdir}`, retryable: false, durationMs: st.durationMs })
      await o.store.finish(key)
      s.jobs.delete(key)
      await assign()
      return
    }
    if (st.phase === JobPhase.RUNNING) {
      await o.statuses.publish(request, entry.trace, JobPhase.RUNNING, { backend: 'agent', backendId })
      return
    }
    if (st.phase !== JobPhase.DONE && st.phase !== JobPhase.FAILED) return
    await o.statuses.publish(request, entry.trace, st.phase, {
      backend: 'agent',
      backendId,
      ...(st.exitCode === undefined ? {} : { exitCode: st.exitCode }),
      signal: st.signal,
      reason: st.reason,
      retryable: st.retryable,
      durationMs: st.durationMs,
      outputs: st.outputs,
      results: st.results
    })
    await o.store.finish(key)
    s.jobs.delete(key)
    log.info({ agent: s.agent, job: st.jobId, try: st.try, phase: st.phase, reason: st.reason }, 'agent job finished')
    await assign()
  }

  function onLog (s: Session, value: { jobId: string, try: number, text: string }): void {
    const key = `${value.jobId}#${value.try}`
    if (!s.jobs.has(key)) return
    const file = logFileOf(key)
    if (file === undefined) return
    mkdirSync(dirname(file), { recursive: true })
    appendFileSync(file, value.text)
  }

  // log files of the jobs of this hub's sessions (filled on assign and re-attach)
  const logFiles = new Map<string, string>()
  const logFileOf = (key: string): string | undefined => logFiles.get(key)

  let assigning = false
  /** Gives queued agent jobs to connected agents with free slots, oldest first. */
  async function assign (): Promise<void> {
    if (assigning || stopped) return
    assigning = true
    try {
      const free = [...sessions.values()].filter(s => s.jobs.size < Math.max(1, s.capabilities.slots))
      if (free.length === 0) return
      const queued = (await o.store.entries())
        .filter(e => e.backend === 'agent' && e.state === 'queued')
        .sort((a, b) => (a.queuedAtMs ?? 0) - (b.queuedAtMs ?? 0))
      for (const entry of queued) {
        const request = requestOf(entry)
        const pool = request.action.case === 'start' ? request.action.value.pool : ''
        const s = free.find(x => x.jobs.size < Math.max(1, x.capabilities.slots) && (pool === '' || x.capabilities.pool === pool) && !x.call.destroyed)
        if (s === undefined) continue
        if (await o.store.cancelReason(entry.jobId) !== undefined) continue // reconcile fails it
        if (!await o.store.assignToAgent(entry.key, s.agent)) continue
        s.jobs.add(entry.key)
        logFiles.set(entry.key, entry.logFile)
        send(s, { case: 'assign', value: { request } })
        log.info({ agent: s.agent, job: entry.jobId, try: entry.try }, 'job assigned to agent')
      }
    } finally {
      assigning = false
    }
  }

  /** Loses silent agents, re-queues the jobs of lost agents, applies cancels, assigns. */
  async function reconcile (): Promise<void> {
    for (const s of sessions.values()) {
      if (Date.now() - s.lastHeartbeatMs > o.lostAfterMs) {
        log.warn({ agent: s.agent }, 'agent missed its heartbeats; stream closed')
        sessions.delete(s.agent)
        failStream(s.call, new AutocalError('AUTOCAL_NOT_READY', `agent ${s.agent} missed its heartbeats`))
      }
    }
    const lost = new Set<string>()
    for (const entry of await o.store.entries()) {
      if (entry.backend !== 'agent') continue
      if (entry.state !== 'queued' && entry.agent !== undefined && !sessions.has(entry.agent) && !await o.store.agentAlive(entry.agent)) {
        if (await o.store.requeueFromAgent(entry.key, entry.agent, true)) {
          lost.add(entry.agent)
          log.warn({ agent: entry.agent, job: entry.jobId, try: entry.try }, 'agent lost; its job is queued again')
        }
        continue
      }
      const reason = await o.store.cancelReason(entry.jobId)
      if (reason === undefined) continue
      if (entry.state === 'queued') {
        if (await o.store.dropQueued(entry.key)) {
          await o.statuses.publish(requestOf(entry), entry.trace, JobPhase.FAILED, { backend: 'agent', reason: `cancelled${reason === '' ? '' : `: ${reason}`}`, retryable: false })
        }
        continue
      }
      const s = entry.agent === undefined ? undefined : sessions.get(entry.agent)
      if (s !== undefined && !s.cancelsSent.has(entry.key)) {
        s.cancelsSent.add(entry.key)
        send(s, { case: 'cancel', value: { jobId: entry.jobId, try: entry.try, reason } })
      }
    }
    for (const agent of lost) o.metrics.lost.inc({ agent })
    o.metrics.heartbeatAge.reset()
    for (const s of sessions.values()) o.metrics.heartbeatAge.set({ agent: s.agent }, (Date.now() - s.lastHeartbeatMs) / 1000)
    await assign()
  }

  /** The Connect stream of one agent. */
  async function connect (call: Call): Promise<void> {
    const token = bearerToken(call.metadata)
    const tokenAgent = o.agentOf(token)
    if (tokenAgent === undefined) {
      log.warn({ peer: call.getPeer(), reason: token === undefined ? 'missing token' : 'unknown token' }, 'agent rejected: bad or missing token')
      failStream(call, new AutocalError('AUTOCAL_UNAUTHENTICATED', 'agent token missing or not accepted'))
      return
    }
    let session: Session | undefined
    const done = new Promise<void>(resolve => {
      call.on('end', resolve)
      call.on('close', resolve)
      call.on('error', () => { resolve() })
    })
    let chain = Promise.resolve()
    call.on('data', (m: AgentServiceConnectRequest) => {
      chain = chain.then(async () => {
        const msg = m.message
        if (msg.case === 'register') {
          if (msg.value.agentId !== tokenAgent) {
            log.warn({ peer: call.getPeer(), agent: tokenAgent, claimed: msg.value.agentId }, 'agent rejected: registered under another agent\'s id')
            o.metrics.refused.inc({ agent: tokenAgent, reason: 'other agent id' })
            failStream(call, new AutocalError('AUTOCAL_FORBIDDEN', `the token of agent ${tokenAgent} cannot register as ${JSON.stringify(msg.value.agentId.slice(0, 100))}`))
            return
          }
          if (session !== undefined) return // registered once per stream
          const jobs = msg.value.jobs
          session = await register(call, msg.value.agentId, msg.value.capabilities ?? create(AgentCapabilitiesSchema), jobs)
          for (const key of session.jobs) {
            const e = await o.store.get(key)
            if (e !== undefined) logFiles.set(key, e.logFile)
          }
          await assign()
          return
        }
        if (session === undefined) {
          failStream(call, new AutocalError('AUTOCAL_VALIDATION_FAILED', 'first message must be register'))
          return
        }
        if (msg.case === 'heartbeat') {
          session.lastHeartbeatMs = Date.now()
          await o.store.agentHeartbeat(session.agent, o.lostAfterMs)
        } else if (msg.case === 'jobUpdate') {
          await onUpdate(session, msg)
        } else if (msg.case === 'logLines') {
          onLog(session, msg.value)
        }
      }).catch(err => { log.error({ err, agent: session?.agent }, 'agent message failed') })
    })
    await done
    await chain
    if (session !== undefined && sessions.get(session.agent) === session) {
      sessions.delete(session.agent)
      log.info({ agent: session.agent }, 'agent disconnected')
    }
    if (!call.writableEnded && !call.destroyed) call.end()
  }

  return {
    connect,
    reconcile,
    assign,
    agents: () => [...sessions.keys()],
    /** The connected agent that holds (job id, try) `key`, if any. */
    holding: (key: string): string | undefined => [...sessions.values()].find(s => s.jobs.has(key))?.agent,
    stop: (): void => {
      stopped = true
      for (const s of sessions.values()) s.call.end()
      sessions.clear()
    }
  }
}

export type AgentHub = ReturnType<typeof createAgentHub>
