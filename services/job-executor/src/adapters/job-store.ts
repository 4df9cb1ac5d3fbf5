// The executor's shared state in Redis (rebuildable: a lost entry means a
// redelivered request starts the job again, which the dispatcher tolerates
// through job ids and tries):
//   executor:jobs          hash  "<job id>#<try>" → entry (claimed, queued or running, its owner, pid, files)
//   executor:done:<key>    a finished (job id, try); a redelivered request does nothing
//   executor:alive:<id>    lease of a live executor instance; a missing one means its jobs are taken over
//   executor:cancel:<job>  cancel asked for a job, whichever executor runs it
//   lease:executor:slot:N  the cluster-wide concurrency slots
import type { RedisHandle } from '@autocal/runtime'

export interface JobEntry {
  key: string
  jobId: string
  try: number
  owner: string
  state: 'queued' | 'running'
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

const takeOverScript = `
local current = redis.call('hget', KEYS[1], ARGV[1])
if not current then return 0 end
local entry = cjson.decode(current)
if entry.owner ~= ARGV[2] then return 0 end
entry.owner = ARGV[3]
redis.call('hset', KEYS[1], ARGV[1], cjson.encode(entry))
return 1`

export function createJobStore (redis: RedisHandle, instance: string) {
  const jobsKey = redis.key('executor', 'jobs')
  const doneKey = (key: string): string => redis.key('executor', 'done', key)
  const aliveKey = (id: string): string => redis.key('executor', 'alive', id)
  const cancelKey = (jobId: string): string => redis.key('executor', 'cancel', jobId)
  return {
    /** Records the job as ours unless it was claimed or finished before: true when we got it. */
    claim: async (entry: JobEntry): Promise<boolean> =>
      (await redis.client.eval(claimScript, 2, jobsKey, doneKey(entry.key), entry.key, JSON.stringify(entry))) === 1,
    update: async (entry: JobEntry): Promise<void> => { await redis.client.hset(jobsKey, entry.key, JSON.stringify(entry)) },
    finish: async (key: string): Promise<void> => {
      await redis.client.multi().set(doneKey(key), '1', 'EX', 7 * 24 * 3600).hdel(jobsKey, key).exec()
    },
    isDone: async (key: string): Promise<boolean> => (await redis.client.exists(doneKey(key))) === 1,
    entries: async (): Promise<JobEntry[]> => Object.values(await redis.client.hgetall(jobsKey)).map(v => JSON.parse(v) as JobEntry),
    /** Takes over an entry of a dead owner; false when someone else was faster. */
    takeOver: async (entry: JobEntry): Promise<boolean> =>
      (await redis.client.eval(takeOverScript, 1, jobsKey, entry.key, entry.owner, instance)) === 1,
    heartbeat: async (ttlMs: number): Promise<void> => { await redis.client.set(aliveKey(instance), String(Date.now()), 'PX', ttlMs) },
    retire: async (): Promise<void> => { await redis.client.del(aliveKey(instance)) },
    isAlive: async (owner: string): Promise<boolean> => (await redis.client.exists(aliveKey(owner))) === 1,
    requestCancel: async (jobId: string, reason: string): Promise<void> => { await redis.client.set(cancelKey(jobId), reason, 'EX', 24 * 3600) },
    cancelReason: async (jobId: string): Promise<string | undefined> => await redis.client.get(cancelKey(jobId)) ?? undefined
  }
}

export type JobStore = ReturnType<typeof createJobStore>
