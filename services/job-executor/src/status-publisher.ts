// Job statuses on autocal.jobs.status.v1, eventId `jobs/<job id>/<try>/<phase>`,
// in the trace of the job's request however much later the job ends.
import { create, type MessageInitShape } from '@bufbuild/protobuf'
import { timestampFromDate } from '@bufbuild/protobuf/wkt'
import { JobPhase, JobStatusSchema, topics, type JobRequest } from '@autocal/contracts'
import { withContext, type Producer } from '@autocal/runtime'

export type StatusExtra = Omit<MessageInitShape<typeof JobStatusSchema>, '$typeName'>

export function createStatusPublisher (o: { producer: Producer, instance: string, publicUrl: string }) {
  const logUrl = (jobId: string, attempt: number): string => `${o.publicUrl}/jobs/${encodeURIComponent(jobId)}/log?try=${attempt}`
  return {
    logUrl,
    publish: async (request: JobRequest, trace: Record<string, string> | undefined, phase: JobPhase, extra: StatusExtra = {}): Promise<void> => {
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
