// The topic registry: topic name ↔ message schema ↔ key function.
// Producing a message of another type to a topic fails to compile, because
// every generated message type carries its own `$typeName`.
import type { DescMessage, MessageShape } from '@bufbuild/protobuf'
import { RunEventSchema } from './gen/autocal/runs/v1/runs_pb.ts'
import { RegistryEntrySchema, type RegistryEntry } from './gen/autocal/runs/registry/v1/registry_pb.ts'
import { TaskEventSchema } from './gen/autocal/tasks/v1/tasks_pb.ts'
import { JobRequestSchema } from './gen/autocal/jobs/requests/v1/requests_pb.ts'
import { JobStatusSchema } from './gen/autocal/jobs/status/v1/status_pb.ts'
import { ConditionRequestSchema } from './gen/autocal/conditions/requests/v1/requests_pb.ts'
import { ConditionEventSchema } from './gen/autocal/conditions/v1/conditions_pb.ts'
import { ControlCommandSchema } from './gen/autocal/control/v1/control_pb.ts'
import { DeadLetterSchema } from './gen/autocal/dlq/v1/dlq_pb.ts'
import { AuditRecordSchema } from './gen/autocal/audit/v1/audit_pb.ts'
import { CampaignDefinitionSchema } from './gen/autocal/campaigns/v1/campaigns_pb.ts'
import type { Block } from './gen/autocal/common/v1/common_pb.ts'

/** Kafka settings a topic is created with. */
export interface TopicSettings {
  partitions: number
  /** Kafka topic configs, e.g. cleanup.policy. */
  configs: Record<string, string>
}

export interface Topic<S extends DescMessage = DescMessage> {
  /** Versioned name, e.g. autocal.runs.v1 (a deployment may prefix it, see topicName). */
  readonly name: string
  readonly schema: S
  readonly key: (message: MessageShape<S>) => string
  readonly settings: TopicSettings
}

function topic<S extends DescMessage> (name: string, schema: S, key: (message: MessageShape<S>) => string,
  settings: Partial<TopicSettings> = {}): Topic<S> {
  return Object.freeze({ name, schema, key, settings: { partitions: 6, configs: {}, ...settings } })
}

/** Key of everything that belongs to one task of one block: "<campaign>/<block id>/<task>". */
export function taskKey (campaign: string, block: Pick<Block, 'id'> | string, task: string): string {
  return `${campaign}/${typeof block === 'string' ? block : block.id}/${task}`
}

/**
 * Key of a run registry entry: the run number (decimal) for a run's entry,
 * "mark/<name>" for a source mark (FCSR, OMS watermark). Compaction keeps the
 * newest entry per key, so a run's entry is always whole.
 */
export function registryKey (e: Pick<RegistryEntry, 'run' | 'entry'>): string {
  return e.entry.case === 'mark' ? `mark/${e.entry.value.name}` : String(e.run)
}

function provenanceKey (p: { campaign: string, blockId: string, task: string } | undefined): string {
  if (p === undefined) return ''
  return taskKey(p.campaign, p.blockId, p.task)
}

export const topics = {
  runs: topic('autocal.runs.v1', RunEventSchema, e => String(e.run)),
  // the durable run registry: compacted, so it keeps every run ever seen whatever the runs topic's retention
  runRegistry: topic('autocal.runs.registry.v1', RegistryEntrySchema, registryKey, {
    configs: { 'cleanup.policy': 'compact', 'min.compaction.lag.ms': '60000' }
  }),
  tasks: topic('autocal.tasks.v1', TaskEventSchema, e => taskKey(e.campaign, e.block?.id ?? '', e.task), {
    configs: { 'cleanup.policy': 'compact', 'min.compaction.lag.ms': '60000' }
  }),
  jobRequests: topic('autocal.jobs.requests.v1', JobRequestSchema, r => provenanceKey(r.provenance)),
  jobStatus: topic('autocal.jobs.status.v1', JobStatusSchema, s => provenanceKey(s.provenance)),
  conditionRequests: topic('autocal.conditions.requests.v1', ConditionRequestSchema, r => r.destinationTag),
  conditions: topic('autocal.conditions.v1', ConditionEventSchema, e => e.tag),
  control: topic('autocal.control.v1', ControlCommandSchema, c => c.selector?.campaign ?? ''),
  dlq: topic('autocal.dlq.v1', DeadLetterSchema, d => d.topic, { partitions: 1 }),
  audit: topic('autocal.audit.v1', AuditRecordSchema, a => a.subsystem, { partitions: 1, configs: { 'retention.ms': '-1' } }),
  // runtime campaign definitions, keyed by campaign name: compacted, so every campaign's newest revision is kept
  campaigns: topic('autocal.campaigns.v1', CampaignDefinitionSchema, d => d.name, {
    partitions: 1,
    configs: { 'cleanup.policy': 'compact', 'min.compaction.lag.ms': '60000' }
  })
} as const

export type Topics = typeof topics
export type TopicId = keyof Topics
export const allTopics: readonly Topic[] = Object.values(topics)

/**
 * The Kafka topic name of a registry topic under a deployment prefix.
 * An empty prefix gives the plain name; "ci-42" gives "ci-42.autocal.runs.v1".
 */
export function topicName (t: Topic<any>, prefix = ''): string {
  return prefix === '' ? t.name : `${prefix}.${t.name}`
}

/** CloudEvents-style headers every message carries (W3C traceparent/tracestate come with them). */
export const headers = {
  specVersion: 'ce_specversion',
  id: 'ce_id',
  source: 'ce_source',
  type: 'ce_type',
  time: 'ce_time',
  contentType: 'content-type'
} as const

export const contentTypes = {
  protobuf: 'application/protobuf',
  json: 'application/json'
} as const

/** What a consumer's handler learns about a message besides its body. */
export interface EventMeta {
  eventId: string
  /** Producing service, e.g. "autocal/run-watcher". */
  source: string
  time: Date
  topic: string
  partition: number
  offset: string
  key: string
  /** Message type name from the headers, e.g. "autocal.runs.v1.RunEvent". */
  type: string
}
