// The executor's own Prometheus figures.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'

export function createExecutorMetrics (registry: Registry) {
  return {
    queued: new Gauge({ name: 'autocal_executor_jobs_queued', help: 'Jobs waiting for a slot on this executor', registers: [registry] }),
    running: new Gauge({ name: 'autocal_executor_jobs_running', help: 'Jobs running on this executor', registers: [registry] }),
    finished: new Counter({ name: 'autocal_executor_jobs_finished_total', help: 'Jobs finished, by outcome', labelNames: ['outcome'], registers: [registry] }),
    backendUp: new Gauge({ name: 'autocal_backend_up', help: 'Whether this executor reaches each enabled backend: 1 = the HTCondor schedd / Kubernetes API answered its last probe, or an agent is connected; 0 = not', labelNames: ['backend'], registers: [registry] }),
    duration: new Histogram({ name: 'autocal_executor_job_duration_seconds', help: 'Wall time of finished jobs', buckets: [0.1, 0.5, 1, 5, 30, 120, 600, 3600, 14400], registers: [registry] })
  }
}

export type ExecutorMetrics = ReturnType<typeof createExecutorMetrics>

export function createAgentMetrics (registry: Registry) {
  return {
    lost: new Counter({ name: 'autocal_agent_lost_total', help: 'Agents declared lost after missed heartbeats (their jobs queued again)', labelNames: ['agent'], registers: [registry] }),
    refused: new Counter({ name: 'autocal_agent_refused_total', help: 'Agent messages refused: registration under another id, updates for jobs not assigned to the agent, outputs outside the output directory', labelNames: ['agent', 'reason'], registers: [registry] }),
    heartbeatAge: new Gauge({ name: 'autocal_agent_heartbeat_age_seconds', help: 'Seconds since the last heartbeat of each agent connected to this executor', labelNames: ['agent'], registers: [registry] })
  }
}

export type AgentMetrics = ReturnType<typeof createAgentMetrics>
