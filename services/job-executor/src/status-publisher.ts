// Job statuses on autocal.jobs.status.v1, eventId `jobs/<job id>/<try>/<phase>`,
// in the trace of the job's request however much later the job ends.
import { open } from 'node:fs/promises'
import { join } from 'node:path'
import { create, type MessageInitShape } from '@bufbuild/protobuf'
import { timestampFromDate } from '@bufbuild/protobuf/wkt'
import { JobPhase, JobStatusSchema, topics, type JobRequest } from '@autocal/contracts'
import { withContext, type Producer } from '@autocal/runtime'
import { fileSafe } from './domain/job-environment.ts'
import { logTail, withLogTail } from './domain/log-tail.ts'

/** The last `bytes` of a file as text; '' when it does not exist (a job that never started has no log). */
async function fileEnd (path: string, bytes: number): Promise<string> {
  let handle
  try {
    handle = await open(path, 'r')
  } catch {
    return ''
  }
  try {
    const { size } = await handle.stat()
    const length = Math.min(size, bytes)
    const buffer = Buffer.alloc(length)
    await handle.read(buffer, 0, length, size - length)
    return buffer.toString('utf8')
  } finally {
    await handle.close()
  }
}

export type StatusExtra = Omit<MessageInitShape<typeof JobStatusSchema>, '$typeName'>

/**
 * Publishes job statuses. With `dataDir`, a failed job's reason ends with
 * the tail of its log (`<dataDir>/logs/jobs/<job>.<try>.log`, the file the
 * log route serves): "exit code 3; log tail: … | ValueError: no hits".
 */
export function createStatusPublisher (o: { producer: Producer, instance: string, publicUrl: string, dataDir?: string }) {
  const logUrl = (jobId: string, attempt: number): string => `${o.publicUrl}/jobs/${encodeURIComponent(jobId)}/log?try=${attempt}`
  return {
    logUrl,
    publish: async (request: JobRequest, trace: Record<string, string> | undefined, phase: JobPhase, extra: StatusExtra = {}): Promise<void> => {
      if (phase === JobPhase.FAILED && o.dataDir !== undefined && extra.retryable === true) {
        extra = { ...extra, reason: withLogTail(extra.reason ?? '', logTail(await fileEnd(join(o.dataDir, 'logs', 'jobs', `${fileSafe(request.jobId)}.${request.try}.log`), 4096))) }
      }
      const status = create(JobStatusSchema, {
        jobId: request.jobId,
        try: request.try,
        provenance: request.provenance,
        jobIndex: request.jobIndex,
        phase,
        executor: o.instance,
        logUrl: logUrl(request.jobId, request.try),
        at: timestampFromDate(new Date()),
        ...extra
      })
      const name = phase === JobPhase.QUEUED ? 'queued' : phase === JobPhase.RUNNING ? 'running' : phase === JobPhase.DONE ? 'done' : 'failed'
      await withContext(trace, async () => await o.producer.publish(topics.jobStatus, status, { eventId: `jobs/${request.jobId}/${request.try}/${name}` }))
    }
  }
}

export type StatusPublisher = ReturnType<typeof createStatusPublisher>
