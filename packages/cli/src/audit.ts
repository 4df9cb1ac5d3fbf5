// `autocal audit`: the operator actions recorded on autocal.audit.v1 (control
// RPCs, injections, condition sign-off, DLQ redrives), accepted or refused,
// read straight from Kafka like `autocal dlq` (the broker's own access rules
// say who may read them).
import { fromBinary, toJson } from '@bufbuild/protobuf'
import { timestampDate } from '@bufbuild/protobuf/wkt'
import { AuditRecordSchema, topicName, topics, type AuditRecord } from '@autocal/contracts'
import { DlqUsageError, readAll, setupOf, type DlqIo } from './dlq.ts'

export interface AuditOptions {
  brokers?: string | undefined
  prefix?: string | undefined
  since?: string | undefined
  principal?: string | undefined
  action?: string | undefined
  subsystem?: string | undefined
  refused?: boolean | undefined
  json?: boolean | undefined
}

const units: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }

/** A duration "90s", "30m", "12h", "7d", "2w" in ms; undefined when `text` is not one. */
export function durationMs (text: string): number | undefined {
  const d = /^(\d+)([smhdw])$/.exec(text.trim())
  return d === null ? undefined : Number(d[1]) * units[d[2]!]!
}

/**
 * The instant (ms since the epoch) `--since` names: a duration back from
 * `nowMs` ("90s", "30m", "12h", "7d", "2w") or an ISO 8601 time
 * ("2026-03-01", "2026-03-01T12:00:00Z"). Throws a usage error naming the
 * flag and the value otherwise.
 */
export function sinceOf (text: string, nowMs: number): number {
  const d = durationMs(text)
  if (d !== undefined) return nowMs - d
  const t = /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : NaN
  if (Number.isNaN(t)) throw new DlqUsageError(`--since: expected a duration (30m, 12h, 7d, 2w) or an ISO time (2026-03-01T12:00:00Z), got '${text}'`)
  return t
}

/**
 * Whether a record passes the filters: at or after `since`, the principal,
 * the action (exact, or a prefix ending in '.': "control." = every control
 * RPC), a subsystem among its (comma-separated) subsystems, refused only.
 */
export function auditMatches (a: AuditRecord, f: { sinceMs?: number | undefined, principal?: string | undefined, action?: string | undefined, subsystem?: string | undefined, refused?: boolean | undefined }): boolean {
  if (f.sinceMs !== undefined && (a.at === undefined || timestampDate(a.at).getTime() < f.sinceMs)) return false
  if (f.principal !== undefined && a.principal !== f.principal) return false
  if (f.action !== undefined && !(f.action.endsWith('.') ? a.action.startsWith(f.action) : a.action === f.action)) return false
  if (f.subsystem !== undefined && !a.subsystem.split(',').includes(f.subsystem)) return false
  if (f.refused === true && a.accepted) return false
  return true
}

/** One line of text, control characters shown as '?' (a record's reason is an operator's free text). */
function cell (s: string, max: number): string {
  // eslint-disable-next-line no-control-regex
  const line = s.replace(/\s+/g, ' ').replace(/[\u0000-\u001f\u007f-\u009f]/g, '?')
  return line.length > max ? line.slice(0, max - 1) + '…' : line
}

/** `autocal audit [--since D] [--principal P] [--action A] [--subsystem S] [--refused] [--json]`. */
export async function runAudit (o: AuditOptions, io: DlqIo, nowMs = Date.now()): Promise<number> {
  const filter = { sinceMs: o.since === undefined ? undefined : sinceOf(o.since, nowMs), principal: o.principal, action: o.action, subsystem: o.subsystem, refused: o.refused }
  const setup = setupOf(o, io)
  const rows = await readAll(setup, topicName(topics.audit, setup.prefix))
  const records = rows.flatMap(r => r.value === null ? [] : [fromBinary(AuditRecordSchema, r.value)])
    .filter(a => auditMatches(a, filter))
    .sort((a, b) => (a.at === undefined ? 0 : timestampDate(a.at).getTime()) - (b.at === undefined ? 0 : timestampDate(b.at).getTime()))
  if (o.json === true) {
    for (const a of records) io.out(JSON.stringify(toJson(AuditRecordSchema, a)))
    return 0
  }
  if (records.length === 0) {
    io.out('no audit records')
    return 0
  }
  io.out(['AT', 'PRINCIPAL', 'PEER', 'ACTION', 'SUBSYSTEM', 'TARGET', 'OUTCOME', 'REASON'].join('\t'))
  for (const a of records) {
    io.out([a.at === undefined ? '-' : timestampDate(a.at).toISOString(), cell(a.principal, 40), cell(a.peer, 40), cell(a.action, 40), cell(a.subsystem || '-', 40), cell(a.target, 60), a.accepted ? 'accepted' : 'refused', cell(a.reason, 100)].join('\t'))
  }
  io.out(`${records.length} record(s), ${records.filter(a => !a.accepted).length} refused`)
  return 0
}
