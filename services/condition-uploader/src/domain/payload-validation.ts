// Validation of a payload file against its upload request: every way a file
// can be refused has its own check name and a reason that says what was
// wrong and where. Returns a decision; never throws for a bad file.
import {
  friendlySince, isSynchronization, isTimeType, schemaProblems,
  type PayloadFile, type PayloadRow, type TagRow
} from './conddb-format.ts'
import { isPayloadHash, payloadHash } from './payload-hash.ts'
import { applyFcsr, requestedSinceFor, startAt, type FcsrPolicyName, type SinceIov } from './since-rules.ts'

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
}

export interface ValidationInput {
  request: RequestFacts
  file: PayloadFile
  /** The destination tag as the target has it; undefined when it does not exist there or the target cannot tell. */
  destination: TagRow | undefined
  /** First condition-safe run; undefined when unknown. */
  fcsr: number | undefined
  policy: FcsrPolicyName
  whenFcsrUnknown: 'accept' | 'reject'
}

export const rejectionChecks = [
  'unreadable', 'schema', 'input-tag', 'empty-iov', 'missing-payload', 'object-type', 'payload-hash',
  'time-type', 'synchronization', 'protected', 'check', 'since', 'fcsr'
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

export type Validation =
  | { kind: 'rejected', check: RejectionCheck, reason: string }
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
  }

function reject (check: RejectionCheck, reason: string): Validation {
  return { kind: 'rejected', check, reason }
}

export function validatePayload (input: ValidationInput): Validation {
  const { request, file, destination } = input
  const where = `payload file ${file.path}`
  if (file.kind === 'unreadable') return reject('unreadable', `${where} is not readable as SQLite: ${file.reason}`)

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
  if (iovs.length === 0) return reject('empty-iov', `${tagWhere} has no IOV`)

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

  const fcsr = applyFcsr({
    tag: dest, timeType: tag.timeType, synchronization, iovs: planned, fcsr: input.fcsr, policy: input.policy, whenUnknown: input.whenFcsrUnknown
  })
  if (fcsr.kind === 'rejected') return reject('fcsr', fcsr.reason)
  decisions.push(fcsr.note)

  const used = [...new Set(fcsr.iovs.map(i => i.payloadHash))].map(h => payloads.get(h)!)
  return {
    kind: 'valid',
    tag,
    inputTag,
    iovs: fcsr.iovs,
    payloads: used,
    ...(fcsr.kind === 'moved' ? { requestedSince: askedSince ?? fcsr.requestedSince } : {}),
    decisions
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
