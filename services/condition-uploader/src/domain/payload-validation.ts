// Validation of a payload file against its upload request: every way a file
// can be refused has its own check name and a reason that says what was
// wrong and where. Returns a decision; never throws for a bad file.
import {
  friendlySince, isSynchronization, isTimeType, schemaProblems,
  type PayloadFile, type PayloadRow, type TagRow
} from './conddb-format.ts'
import { isPayloadHash, payloadHash } from './payload-hash.ts'
import { fcsrSince, requestedSinceFor, startAt, type FcsrPolicyName, type SinceIov } from './since-rules.ts'
import { checkSynchronization } from './sync-rules.ts'

/** What the upload request asks (the metadata half of CMS's name.db + name.txt). */
export interface RequestFacts {
  requestId: string
  destinationTag: string
  /** Tag inside the file; empty = the only tag of the file. */
  inputTag: string
  /** Synchronization of the destination tag; empty = the destination's own, else the input tag's. */
  synchronization: string
  since?: bigint | undefined
  /** Value checks declared by the workflow, e.g. { min_size_bytes: '10' }. */
  checks: Record<string, string>
  /** No file, or the input tag without IOV, is "no new payload" (SKIPPED), not a refusal. */
  optionalPayload?: boolean
  /** When non-empty, every payload uploaded must have exactly this hash (promotion of a validated payload). */
  expectedPayloadHash?: string
}

export interface ValidationInput {
  request: RequestFacts
  file: PayloadFile
  /** The destination tag as the target has it; undefined when it does not exist there or the target cannot tell. */
  destination: TagRow | undefined
  /**
   * What the target knows of the destination tag: whether it exists and its
   * last since. Undefined when the target cannot tell (the upload service):
   * write-once and append-only are then left to it.
   */
  destinationState?: { exists: boolean, lastSince: bigint | undefined } | undefined
  /** First condition-safe run; undefined when unknown. */
  fcsr: number | undefined
  policy: FcsrPolicyName
  whenFcsrUnknown: 'accept' | 'reject'
}

export const rejectionChecks = [
  'unreadable', 'schema', 'input-tag', 'empty-iov', 'missing-payload', 'object-type', 'payload-hash',
  'time-type', 'synchronization', 'protected', 'check', 'since', 'fcsr', 'before-first-iov', 'write-once', 'append-only',
  'expected-hash', 'hostile-file', 'output-dir'
] as const
export type RejectionCheck = typeof rejectionChecks[number]

/** How the destination tag is (or will be, when created on first use) set up. */
export interface DestinationTag {
  name: string
  timeType: string
  objectType: string
  synchronization: string
  description: string
  /** False: the target does not have it (yet); it is created on first use. */
  exists: boolean
}

/** What the sync rules need again at write time (the local CondDB re-checks them inside its transaction). */
export interface SyncFacts {
  requestedSince: bigint | undefined
  fileFirstSince: bigint
  /** FCSR as a since of the tag's time type; undefined = unknown or none. */
  fcsr: bigint | undefined
  policy: FcsrPolicyName
  whenFcsrUnknown: 'accept' | 'reject'
}

export type Validation =
  /** `payloadHash`: the first IOV's payload when the refusal came after the file's IOVs were read (the event names what was refused). */
  | { kind: 'rejected', check: RejectionCheck, reason: string, payloadHash?: string }
  /** An optional condition whose job wrote nothing new: SKIPPED, not refused. */
  | { kind: 'no-payload', reason: string }
  | {
    kind: 'valid'
    tag: DestinationTag
    inputTag: TagRow
    /** IOVs to upload, sorted by since, after the since and FCSR rules. */
    iovs: SinceIov[]
    /** The payloads those IOVs reference (each once). */
    payloads: PayloadRow[]
    /** The since asked for, when the FCSR rule moved it. */
    requestedSince?: bigint
    /** What was decided about the since, in words (recorded with the upload). */
    decisions: string[]
    /** Facts for re-checking the sync rules at write time. */
    sync: SyncFacts
  }

function reject (check: RejectionCheck, reason: string, payloadHash?: string): Validation {
  return payloadHash === undefined ? { kind: 'rejected', check, reason } : { kind: 'rejected', check, reason, payloadHash }
}

/**
 * Validates a payload file against its request and the synchronization rules
 * (sync-rules.ts). Returns valid (what to write), rejected (check + reason)
 * or no-payload (an optional condition with nothing new). Never throws.
 */
export function validatePayload (input: ValidationInput): Validation {
  const { request, file, destination } = input
  const where = `payload file ${file.path}`
  if (file.kind === 'missing') {
    if (request.optionalPayload === true) return { kind: 'no-payload', reason: file.path === '' ? 'no new payload: the job wrote no payload file' : `no new payload: the job wrote no file ${file.path}` }
    return reject('unreadable', file.path === '' ? 'the request names no payload file' : `${where} does not exist`)
  }
  if (file.kind === 'unreadable') return reject('unreadable', `${where} is not readable as SQLite: ${file.reason}`)
  if (file.kind === 'refused') return reject('hostile-file', `${where} is refused unread: ${file.reason}`)

  const problems = schemaProblems(file.columns)
  if (problems.length > 0) return reject('schema', `${where} is not in the CondDB v2 schema: ${problems.join('; ')}`)

  let inputTag: TagRow | undefined
  if (request.inputTag !== '') {
    inputTag = file.tags.find(t => t.name === request.inputTag)
    if (inputTag === undefined) {
      const names = file.tags.map(t => `'${t.name}'`).join(', ')
      return reject('input-tag', `${where} has no tag '${request.inputTag}' (tags in the file: ${names === '' ? 'none' : names})`)
    }
  } else {
    if (file.tags.length !== 1) {
      return reject('input-tag', `${where} has ${file.tags.length} tags (${file.tags.map(t => `'${t.name}'`).join(', ')}) and the request names no input tag`)
    }
    inputTag = file.tags[0]!
  }
  const tagWhere = `${where}, tag '${inputTag.name}'`
  if (!isTimeType(inputTag.timeType)) return reject('time-type', `${tagWhere} has unknown time type '${inputTag.timeType}'`)

  const iovs = latestPerSince(file.iovs.filter(i => i.tagName === inputTag.name))
  if (iovs.length === 0) {
    if (request.optionalPayload === true) return { kind: 'no-payload', reason: `no new payload: ${tagWhere} has no IOV` }
    return reject('empty-iov', `${tagWhere} has no IOV`)
  }

  const payloads = new Map(file.payloads.map(p => [p.hash, p]))
  for (const iov of iovs) {
    const payload = payloads.get(iov.payloadHash)
    const at = `IOV since ${friendlySince(inputTag.timeType, iov.since)}`
    if (payload === undefined) return reject('missing-payload', `${tagWhere}: ${at} references payload ${iov.payloadHash}, which the file does not contain`)
    if (payload.objectType !== inputTag.objectType) {
      return reject('object-type', `${tagWhere}: ${at} payload ${payload.hash} has object type '${payload.objectType}' but the tag holds '${inputTag.objectType}'`)
    }
    if (!isPayloadHash(payload.hash)) return reject('payload-hash', `${where}: payload hash '${payload.hash}' is not 40 lower-case hex characters`)
    const computed = payloadHash(payload.objectType, payload.data)
    if (computed !== payload.hash) {
      return reject('payload-hash', `${where}: payload ${payload.hash} does not match SHA-1(object type + data) = ${computed}; the payload is corrupted`)
    }
  }

  const dest = request.destinationTag
  if (destination !== undefined) {
    if (destination.protectionCode !== undefined && destination.protectionCode !== 0) {
      return reject('protected', `destination tag '${dest}' is protected (PROTECTION_CODE ${destination.protectionCode})`)
    }
    if (destination.timeType !== inputTag.timeType) {
      return reject('time-type', `destination tag '${dest}' has time type ${destination.timeType} but input tag '${inputTag.name}' has ${inputTag.timeType}`)
    }
    if (destination.objectType !== inputTag.objectType) {
      return reject('object-type', `destination tag '${dest}' holds '${destination.objectType}' but the payloads of ${tagWhere} are '${inputTag.objectType}'`)
    }
  }

  const decisions: string[] = []
  let synchronization = destination?.synchronization ?? (request.synchronization !== '' ? request.synchronization : inputTag.synchronization)
  if (destination !== undefined && request.synchronization !== '' && request.synchronization !== destination.synchronization) {
    decisions.push(`synchronization '${request.synchronization}' asked, destination tag has '${destination.synchronization}': the tag's applies`)
  }
  synchronization = synchronization.toLowerCase()
  if (!isSynchronization(synchronization)) return reject('synchronization', `synchronization '${synchronization}' of tag '${dest}' is not one of the CondDB synchronizations`)

  const tag: DestinationTag = {
    name: dest,
    timeType: inputTag.timeType,
    objectType: inputTag.objectType,
    synchronization,
    description: destination?.description ?? inputTag.description,
    exists: destination !== undefined
  }

  let planned: SinceIov[] = iovs.map(i => ({ since: i.since, payloadHash: i.payloadHash }))
  let askedSince: bigint | undefined
  if (request.since !== undefined) {
    const asked = requestedSinceFor(tag.timeType, request.since)
    if (asked.kind === 'rejected') return reject('since', `request ${request.requestId}: ${asked.reason}`)
    askedSince = asked.since
    planned = startAt(planned, asked.since)
    decisions.push(`upload starts at requested since ${friendlySince(tag.timeType, asked.since)}`)
  }

  const checked = checkValues(request.checks, tag, planned, payloads)
  if (checked !== undefined) return reject('check', `${tagWhere}: ${checked}`)

  const sync: SyncFacts = {
    requestedSince: askedSince,
    fileFirstSince: iovs[0]!.since,
    fcsr: input.fcsr === undefined ? undefined : fcsrSince(tag.timeType, input.fcsr),
    policy: input.policy,
    whenFcsrUnknown: input.whenFcsrUnknown
  }
  const rules = checkSynchronization({
    tag: dest,
    synchronization,
    timeType: tag.timeType,
    iovs: planned,
    destination: input.destinationState,
    fcsrSource: 'tier0',
    ...sync
  })
  if (rules.kind === 'rejected') return reject(rules.rule === 'synchronization' ? 'synchronization' : rules.rule, rules.reason, planned[0]?.payloadHash ?? iovs[0]!.payloadHash)
  decisions.push(...rules.notes)

  const expected = request.expectedPayloadHash ?? ''
  if (expected !== '') {
    const other = rules.iovs.find(i => i.payloadHash !== expected.toLowerCase())
    if (other !== undefined) {
      return reject('expected-hash', `${tagWhere}: payload hash ${other.payloadHash} (IOV since ${friendlySince(tag.timeType, other.since)}) is not the expected payload hash ${expected}`, other.payloadHash)
    }
    decisions.push(`payload hash is the expected ${expected}`)
  }

  const used = [...new Set(rules.iovs.map(i => i.payloadHash))].map(h => payloads.get(h)!)
  return {
    kind: 'valid',
    tag,
    inputTag,
    iovs: rules.iovs,
    payloads: used,
    ...(rules.movedFrom === undefined ? {} : { requestedSince: askedSince ?? rules.movedFrom }),
    decisions,
    sync
  }
}

/** One IOV per since: the row with the latest insertion time supersedes the others. Sorted by since. */
export function latestPerSince<T extends { since: bigint, insertionTime: string }> (iovs: readonly T[]): T[] {
  const bySince = new Map<bigint, T>()
  for (const iov of iovs) {
    const seen = bySince.get(iov.since)
    if (seen === undefined || iov.insertionTime > seen.insertionTime) bySince.set(iov.since, iov)
  }
  return [...bySince.values()].sort((a, b) => (a.since < b.since ? -1 : a.since > b.since ? 1 : 0))
}

/** Workflow-declared value checks; the first that fails, in words, or undefined. */
export function checkValues (checks: Record<string, string>, tag: DestinationTag, iovs: readonly SinceIov[],
  payloads: ReadonlyMap<string, PayloadRow>): string | undefined {
  for (const [name, value] of Object.entries(checks).sort(([a], [b]) => a.localeCompare(b))) {
    const sizes = iovs.map(i => payloads.get(i.payloadHash)?.data.length ?? 0)
    const number = Number(value)
    switch (name) {
      case 'min_size_bytes':
      case 'max_size_bytes':
      case 'max_iovs':
        if (!Number.isInteger(number) || number < 0) return `check ${name}=${value}: expected a non-negative integer`
        if (name === 'min_size_bytes' && sizes.some(s => s < number)) return `check ${name}=${value} failed: a payload has ${Math.min(...sizes)} bytes`
        if (name === 'max_size_bytes' && sizes.some(s => s > number)) return `check ${name}=${value} failed: a payload has ${Math.max(...sizes)} bytes`
        if (name === 'max_iovs' && iovs.length > number) return `check ${name}=${value} failed: ${iovs.length} IOVs to upload`
        break
      case 'object_type':
        if (tag.objectType !== value) return `check ${name}=${value} failed: object type is '${tag.objectType}'`
        break
      case 'time_type':
        if (tag.timeType !== value) return `check ${name}=${value} failed: time type is '${tag.timeType}'`
        break
      case 'synchronization':
        if (tag.synchronization !== value) return `check ${name}=${value} failed: synchronization is '${tag.synchronization}'`
        break
      default:
        return `unknown check '${name}' (known: min_size_bytes, max_size_bytes, max_iovs, object_type, time_type, synchronization)`
    }
  }
  return undefined
}
