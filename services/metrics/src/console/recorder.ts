// Feeds the console's part of the read model: wraps the service's handlers so
// that, after each message has been applied to the read model, the console's
// indexes (runs per campaign, task transitions, uploads per tag, dead letters,
// executors and their running jobs, redrives of dead letters from the audit
// topic, by the CLI or the console) are written too. Idempotent like the
// handlers: every write is keyed by the message's identity.
import { redriveAction, subsystemOfDeadLetter, type Handlers } from '@autocal/runtime'
import { topicName, topics } from '@autocal/contracts'
import { taskKeyOfProvenance, taskViewOf } from '../domain/task-view.ts'
import { jobEntryId } from '../domain/job-view.ts'
import { outcomeName } from '../domain/condition-view.ts'
import { transitionOf } from '../domain/console-views.ts'
import { isoOf } from '../domain/time.ts'
import type { ReadModelStore } from '../adapters/read-model-store.ts'
import type { ConsoleStore } from '../adapters/console-store.ts'

export function withConsoleViews (handlers: Handlers, deps: { store: ReadModelStore, console: ConsoleStore, topicPrefix: string }): Handlers {
  const { store, console: views, topicPrefix } = deps
  const redriveTarget = `${topicName(topics.dlq, topicPrefix)}/`
  return {
    ...handlers,
    tasks: async (event, meta) => {
      await handlers.tasks?.(event, meta)
      const v = taskViewOf(event)
      await Promise.all([views.addRuns(v.campaign, v.runs), views.addTransition(v.key, transitionOf(v))])
    },
    jobStatus: async (status, meta) => {
      await handlers.jobStatus?.(status, meta)
      const taskKey = taskKeyOfProvenance(status.provenance)
      const entry = jobEntryId(status.jobId, status.try)
      const current = await store.getJobStatus(taskKey, entry) // after the handler: the phase the read model settled on
      const executor = status.executor !== '' ? status.executor : (current?.executor ?? '')
      if (executor !== '') {
        await views.seeExecutor({ executor, backend: status.backend !== '' ? status.backend : (current?.backend ?? ''), lastSeenAt: isoOf(status.at) ?? meta.time.toISOString() })
      }
      await views.setRunning(entry, current?.phase === 'running' && executor !== '' ? executor : undefined)
    },
    conditions: async (event, meta) => {
      await handlers.conditions?.(event, meta)
      const upload = {
        requestId: event.requestId,
        taskKey: taskKeyOfProvenance(event.provenance),
        outcome: outcomeName(event.outcome),
        since: event.since.toString(),
        inputRuns: [...(event.provenance?.inputRuns ?? [])],
        reason: event.reason,
        payloadHash: event.payloadHash,
        synchronization: event.synchronization,
        at: isoOf(event.at) ?? meta.time.toISOString()
      }
      await views.saveUpload(event.tag, event.requestedSince === undefined ? upload : { ...upload, requestedSince: event.requestedSince.toString() })
    },
    dlq: async (letter, meta) => {
      await handlers.dlq?.(letter, meta)
      await views.addDeadLetter({
        id: `${meta.partition}/${meta.offset}`,
        subsystem: subsystemOfDeadLetter(letter, topicPrefix) ?? null,
        eventId: meta.eventId,
        topic: letter.topic,
        partition: letter.partition,
        offset: letter.offset.toString(),
        code: letter.code,
        reason: letter.reason,
        consumerGroup: letter.consumerGroup,
        service: letter.service,
        attempts: letter.attempts,
        at: isoOf(letter.at) ?? meta.time.toISOString()
      })
    },
    audit: async (record, meta) => {
      await handlers.audit?.(record, meta)
      if (record.action !== redriveAction || !record.accepted || !record.target.startsWith(redriveTarget)) return
      await views.markRedriven(record.target.slice(redriveTarget.length), { principal: record.principal, at: isoOf(record.at) ?? meta.time.toISOString(), reason: record.reason })
    }
  }
}
