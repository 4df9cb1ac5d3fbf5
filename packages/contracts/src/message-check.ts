// The name grammar (names.ts) applied to whole messages: every field of a
// topic's message that becomes an id, a Redis or Kafka key or a path
// component, and every run number, is checked by one function per message
// type. The bus runs `messageProblem` on every decoded message before a
// handler sees it (a message that breaks the grammar goes to the DLQ with the
// reason), and the control API runs `selectorProblem` / `runRecordProblem` on
// its requests. Written by hand (src/gen is not); scripts/write-index.ts
// exports it.
import { ScalarType, type DescMessage } from '@bufbuild/protobuf'
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire'
import { nameProblem, runProblem, type NameKind } from './names.ts'
import type { Block, Provenance } from './gen/autocal/common/v1/common_pb.ts'
import type { Run, RunEvent } from './gen/autocal/runs/v1/runs_pb.ts'
import type { RegistryEntry } from './gen/autocal/runs/registry/v1/registry_pb.ts'
import type { Selector, ControlCommand } from './gen/autocal/control/v1/control_pb.ts'
import type { TaskEvent } from './gen/autocal/tasks/v1/tasks_pb.ts'
import type { JobRequest } from './gen/autocal/jobs/requests/v1/requests_pb.ts'
import type { JobStatus } from './gen/autocal/jobs/status/v1/status_pb.ts'
import type { ConditionRequest } from './gen/autocal/conditions/requests/v1/requests_pb.ts'
import type { ConditionEvent } from './gen/autocal/conditions/v1/conditions_pb.ts'
import type { CampaignDefinition } from './gen/autocal/campaigns/v1/campaigns_pb.ts'
import type { TopicId } from './topics.ts'

/** A field to check: its path as the proto spells it, the kind of name, the value, and whether '' means "absent" (allowed). */
type NameField = readonly [path: string, kind: NameKind, value: string, optional?: 'optional']

/** Request and job ids: '/'-separated segments of letters, digits and _ . : @ + # - (each starting with a letter or digit), at most 400 characters. */
const compositeIdRe = /^(?=.{1,400}$)[A-Za-z0-9][A-Za-z0-9_.:@+#-]*(\/[A-Za-z0-9][A-Za-z0-9_.:@+#-]*)*$/

/** The longest operator's reason (characters) a command, a decision or a redrive carries. */
export const maxOperatorReason = 500
// C0 and C1 controls, DEL, and the bidirectional overrides and isolates that reorder what a terminal or page shows
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const unsafeTextRe = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/

/**
 * What is wrong with an operator's reason (the `--reason` of a command, a condition decision or a console
 * redrive), or undefined: it is required (not blank), at most {@link maxOperatorReason} characters, and plain
 * text: no control character, DEL or bidirectional override (they would rewrite what `autocal audit`, the logs
 * or the console show of it). Rule: issue 12 (hostile input), reviewer's finding of 2026-11-30.
 */
export function operatorReasonProblem (reason: string, at = 'reason'): string | undefined {
  if (reason.trim() === '') return `${at}: a reason is required (--reason): every operator action is audited with who and why`
  if (reason.length > maxOperatorReason) return `${at}: at most ${maxOperatorReason} characters (got ${reason.length})`
  const bad = unsafeTextRe.exec(reason)
  if (bad !== null) return `${at}: contains the control character U+${bad[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')} at position ${bad.index + 1}: write the reason as plain text`
  return undefined
}

/** Shows an untrusted value in a reason: JSON-quoted (control characters escaped), at most 120 characters. */
function shown (value: string): string {
  return JSON.stringify(value.length > 120 ? `${value.slice(0, 120)}…` : value)
}

function namesProblem (fields: readonly NameField[]): string | undefined {
  for (const [path, kind, value, optional] of fields) {
    if (optional === 'optional' && value === '') continue
    const problem = nameProblem(kind, value)
    if (problem !== undefined) return `${path}: ${problem}`
  }
  return undefined
}

/** Checks run numbers; `zeroMeansUnset` allows 0 (the proto3 default of an optional bound such as first_run). */
function runsProblem (path: string, runs: readonly number[], zeroMeansUnset = false): string | undefined {
  for (const [i, run] of runs.entries()) {
    if (zeroMeansUnset && run === 0) continue
    const problem = runProblem(run)
    if (problem !== undefined) return `${runs.length === 1 && !path.endsWith(']') ? path : `${path}[${i}]`}: ${problem}`
  }
  return undefined
}

/** Checks a composite id (request id, job id): no empty segment, no `..`, nothing but the id characters. */
function idProblem (path: string, value: string, optional = false): string | undefined {
  if (optional && value === '') return undefined
  if (compositeIdRe.test(value) && !value.includes('..')) return undefined
  return `${path}: id ${shown(value)} is not valid: expected '/'-separated segments of letters, digits and _ . : @ + # - (at most 400 characters)`
}

/** A subsystem scope: '' (every subsystem), or subsystems separated by ',' (as the control API writes ControlCommand.subsystem). */
function scopeProblem (path: string, value: string): string | undefined {
  if (value === '') return undefined
  for (const s of value.split(',')) {
    const problem = nameProblem('subsystem', s)
    if (problem !== undefined) return `${path}: ${problem}`
  }
  return undefined
}

/**
 * Checks a run record (the Run of a run event or of an injection): run
 * 1 ≤ run < 2^32 and the era a valid name ('' = unknown, allowed).
 * Returns the reason naming the field (`<at>.era`) and the escaped value, or undefined.
 */
export function runRecordProblem (r: Pick<Run, 'run' | 'era'>, at = 'run'): string | undefined {
  return runsProblem(`${at}.run`, [r.run]) ?? namesProblem([[`${at}.era`, 'era', r.era, 'optional']])
}

/**
 * Checks a task selector (control API requests and control commands): campaign
 * ('' allowed where the request needs none; the caller requires one), tasks,
 * block ids and subsystem per the name grammar; runs 1 ≤ run < 2^32;
 * first_run/last_run the same or 0 (unset), and first ≤ last when both are set.
 */
export function selectorProblem (s: Selector, at = 'selector'): string | undefined {
  const problem = namesProblem([
    [`${at}.campaign`, 'campaign', s.campaign, 'optional'],
    [`${at}.subsystem`, 'subsystem', s.subsystem, 'optional'],
    ...s.tasks.map((t, i): NameField => [`${at}.tasks[${i}]`, 'task', t]),
    ...s.blockIds.map((b, i): NameField => [`${at}.block_ids[${i}]`, 'block', b])
  ]) ?? runsProblem(`${at}.runs`, s.runs) ??
    runsProblem(`${at}.first_run`, [s.firstRun], true) ?? runsProblem(`${at}.last_run`, [s.lastRun], true)
  if (problem !== undefined) return problem
  if (s.firstRun !== 0 && s.lastRun !== 0 && s.firstRun > s.lastRun) return `${at}: first_run ${s.firstRun} is after last_run ${s.lastRun}`
  return undefined
}

/** Checks a provenance: subsystem, campaign, task and block id required; workflow optional; input runs in range. */
function provenanceProblem (p: Provenance | undefined, at = 'provenance'): string | undefined {
  if (p === undefined) return `${at}: missing`
  return namesProblem([
    [`${at}.subsystem`, 'subsystem', p.subsystem],
    [`${at}.campaign`, 'campaign', p.campaign],
    [`${at}.workflow`, 'workflow', p.workflow, 'optional'],
    [`${at}.block_id`, 'block', p.blockId],
    [`${at}.task`, 'task', p.task]
  ]) ?? runsProblem(`${at}.input_runs`, p.inputRuns)
}

/** The most numeric results one job may report (JobStatus.results, a manifest's `results`). */
export const maxJobResults = 64

/**
 * Checks a job's numeric results: at most {@link maxJobResults}, names of kind `result` (lower snake case),
 * finite values. Returns the first problem, naming the result, or undefined.
 */
export function resultsProblem (results: Readonly<Record<string, number>>, at = 'results'): string | undefined {
  const entries = Object.entries(results)
  if (entries.length > maxJobResults) return `${at}: ${entries.length} results, at most ${maxJobResults}`
  for (const [name, value] of entries) {
    const problem = nameProblem('result', name)
    if (problem !== undefined) return `${at}: ${problem}`
    if (typeof value !== 'number' || !Number.isFinite(value)) return `${at}.${name}: ${String(value)} is not a finite number`
  }
  return undefined
}

function blockProblem (b: Block | undefined, at = 'block'): string | undefined {
  if (b === undefined) return `${at}: missing`
  return namesProblem([[`${at}.id`, 'block', b.id], [`${at}.era`, 'era', b.era, 'optional']]) ?? runsProblem(`${at}.runs`, b.runs)
}

const checks: { [K in TopicId]: (m: never) => string | undefined } = {
  runs: (e: RunEvent) => {
    const run = runsProblem('run', [e.run]) ?? namesProblem([['campaign', 'campaign', e.campaign, 'optional']])
    if (run !== undefined) return run
    const change = e.change
    switch (change.case) {
      case 'started': case 'updated': case 'ended':
        return change.value.run === undefined ? undefined : runRecordProblem(change.value.run, `${change.case}.run`)
      case 'fcsr': return runsProblem('fcsr.fcsr', [change.value.fcsr])
      case 'streamDone': return namesProblem([['stream_done.stream', 'workflow', change.value.stream]])
      case 'datasetDone': return namesProblem([['dataset_done.primary_dataset', 'workflow', change.value.primaryDataset]])
      case undefined: return undefined
    }
  },
  runRegistry: (e: RegistryEntry) => {
    const entry = e.entry
    switch (entry.case) {
      case 'runEntry': {
        const v = entry.value
        return runsProblem('run', [e.run]) ??
          (v.run === undefined ? undefined : runRecordProblem(v.run, 'run_entry.run')) ??
          (v.run !== undefined && v.run.run !== e.run ? `run_entry.run.run: ${v.run.run} is not the entry's run ${e.run}` : undefined) ??
          namesProblem([
            ...v.streams.map((r, i): NameField => [`run_entry.streams[${i}].name`, 'workflow', r.name]),
            ...v.datasets.map((r, i): NameField => [`run_entry.datasets[${i}].name`, 'workflow', r.name])
          ])
      }
      case 'mark': return namesProblem([['mark.name', 'workflow', entry.value.name]]) ?? runsProblem('mark.value', [entry.value.value])
      case undefined: return 'entry: missing (neither run_entry nor mark)'
    }
  },
  tasks: (e: TaskEvent) => namesProblem([
    ['subsystem', 'subsystem', e.subsystem],
    ['campaign', 'campaign', e.campaign],
    ['workflow', 'workflow', e.workflow, 'optional'],
    ['task', 'task', e.task],
    ['condition_tag', 'tag', e.conditionTag, 'optional']
  ]) ?? blockProblem(e.block),
  jobRequests: (r: JobRequest) => idProblem('job_id', r.jobId) ?? provenanceProblem(r.provenance),
  jobStatus: (s: JobStatus) => idProblem('job_id', s.jobId) ?? provenanceProblem(s.provenance) ?? resultsProblem(s.results),
  conditionRequests: (r: ConditionRequest) => idProblem('request_id', r.requestId) ?? namesProblem([
    ['destination_tag', 'tag', r.destinationTag],
    ['input_tag', 'tag', r.inputTag, 'optional'],
    ['record', 'record', r.record, 'optional']
  ]) ?? (r.provenance === undefined ? undefined : provenanceProblem(r.provenance)),
  conditions: (e: ConditionEvent) => idProblem('request_id', e.requestId) ?? namesProblem([
    ['tag', 'tag', e.tag],
    ['record', 'record', e.record, 'optional']
  ]) ?? (e.provenance === undefined ? undefined : provenanceProblem(e.provenance)),
  control: (c: ControlCommand) => {
    const problem = idProblem('command_id', c.commandId) ?? scopeProblem('subsystem', c.subsystem) ??
      (c.selector === undefined ? undefined : selectorProblem(c.selector))
    if (problem !== undefined) return problem
    const action = c.action
    switch (action.case) {
      case 'injectRuns': {
        const v = action.value
        const runs = runsProblem('inject_runs.runs', v.runs) ?? runsProblem('inject_runs.first_run', [v.firstRun], true) ?? runsProblem('inject_runs.last_run', [v.lastRun], true)
        if (runs !== undefined) return runs
        for (const [i, r] of v.ranges.entries()) {
          const p = runsProblem(`inject_runs.ranges[${i}].first_run`, [r.firstRun]) ?? runsProblem(`inject_runs.ranges[${i}].last_run`, [r.lastRun])
          if (p !== undefined) return p
          if (r.firstRun > r.lastRun) return `inject_runs.ranges[${i}]: first_run ${r.firstRun} is after last_run ${r.lastRun}`
        }
        const eras = namesProblem(v.eras.map((e, i): NameField => [`inject_runs.eras[${i}]`, 'era', e]))
        if (eras !== undefined) return eras
        for (const [i, r] of v.records.entries()) {
          const p = runRecordProblem(r, `inject_runs.records[${i}]`)
          if (p !== undefined) return p
        }
        return undefined
      }
      case 'approveCondition': case 'rejectCondition': case 'promoteCondition':
        return idProblem(`${action.case === 'approveCondition' ? 'approve' : action.case === 'rejectCondition' ? 'reject' : 'promote'}_condition.request_id`, action.value.requestId)
      case 'forceGate':
        // a gate name as pending_gates writes it (t0StreamDone:Express, minLumi:5, http): printable ASCII, no space
        return /^[\x21-\x7e]{0,300}$/.test(action.value.gate) ? undefined : `force_gate.gate: ${JSON.stringify(action.value.gate.slice(0, 80))} is not a gate name (printable characters without spaces, at most 300)`
      case 'reprocess': case 'skip': case 'cancel': case 'resubmitFailedJobs': case 'closeBlock': case undefined:
        return undefined
    }
  },
  // a dead letter or an audit record carries the refused input as it came: never refused for it
  dlq: () => undefined,
  audit: () => undefined,
  campaigns: (d: CampaignDefinition) => namesProblem([
    ['name', 'campaign', d.name],
    ...d.subsystems.map((s, i): NameField => [`subsystems[${i}]`, 'subsystem', s]),
    ...d.workflows.flatMap((w, i): NameField[] => [[`workflows[${i}].subsystem`, 'subsystem', w.subsystem], [`workflows[${i}].workflow`, 'workflow', w.workflow]]),
    ...d.runTypes.flatMap((r, i): NameField[] => [
      [`run_types[${i}].name`, 'workflow', r.name],
      ...r.tasks.map((t, j): NameField => [`run_types[${i}].tasks[${j}]`, 'task', t]),
      ...(r.filter?.eras ?? []).map((e, j): NameField => [`run_types[${i}].filter.eras[${j}]`, 'era', e])
    ]),
    ...Object.entries(d.conditions?.tags ?? {}).flatMap(([task, target]): NameField[] => [[`conditions.tags[${shown(task)}]`, 'task', task], [`conditions.tags[${shown(task)}].tag`, 'tag', target.tag]])
  ])
}

/**
 * Checks every name, id and run number of a decoded message of a registry
 * topic against the one grammar (names.ts). Returns the first problem as
 * `<field path>: <what is wrong, with the value JSON-escaped>` (e.g.
 * `block.era: era "../../x" is not a valid name: …`), or undefined when the
 * message may be handled. Fields that proto3 leaves '' when absent are
 * optional where the contract says so (Run.era, workflow, input_tag, record…).
 */
export function messageProblem<K extends TopicId> (topic: K, message: unknown): string | undefined {
  return (checks[topic] as (m: unknown) => string | undefined)(message)
}

/**
 * Finds a uint32 field whose wire value does not fit in 32 bits. The binary
 * decoder keeps only the low 32 bits of such a varint (a run 2^32 + 5 would
 * arrive as run 5), so the bus checks the bytes of every binary message with
 * this before it trusts a decoded number. Walks nested messages (not map
 * values) and packed lists. Returns `<field path>: <value> does not fit in
 * uint32 (expected 0 ≤ value < 2^32)`, or undefined. Malformed bytes are the
 * decoder's to report: this returns undefined for what it cannot read.
 */
export function uint32OverflowProblem (schema: DescMessage, bytes: Uint8Array, at = ''): string | undefined {
  try {
    return overflowIn(schema, new BinaryReader(bytes), bytes.length, at)
  } catch {
    return undefined
  }
}

function overflowIn (schema: DescMessage, reader: BinaryReader, end: number, at: string): string | undefined {
  const tooWide = (path: string, v: bigint): string => `${path}: ${v} does not fit in uint32 (expected 0 ≤ value < 2^32)`
  while (reader.pos < end) {
    const [no, wireType] = reader.tag()
    const field = schema.fields.find(f => f.number === no)
    if (field === undefined) { reader.skip(wireType, no); continue }
    const path = `${at}${field.name}`
    const uint32 = (field.fieldKind === 'scalar' || (field.fieldKind === 'list' && field.listKind === 'scalar')) && field.scalar === ScalarType.UINT32
    const message = field.fieldKind === 'message' || (field.fieldKind === 'list' && field.listKind === 'message') ? field.message : undefined
    if (uint32 && wireType === WireType.Varint) {
      const v = BigInt(reader.uint64())
      if (v >= 2n ** 32n) return tooWide(path, v)
    } else if (uint32 && wireType === WireType.LengthDelimited) {
      const stop = reader.uint32() + reader.pos
      while (reader.pos < stop) {
        const v = BigInt(reader.uint64())
        if (v >= 2n ** 32n) return tooWide(path, v)
      }
    } else if (message !== undefined && wireType === WireType.LengthDelimited) {
      const length = reader.uint32()
      const problem = overflowIn(message, reader, reader.pos + length, `${path}.`)
      if (problem !== undefined) return problem
    } else reader.skip(wireType, no)
  }
  return undefined
}
