// Decoded messages → domain decisions → read model, instruments, change feed
// and notifications. Every handler is idempotent: a redelivered message finds
// its effect already in the read model and changes nothing.
import type { Handlers, Logger } from '@autocal/runtime'
import { applyTaskEvent, taskKeyOfProvenance, type TaskView } from './domain/task-view.ts'
import { applyRunEvent } from './domain/run-view.ts'
import { applyJobRequest, applyJobStatus, jobEntryId } from './domain/job-view.ts'
import { applyConditionEvent, conditionRequestView } from './domain/condition-view.ts'
import { promptDeadline } from './domain/deadlines.ts'
import { dlqEntryNotification, dlqFloodNotification, executorLostNotification, gateTimeoutNotification, minuteOf, taskFailedNotification, uploadRejectedNotification } from './domain/notifications.ts'
import { millisOf, millisOfIso } from './domain/time.ts'
import type { PendingDispatch, ReadModelStore } from './adapters/read-model-store.ts'
import type { Instruments } from './instruments.ts'
import type { ChangeFeed } from './change-feed.ts'
import type { Notifier } from './notifier.ts'

export interface HandlerDeps {
  store: ReadModelStore
  instruments: Instruments
  feed: ChangeFeed
  notifier: Notifier
  logger: Logger
  topicPrefix: string
  holdMs: number
  dlqFloodPerMinute: number
}

const finished = new Set(['done', 'skipped', 'cancelled'])

export function createHandlers (deps: HandlerDeps): Handlers {
  const { store, instruments, feed, notifier, topicPrefix, holdMs } = deps

  async function runEndOf (task: TaskView | undefined, runs: number[]): Promise<number | undefined> {
    const fromTask = millisOfIso(task?.runEndedAt)
    if (fromTask !== undefined) return fromTask
    if (runs.length === 0) return undefined
    const run = await store.getRun(Math.max(...runs))
    return millisOfIso(run?.endTime)
  }

  function observePending (pending: PendingDispatch[], endedMs: number): void {
    for (const p of pending) {
      instruments.dispatchLatency.observe({ subsystem: p.subsystem, task: p.task }, Math.max(0, (Date.parse(p.requestedAt) - endedMs) / 1000))
    }
  }

  return {
    tasks: async (event, meta) => {
      const key = `${event.campaign}/${event.block?.id ?? ''}/${event.task}`
      const d = applyTaskEvent(await store.getTask(key), event)
      if (d.kind === 'stale') return
      const v = d.view
      const deadline = finished.has(v.state) ? undefined : promptDeadline(v, holdMs)
      await store.saveTask(v, d.counts, deadline)
      if (d.results !== undefined) await store.saveLatestResults(v, d.results)
      if (d.runEndToDoneSeconds !== undefined) instruments.runEndToTaskDone.observe({ subsystem: v.subsystem, task: v.task }, d.runEndToDoneSeconds)
      feed.publish({ type: 'task', task: v })
      if (d.gateTimedOutNow) await notifier.notify(gateTimeoutNotification(v, millisOfIso(v.at) ?? meta.time.getTime()))
      else if (d.failedNow) await notifier.notify(taskFailedNotification(v, millisOfIso(v.at) ?? meta.time.getTime()))
    },

    runs: async (event, meta) => {
      const d = applyRunEvent(await store.getRun(event.run), event, meta.time)
      if (d.kind === 'unchanged') return
      if (d.kind === 'fcsr') {
        await store.setFcsr(d.fcsr)
        return
      }
      await store.saveRun(d.view)
      if (!d.endedNow) return
      observePending(await store.takePendingDispatch(event.run), meta.time.getTime())
    },

    jobRequests: async (request, meta) => {
      const entry = jobEntryId(request.jobId, request.try)
      const taskKey = taskKeyOfProvenance(request.provenance)
      const d = applyJobRequest(await store.getJobRequest(taskKey, entry), request, meta.time)
      if (d.kind === 'unchanged') return
      await store.saveJobRequest(d.view, entry)
      if (!d.firstOfTask || d.view.runs.length === 0) return
      const lastRun = Math.max(...d.view.runs)
      const subsystem = request.provenance?.subsystem ?? ''
      const task = request.provenance?.task ?? ''
      const ended = millisOfIso((await store.getRun(lastRun))?.endedEventAt)
      if (ended !== undefined) {
        instruments.dispatchLatency.observe({ subsystem, task }, Math.max(0, (meta.time.getTime() - ended) / 1000))
        return
      }
      // the run's ended event has not been applied yet (topics are consumed in parallel): park the request
      await store.addPendingDispatch(lastRun, { taskKey: d.view.taskKey, attempt: d.view.attempt, subsystem, task, requestedAt: d.view.requestedAt })
      const endedMeanwhile = millisOfIso((await store.getRun(lastRun))?.endedEventAt)
      if (endedMeanwhile !== undefined) observePending(await store.takePendingDispatch(lastRun), endedMeanwhile)
    },

    jobStatus: async (status, meta) => {
      const entry = jobEntryId(status.jobId, status.try)
      const taskKey = taskKeyOfProvenance(status.provenance)
      const d = applyJobStatus(await store.getJobStatus(taskKey, entry), status, meta.time)
      if (d.kind === 'unchanged') return
      const counters = d.finished === undefined
        ? []
        : [{ name: 'jobs_finished', label: d.finished.backend }, ...(d.finished.failed ? [{ name: 'job_failures', label: d.finished.backend }] : [])]
      await store.saveJobStatus(d.view, entry, counters)
      if (d.finished !== undefined) instruments.jobDuration.observe({ backend: d.finished.backend }, d.finished.seconds)
      if (d.lost !== undefined) {
        await notifier.notify(executorLostNotification(d.lost.who, d.lost.reason, status.jobId, millisOf(status.at) ?? meta.time.getTime()))
      }
    },

    conditionRequests: async (request, meta) => {
      await store.saveConditionRequest(conditionRequestView(request, meta.time))
    },

    conditions: async (event, meta) => {
      const taskKey = taskKeyOfProvenance(event.provenance)
      const d = applyConditionEvent(await store.getConditionOutcome(taskKey, event.requestId), event, meta.time)
      if (d.kind === 'unchanged') return
      await store.saveConditionOutcome(d.view, [{ name: 'uploads', label: d.view.outcome }])
      if (d.uploadedAtMs !== undefined) {
        const end = await runEndOf(await store.getTask(taskKey), event.provenance?.inputRuns ?? [])
        if (end !== undefined) {
          instruments.runEndToConditionUploaded.observe({ subsystem: event.provenance?.subsystem ?? '', tag: event.tag }, Math.max(0, (d.uploadedAtMs - end) / 1000))
        }
      }
      feed.publish({ type: 'condition', condition: d.view })
      if (d.view.outcome === 'rejected') {
        const task = await store.getTask(taskKey)
        const subsystem = event.provenance?.subsystem ?? task?.subsystem ?? ''
        await notifier.notify(uploadRejectedNotification(d.view, subsystem, millisOfIso(d.view.at) ?? meta.time.getTime(), task?.notifyChannel))
      }
    },

    dlq: async (letter, meta) => {
      if (!(await store.claimOnce(`dlq/${meta.eventId}`, 30 * 24 * 3600))) return
      const topic = topicPrefix !== '' && letter.topic.startsWith(`${topicPrefix}.`) ? letter.topic.slice(topicPrefix.length + 1) : letter.topic
      await store.increment([{ name: 'dlq', label: topic }])
      await notifier.notify(dlqEntryNotification({ eventId: meta.eventId, topic, group: letter.consumerGroup, reason: letter.reason }, meta.time.getTime()))
      const minute = minuteOf(meta.time.getTime())
      const flood = dlqFloodNotification(await store.countInMinute('dlq', minute), deps.dlqFloodPerMinute, minute, topic)
      if (flood !== undefined) await notifier.notify(flood)
    },

    control: async command => {
      instruments.controlCommands.inc({ action: command.action.case ?? 'unspecified' })
    }
  }
}
