// The Prometheus instruments of the metrics service, on the runtime's registry.
// Gauges and counters that must survive a restart are read from the Redis
// read model at scrape time (collect); histograms live in memory and are
// reset when the read model is rebuilt (the replay observes them again).
import { Counter, Gauge, Histogram } from 'prom-client'
import type { Metrics } from '@autocal/runtime'
import type { ReadModelStore } from './adapters/read-model-store.ts'
import type { LagReader } from './adapters/consumer-lag.ts'

export interface Instruments {
  runEndToTaskDone: Histogram<'subsystem' | 'task'>
  runEndToConditionUploaded: Histogram<'subsystem' | 'tag'>
  dispatchLatency: Histogram<'subsystem' | 'task'>
  jobDuration: Histogram<'backend'>
  notifications: Counter<'kind' | 'outcome'>
  controlCommands: Counter<'action'>
  rebuilds: Counter
  /** Tasks whose prompt-hold deadline is within the warning threshold, from the last scan. */
  deadlineAtRisk: Gauge
  /** Prompt-synchronised tasks not done whose hold ended within the last hold period, from the last scan. */
  deadlineMissed: Gauge
  /** Resets the in-memory histograms before a replay of the topics. */
  resetHistograms: () => void
}

const hour = 3600
const sinceRunEnd = [1, 5, 15, 60, 300, 900, 1800, hour, 3 * hour, 6 * hour, 12 * hour, 24 * hour, 48 * hour, 96 * hour, 7 * 24 * hour]

export function createInstruments (options: { metrics: Metrics, store: ReadModelStore, lag: LagReader }): Instruments {
  const { metrics, store, lag } = options
  const registers = [metrics.registry]

  const fromCounters = (name: string, help: string, counter: string, label: string): void => {
    void new Counter<string>({
      name,
      help,
      labelNames: [label],
      registers,
      async collect () {
        const rows = (await store.counters()).filter(r => r.name === counter)
        this.reset()
        for (const r of rows) this.inc({ [label]: r.label }, r.count)
      }
    })
  }

  void new Gauge({
    name: 'autocal_tasks',
    help: 'Task instances (block × task) by subsystem, campaign, task and state, from the read model',
    labelNames: ['subsystem', 'campaign', 'task', 'state'],
    registers,
    async collect () {
      const counts = await store.taskCounts()
      this.reset()
      for (const c of counts) if (c.count > 0) this.set({ subsystem: c.subsystem, campaign: c.campaign, task: c.task, state: c.state }, c.count)
    }
  })
  // a done task's numeric results (a job's outputs manifest `results`): the latest run's, for trend and anomaly checks
  void new Gauge({
    name: 'autocal_task_result',
    help: 'The latest numeric result a done task reported (outputs manifest results), by subsystem, campaign, task and result name',
    labelNames: ['subsystem', 'campaign', 'task', 'result'],
    registers,
    async collect () {
      this.reset()
      for (const r of await store.latestResults()) this.set({ subsystem: r.subsystem, campaign: r.campaign, task: r.task, result: r.result }, r.value)
    }
  })
  void new Gauge({
    name: 'autocal_task_result_run',
    help: 'The run (the block\'s last) whose result autocal_task_result shows',
    labelNames: ['subsystem', 'campaign', 'task', 'result'],
    registers,
    async collect () {
      this.reset()
      for (const r of await store.latestResults()) this.set({ subsystem: r.subsystem, campaign: r.campaign, task: r.task, result: r.result }, r.run)
    }
  })
  fromCounters('autocal_job_failures_total', 'Jobs that ended failed (per job try), by backend', 'job_failures', 'backend')
  fromCounters('autocal_jobs_finished_total', 'Jobs that ended done or failed (per job try), by backend', 'jobs_finished', 'backend')
  fromCounters('autocal_uploads_total', 'Condition upload outcomes, by outcome', 'uploads', 'outcome')
  fromCounters('autocal_dlq_messages_total', 'Dead letters, by the topic the message came from', 'dlq', 'topic')
  void new Gauge({
    name: 'autocal_consumer_lag',
    help: 'Messages behind the high watermark, summed over partitions, per consumer group and topic',
    labelNames: ['group', 'topic'],
    registers,
    async collect () {
      const rows = await lag.read()
      this.reset()
      for (const r of rows) this.set({ group: r.group, topic: r.topic }, r.lag)
    }
  })

  const runEndToTaskDone = new Histogram({ name: 'autocal_run_end_to_task_done_seconds', help: 'From the end of a block\'s last run to the task done', labelNames: ['subsystem', 'task'], buckets: sinceRunEnd, registers })
  const runEndToConditionUploaded = new Histogram({ name: 'autocal_run_end_to_condition_uploaded_seconds', help: 'From the end of a block\'s last run to its condition uploaded', labelNames: ['subsystem', 'tag'], buckets: sinceRunEnd, registers })
  const dispatchLatency = new Histogram({
    name: 'autocal_dispatch_latency_seconds',
    help: 'From the run-ended event (ce_time) of a block\'s last run to the first job request of the task (ce_time)',
    labelNames: ['subsystem', 'task'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, hour],
    registers
  })
  const jobDuration = new Histogram({ name: 'autocal_job_duration_seconds', help: 'Wall time of finished jobs, by backend', labelNames: ['backend'], buckets: [0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, hour, 4 * hour, 12 * hour], registers })
  return {
    runEndToTaskDone,
    runEndToConditionUploaded,
    dispatchLatency,
    jobDuration,
    notifications: new Counter({ name: 'autocal_notifications_total', help: 'Notifications by kind and outcome (sent, duplicate, rate-limited, too-old, replayed, failed, logged)', labelNames: ['kind', 'outcome'], registers }),
    controlCommands: new Counter({ name: 'autocal_control_commands_total', help: 'Operator commands seen on the control topic since start', labelNames: ['action'], registers }),
    rebuilds: new Counter({ name: 'autocal_read_model_rebuilds_total', help: 'Rebuilds of the Redis read model from Kafka since start', labelNames: [], registers }),
    deadlineAtRisk: new Gauge({ name: 'autocal_prompt_deadline_at_risk', help: 'Prompt-synchronised tasks not done within the warning threshold of their prompt hold', labelNames: [], registers }),
    deadlineMissed: new Gauge({ name: 'autocal_prompt_deadline_missed', help: 'Prompt-synchronised tasks not done whose prompt hold ended within the last hold period', labelNames: [], registers }),
    resetHistograms: () => {
      for (const h of [runEndToTaskDone, runEndToConditionUploaded, dispatchLatency, jobDuration]) h.reset()
    }
  }
}
