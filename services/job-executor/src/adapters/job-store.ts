// The executor's shared state in Redis (rebuildable: a lost entry means a
// redelivered request starts the job again, which the dispatcher tolerates
// through job ids and tries):
//   executor:jobs          hash  "<job id>#<try>" → entry (claimed, queued or running, its owner, pid, files)
//   executor:done:<key>    a finished (job id, try); a redelivered request does nothing
//   executor:alive:<id>    lease of a live executor instance; a missing one means its jobs are taken over
//   executor:cancel:<job>#<try>  cancel asked for one try of a job, whichever executor runs it (a later try, e.g. a resubmit, is not cancelled by it)
//   executor:agent:alive:<agent>  liveness of an agent, renewed by its heartbeats (its lease on its jobs)
//   lease:executor:slot:N  the cluster-wide concurrency slots
//   executor:state         marker: the table is complete (set after a rebuild from the job topics; missing = lost)
// Who may take over, assign, reattach, requeue or drop a held job is decided by
// domain/job-state.ts; the Lua here only persists decisions (compare-and-set).
import { randomUUID } from 'node:crypto'
import { Lease, redisScript, runScript, type RedisHandle, type RedisScript } from '@autocal/runtime'
import { decideJobChange, type JobChange } from '../domain/job-state.ts'

export interface JobEntry {
  key: string
  jobId: string
  try: number
  owner: string
  /** Pod (process namespace) of a local job's process; only an executor there can see it. */
  host?: string
  /**
   * queued → starting → running (local: 'starting' is stored before the
   * process is spawned, so an heir checks the pid file before starting it
   * again) or queued → assigned (agent; running once the agent says so).
   */
  state: 'queued' | 'starting' | 'running' | 'assigned'
  /** Absent = local. */
  backend?: 'local' | 'agent' | 'htcondor' | 'kubernetes'
  /** Id of the job in its batch system (HTCondor job id, Kubernetes Job name). */
  backendId?: string
  /** Set (and stored) before a batch submission: an heir looks the job up before submitting it again. */
  submittingAtMs?: number
  /** RUNNING was reported (batch backends). */
  runningReported?: boolean
  /** Agent the job is assigned to. */
  agent?: string
  queuedAtMs?: number
  /** The JobRequest, base64 protobuf. */
  request: string
  outdir: string
  logFile: string
  exitFile: string
  pid?: number
  slot?: number
  startedAtMs?: number
  /** Wall-clock deadline (ms since epoch), 0 = none. */
  deadlineMs: number
  /** Trace context of the request (W3C headers): statuses continue its trace. */
  trace?: Record<string, string>
}

const claimScript = `
if redis.call('exists', KEYS[2]) == 1 then return 0 end
return redis.call('hsetnx', KEYS[1], ARGV[1], ARGV[2])`

// persists a decision of domain/job-state.ts: written only if the entry is
// still the one the decision was made on (compare-and-set on its stored JSON),
// and, with a guard key, only while that key is missing (a lost agent that
// came back keeps its job). ARGV: field, expected JSON, 'set' | 'finish', new JSON, guard flag
const persistScript = `
if ARGV[5] == '1' and redis.call('exists', KEYS[2]) == 1 then return -1 end
if redis.call('hget', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
if ARGV[3] == 'finish' then
  redis.call('hdel', KEYS[1], ARGV[1])
  redis.call('set', KEYS[3], '1', 'EX', 604800)
else
  redis.call('hset', KEYS[1], ARGV[1], ARGV[4])
end
return 1`

// a finished job: marked done, its entry dropped and (when given) its slot
// lease released if still ours, in one round trip instead of a MULTI and an EVAL
const finishScript = `
redis.call('set', KEYS[1], '1', 'EX', 604800)
redis.call('hdel', KEYS[2], ARGV[1])
if KEYS[3] ~= nil and redis.call('get', KEYS[3]) == ARGV[2] then redis.call('del', KEYS[3]) end
return 1`

// the first free slot of KEYS[1]..KEYS[n], taken with the lease's token; 0 when all are held
const takeSlotScript = `
for i = 1, #KEYS do
  if redis.call('set', KEYS[i], ARGV[1], 'PX', ARGV[2], 'NX') then return i end
end
return 0`

const finishJob = redisScript(finishScript)
const persistDecision = redisScript(persistScript)
const takeSlot = redisScript(takeSlotScript)

export function createJobStore (redis: RedisHandle, instance: string) {
  const run = async (s: RedisScript, keys: string[], args: Array<string | number>): Promise<unknown> => await runScript(redis.client, s, keys, args)
  const slotKey = (slot: number): string => redis.key('lease', `executor:slot:${slot}`)
  const jobsKey = redis.key('executor', 'jobs')
  const doneKey = (key: string): string => redis.key('executor', 'done', key)
  const aliveKey = (id: string): string => redis.key('executor', 'alive', id)
  const agentAliveKey = (agent: string): string => redis.key('executor', 'agent', 'alive', agent)
  const cancelKey = (jobId: string, attempt: number): string => redis.key('executor', 'cancel', `${jobId}#${attempt}`)
  const markerKey = redis.key('executor', 'state')

  /**
   * Applies `change` to the job `key` as domain/job-state.ts decides it on the
   * stored entry; true when a decision was written. A concurrent write makes
   * the compare-and-set miss: the change is decided again on the new entry.
   * `guard`: a key whose existence cancels the change (checked in the same script).
   */
  async function change (key: string, c: JobChange, guard?: string): Promise<boolean> {
    for (let round = 0; round < 5; round++) {
      const stored = await redis.client.hget(jobsKey, key)
      const decision = decideJobChange(stored === null ? undefined : JSON.parse(stored) as JobEntry, c)
      if (decision.kind === 'unchanged' || stored === null) return false
      const written = Number(await run(persistDecision, [jobsKey, guard ?? jobsKey, doneKey(key)],
        [key, stored, decision.kind === 'finish' ? 'finish' : 'set', decision.kind === 'write' ? JSON.stringify(decision.entry) : '', guard === undefined ? '0' : '1']))
      if (written !== 0) return written === 1
    }
    return false
  }

  return {
    /** True while the job table is complete; false after a loss of Redis's data (empty, FLUSHALL) until it is rebuilt. */
    hasMarker: async (): Promise<boolean> => (await redis.client.exists(markerKey)) === 1,
    setMarker: async (): Promise<void> => { await redis.client.set(markerKey, String(Date.now())) },
    /** Marks (job id, try) keys as ended (a redelivered request starts nothing), 500 per round trip. */
    markDone: async (keys: readonly string[]): Promise<void> => {
      for (let i = 0; i < keys.length; i += 500) {
        const batch = redis.client.pipeline()
        for (const key of keys.slice(i, i + 500)) batch.set(doneKey(key), '1', 'EX', 604800)
        await batch.exec()
      }
    },
    /** Re-takes a concurrency slot lease with its token after a loss of Redis's data (false when another holds it now). */
    retakeSlot: async (slot: Lease, ttlMs: number): Promise<boolean> => (await redis.client.set(slot.key, slot.token, 'PX', ttlMs, 'NX')) === 'OK',
    /** Records the job as ours unless it was claimed or finished before: true when we got it. */
    claim: async (entry: JobEntry): Promise<boolean> =>
      (await redis.client.eval(claimScript, 2, jobsKey, doneKey(entry.key), entry.key, JSON.stringify(entry))) === 1,
    update: async (entry: JobEntry): Promise<void> => { await redis.client.hset(jobsKey, entry.key, JSON.stringify(entry)) },
    /** The job is over: done (a redelivered request does nothing), entry dropped, and its slot (if any) freed. */
    finish: async (key: string, slot?: Lease): Promise<void> => {
      await run(finishJob, [doneKey(key), jobsKey, ...(slot === undefined ? [] : [slot.key])], [key, ...(slot === undefined ? [] : [slot.token])])
    },
    /** Leases the first free one of `slots` concurrency slots (lease:executor:slot:N), in one round trip. */
    takeFreeSlot: async (slots: number, ttlMs: number): Promise<{ lease: Lease, slot: number } | undefined> => {
      const keys = Array.from({ length: slots }, (_, i) => slotKey(i))
      const token = randomUUID()
      const taken = Number(await run(takeSlot, keys, [token, String(ttlMs)]))
      return taken === 0 ? undefined : { lease: new Lease(redis.client, keys[taken - 1]!, token), slot: taken - 1 }
    },
    isDone: async (key: string): Promise<boolean> => (await redis.client.exists(doneKey(key))) === 1,
    entries: async (): Promise<JobEntry[]> => Object.values(await redis.client.hgetall(jobsKey)).map(v => JSON.parse(v) as JobEntry),
    /** Takes over an entry of a dead owner; false when someone else was faster. */
    takeOver: async (entry: JobEntry): Promise<boolean> => await change(entry.key, { kind: 'take-over', from: entry.owner, to: instance }),
    heartbeat: async (ttlMs: number): Promise<void> => { await redis.client.set(aliveKey(instance), String(Date.now()), 'PX', ttlMs) },
    retire: async (): Promise<void> => { await redis.client.del(aliveKey(instance)) },
    isAlive: async (owner: string): Promise<boolean> => (await redis.client.exists(aliveKey(owner))) === 1,
    get: async (key: string): Promise<JobEntry | undefined> => {
      const v = await redis.client.hget(jobsKey, key)
      return v === null ? undefined : JSON.parse(v) as JobEntry
    },
    assignToAgent: async (key: string, agent: string): Promise<boolean> => await change(key, { kind: 'assign', agent, owner: instance }),
    reattachToAgent: async (key: string, agent: string): Promise<boolean> => await change(key, { kind: 'reattach', agent, owner: instance }),
    /** Back to the queue; with onlyIfLost, only while the agent's liveness key is missing. */
    requeueFromAgent: async (key: string, agent: string, onlyIfLost: boolean): Promise<boolean> =>
      await change(key, { kind: 'requeue', agent }, onlyIfLost ? agentAliveKey(agent) : undefined),
    dropQueued: async (key: string): Promise<boolean> => await change(key, { kind: 'drop-queued' }),
    agentHeartbeat: async (agent: string, ttlMs: number): Promise<void> => { await redis.client.set(agentAliveKey(agent), String(Date.now()), 'PX', ttlMs) },
    agentAlive: async (agent: string): Promise<boolean> => (await redis.client.exists(agentAliveKey(agent))) === 1,
    /** Marks try `attempt` of `jobId` cancelled (kept 24 h), for whichever executor runs it. */
    requestCancel: async (jobId: string, attempt: number, reason: string): Promise<void> => { await redis.client.set(cancelKey(jobId, attempt), reason, 'EX', 24 * 3600) },
    /** The reason try `attempt` of `jobId` was cancelled, or undefined. */
    cancelReason: async (jobId: string, attempt: number): Promise<string | undefined> => await redis.client.get(cancelKey(jobId, attempt)) ?? undefined
  }
}

export type JobStore = ReturnType<typeof createJobStore>
