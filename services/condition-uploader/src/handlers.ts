// Condition requests in, condition events out: read the payload file,
// validate it (pure domain), write it to the target under a per-tag lease,
// record the outcome and publish it. Idempotent: an outcome recorded for a
// request is republished with the same event id instead of being redone,
// and the target never gets the same (tag, since, payload hash) twice.
import { create, fromBinary, toBinary } from '@bufbuild/protobuf'
import { timestampFromDate } from '@bufbuild/protobuf/wkt'
import {
  ConditionEventSchema, FcsrPolicy, Outcome, topics,
  type ConditionEvent, type ConditionRequest, type EventMeta, type RunEvent
} from '@autocal/contracts'
import { AutocalError, acquireLease, policies, retry, type Lease, type Logger, type Producer, type RedisHandle } from '@autocal/runtime'
import { outputRoot, type Config } from './config.ts'
import type { CondDb } from './adapters/conddb-sqlite.ts'
import type { DropboxClient } from './adapters/dropbox-client.ts'
import type { FcsrStore } from './adapters/fcsr-store.ts'
import { resolvePayloadPath } from './adapters/output-path.ts'
import { readPayloadFile } from './adapters/payload-file.ts'
import type { UploadHistory } from './adapters/upload-history.ts'
import type { IovRow, PayloadFile, TagRow } from './domain/conddb-format.ts'
import { validatePayload, type Validation } from './domain/payload-validation.ts'
import type { FcsrPolicyName, SinceIov } from './domain/since-rules.ts'

export type HandlerConfig = Pick<Config, 'AUTOCAL_UPLOAD_TARGET' | 'AUTOCAL_DRY_RUN_TAGS' | 'AUTOCAL_FCSR_POLICY' | 'AUTOCAL_FCSR_POLICY_TAGS' |
'AUTOCAL_FCSR_WHEN_UNKNOWN' | 'AUTOCAL_TAG_LEASE_MS' | 'AUTOCAL_TAG_LEASE_WAIT_MS' | 'AUTOCAL_DROPBOX_URL' | 'AUTOCAL_DROPBOX_DATABASE' |
'AUTOCAL_DATA_DIR' | 'AUTOCAL_OUTPUT_ROOT' | 'AUTOCAL_PAYLOAD_MAX_BYTES'>

export interface HandlerDeps {
  config: HandlerConfig
  logger: Logger
  producer: Pick<Producer, 'publish'>
  redis: RedisHandle
  conddb: CondDb
  history: UploadHistory
  fcsr: FcsrStore
  dropbox?: DropboxClient | undefined
  /** Aborted when the uploader stops: lease waits and upload retries end at once (the message stays uncommitted). */
  signal?: AbortSignal | undefined
  /** Reads a payload file (default: the hardened SQLite reader with AUTOCAL_PAYLOAD_MAX_BYTES). */
  readFile?: (path: string) => PayloadFile
}

export function outcomeName (outcome: Outcome): string {
  switch (outcome) {
    case Outcome.UPLOADED: return 'UPLOADED'
    case Outcome.SKIPPED: return 'SKIPPED'
    case Outcome.REJECTED: return 'REJECTED'
    case Outcome.FAILED: return 'FAILED'
    case Outcome.UNSPECIFIED: return 'UNSPECIFIED'
  }
  return String(outcome)
}

/** The event id of an outcome: `conditions/<request_id>/<outcome>`. */
export function outcomeEventId (requestId: string, outcome: Outcome): string {
  return `conditions/${requestId}/${outcomeName(outcome)}`
}

interface Result {
  outcome: Outcome
  since: bigint
  requestedSince?: bigint | undefined
  payloadHash: string
  objectType: string
  target: string
  reason: string
  synchronization: string
  timeType: string
  decisions: string[]
  iovs: SinceIov[]
}

export function createHandlers (deps: HandlerDeps) {
  const { config, logger, producer, redis, conddb, history, fcsr } = deps
  const readFile = deps.readFile ?? ((path: string) => readPayloadFile(path, { maxFileBytes: config.AUTOCAL_PAYLOAD_MAX_BYTES }))
  const root = outputRoot(config)
  const log = logger.child({ component: 'handlers' })
  const sqliteTarget = `sqlite:${conddb.path}`
  const dropboxTarget = `dropbox:${config.AUTOCAL_DROPBOX_URL}`

  function policyFor (tag: string, requested: FcsrPolicy): FcsrPolicyName {
    const configured = config.AUTOCAL_FCSR_POLICY_TAGS[tag]
    if (configured !== undefined) return configured
    if (requested === FcsrPolicy.MOVE) return 'move'
    if (requested === FcsrPolicy.REJECT) return 'reject'
    return config.AUTOCAL_FCSR_POLICY
  }

  /** The payload file, read only when it resolves inside the job's output directory and the output root. */
  function payloadFileOf (req: ConditionRequest): PayloadFile | { kind: 'outside', reason: string } {
    // an optional condition whose job wrote no payload is sent without a file (onConditionRequest lets only those through)
    if (req.payloadFile === '') return { kind: 'missing', path: '' }
    const where = resolvePayloadPath(req.payloadFile, req.outputDir, root)
    if (where.kind === 'missing') return { kind: 'missing', path: req.payloadFile }
    if (where.kind === 'outside') return where
    return readFile(where.resolved)
  }

  async function process (req: ConditionRequest): Promise<Result> {
    const tag = req.destinationTag
    const base = { since: req.since ?? 0n, payloadHash: '', objectType: '', synchronization: req.synchronization, timeType: '', decisions: [], iovs: [] }
    const sqlite = config.AUTOCAL_UPLOAD_TARGET === 'sqlite'
    const destination = sqlite ? conddb.getTag(tag) : undefined
    // a redelivery after a crash between the CondDB write and the outcome record: answered from the CondDB, before the
    // file is read or validated again (the FCSR may have moved since, which would move or refuse the since it wrote)
    if (destination !== undefined) {
      const earlier = conddb.writtenBy(tag, req.requestId)
      if (earlier.length > 0) return writtenBefore(req, destination, earlier)
    }
    const file = payloadFileOf(req)
    if (file.kind === 'outside') {
      history.step(req.requestId, 'validated', `rejected (output-dir): ${file.reason}`)
      return { ...base, outcome: Outcome.REJECTED, target: targetName(), reason: `output-dir: ${file.reason}` }
    }
    const policy = policyFor(tag, req.fcsrPolicy)
    const known = await fcsr.get()
    const v: Validation = validatePayload({
      request: {
        requestId: req.requestId,
        destinationTag: tag,
        inputTag: req.inputTag,
        synchronization: req.synchronization,
        since: req.since,
        checks: req.checks,
        optionalPayload: req.optionalPayload,
        expectedPayloadHash: req.expectedPayloadHash
      },
      file,
      destination,
      // the upload service's tag state is not known before a session: it enforces write-once and append-only itself;
      // a request that already wrote here (redelivered after a crash) is answered by the CondDB's plan, not refused
      destinationState: sqlite
        ? { exists: destination !== undefined, lastSince: destination === undefined ? undefined : conddb.lastSince(tag) }
        : undefined,
      fcsr: known,
      policy,
      whenFcsrUnknown: config.AUTOCAL_FCSR_WHEN_UNKNOWN
    })
    if (v.kind === 'no-payload') {
      history.step(req.requestId, 'validated', v.reason)
      return { ...base, outcome: Outcome.SKIPPED, target: targetName(), reason: v.reason }
    }
    if (v.kind === 'rejected') {
      history.step(req.requestId, 'validated', `rejected (${v.check}): ${v.reason}`)
      return { ...base, payloadHash: v.payloadHash ?? '', outcome: Outcome.REJECTED, target: targetName(), reason: `${v.check}: ${v.reason}` }
    }
    history.step(req.requestId, 'validated', `${v.iovs.length} IOV(s); ${v.decisions.join('; ')}`)
    const first = v.iovs[0]!
    const valid = {
      since: first.since,
      requestedSince: v.requestedSince,
      payloadHash: first.payloadHash,
      objectType: v.tag.objectType,
      synchronization: v.tag.synchronization,
      timeType: v.tag.timeType,
      decisions: v.decisions,
      iovs: v.iovs
    }
    if (req.dryRun || config.AUTOCAL_DRY_RUN_TAGS.includes(tag)) {
      const why = req.dryRun ? 'request asks for a dry run' : 'tag is in AUTOCAL_DRY_RUN_TAGS'
      return { ...valid, outcome: Outcome.SKIPPED, target: 'dry-run', reason: `dry run (${why}): valid, ${v.iovs.length} IOV(s) not written; ${v.decisions.join('; ')}` }
    }
    if (config.AUTOCAL_UPLOAD_TARGET === 'sqlite') {
      try {
        const r = conddb.upload({ tag: v.tag, iovs: v.iovs, payloads: v.payloads, requestId: req.requestId, userText: req.userText, sync: v.sync })
        if (r.kind === 'written-before') return writtenBefore(req, conddb.getTag(tag) ?? v.tag, r.rows)
        if (r.kind === 'conflict') return { ...valid, outcome: Outcome.REJECTED, target: sqliteTarget, reason: `object-type: ${r.reason}` }
        if (r.kind === 'rejected') {
          history.step(req.requestId, 'sqlite', `rejected (${r.rule}) at write time: ${r.reason}`)
          return { ...valid, outcome: Outcome.REJECTED, target: sqliteTarget, reason: `${r.rule}: ${r.reason}` }
        }
        history.step(req.requestId, 'sqlite', `${r.appended.length} IOV(s) appended, ${r.plan.payloadsToStore.length} payload(s) stored, ${r.plan.alreadyPresent.length} already present${r.tagCreated ? ', tag created' : ''}`)
        if (r.appended.length > 0) {
          return { ...valid, outcome: Outcome.UPLOADED, target: sqliteTarget, reason: v.decisions.join('; ') }
        }
        return { ...valid, outcome: Outcome.SKIPPED, target: sqliteTarget, reason: `already present: tag '${tag}' has the same since and payload hash for all ${r.plan.alreadyPresent.length} IOV(s)` }
      } catch (err) {
        return { ...valid, outcome: Outcome.FAILED, target: sqliteTarget, reason: `local CondDB ${conddb.path}: ${(err as Error).message}` }
      }
    }
    if (deps.dropbox === undefined) throw new AutocalError('AUTOCAL_CONFIG_INVALID', 'target dropbox without a dropbox client', { retryable: false })
    // the service may write even if we crash before we learn it: mark the attempt first
    history.record({ ...recordOf(req, { ...valid, outcome: Outcome.FAILED, target: dropboxTarget, reason: 'in progress' }, ''), state: 'pending' })
    const r = await deps.dropbox.upload({
      database: req.destinationDatabase !== '' ? req.destinationDatabase : config.AUTOCAL_DROPBOX_DATABASE,
      tag: v.tag,
      inputTag: v.inputTag,
      iovs: v.iovs,
      payloads: v.payloads,
      since: v.sync.requestedSince,
      userText: req.userText,
      fcsrPolicy: policy
    })
    if (r.kind === 'uploaded') {
      const head = r.iovs[0] ?? first
      return {
        ...valid,
        since: head.since,
        payloadHash: head.payloadHash,
        requestedSince: r.requestedSince ?? v.requestedSince,
        iovs: r.iovs,
        outcome: Outcome.UPLOADED,
        target: dropboxTarget,
        reason: [...v.decisions, ...r.notes, `${r.storedPayloads.length} payload(s) sent`].join('; ')
      }
    }
    const outcome = r.kind === 'rejected' ? Outcome.REJECTED : Outcome.FAILED
    return { ...valid, outcome, target: dropboxTarget, reason: `${r.kind === 'rejected' ? 'service' : 'upload'}: ${r.reason}` }
  }

  /**
   * The outcome of a request that already wrote these IOV rows to the local
   * CondDB (an earlier delivery that crashed before recording its outcome):
   * UPLOADED with the since and payload of the rows it wrote, as the first
   * delivery would have reported; nothing is written again.
   */
  function writtenBefore (req: ConditionRequest, tag: Pick<TagRow, 'objectType' | 'synchronization' | 'timeType'>, rows: readonly IovRow[]): Result {
    const first = rows[0]!
    history.step(req.requestId, 'sqlite', `already written by this request at ${first.insertionTime}: ${rows.length} IOV(s); nothing written again`)
    return {
      outcome: Outcome.UPLOADED,
      since: first.since,
      requestedSince: req.since,
      payloadHash: first.payloadHash,
      objectType: tag.objectType,
      synchronization: tag.synchronization,
      timeType: tag.timeType,
      decisions: [],
      iovs: rows.map(r => ({ since: r.since, payloadHash: r.payloadHash })),
      target: sqliteTarget,
      reason: `already written by this request at ${first.insertionTime} (${rows.length} IOV(s) from since ${first.since}); a redelivery writes nothing again`
    }
  }

  function targetName (): string {
    return config.AUTOCAL_UPLOAD_TARGET === 'sqlite' ? sqliteTarget : dropboxTarget
  }

  function eventOf (req: ConditionRequest, r: Result): ConditionEvent {
    return create(ConditionEventSchema, {
      requestId: req.requestId,
      outcome: r.outcome,
      tag: req.destinationTag,
      record: req.record,
      since: r.since,
      ...(r.requestedSince === undefined ? {} : { requestedSince: r.requestedSince }),
      payloadHash: r.payloadHash,
      objectType: r.objectType,
      target: r.target,
      reason: r.reason,
      logUrl: req.logUrl,
      ...(req.provenance === undefined ? {} : { provenance: req.provenance }),
      synchronization: r.synchronization,
      timeType: r.timeType,
      at: timestampFromDate(new Date())
    })
  }

  function recordOf (req: ConditionRequest, r: Result, eventId: string, event?: ConditionEvent) {
    return {
      requestId: req.requestId,
      state: 'final' as const,
      outcome: outcomeName(r.outcome),
      tag: req.destinationTag,
      since: r.since.toString(),
      requestedSince: r.requestedSince === undefined ? null : r.requestedSince.toString(),
      payloadHash: r.payloadHash,
      target: r.target,
      reason: r.reason,
      decisions: r.decisions,
      iovs: r.iovs.map(i => ({ since: i.since.toString(), payloadHash: i.payloadHash })),
      eventId,
      at: new Date().toISOString(),
      event: event === undefined ? new Uint8Array() : toBinary(ConditionEventSchema, event)
    }
  }

  async function republish (requestId: string, tag: string): Promise<boolean> {
    const recorded = history.get(requestId)
    if (recorded?.state !== 'final') return false
    const event = fromBinary(ConditionEventSchema, recorded.event)
    await producer.publish(topics.conditions, event, { eventId: recorded.eventId })
    log.info({ requestId, tag, outcome: recorded.outcome }, 'request already handled; outcome published again')
    return true
  }

  /** The tag's lease; waits up to AUTOCAL_TAG_LEASE_WAIT_MS (policies.leaseWait) for another replica to finish, then throws to retry with backoff. */
  async function takeLease (tag: string): Promise<Lease> {
    const held = new AutocalError('AUTOCAL_HANDLER_FAILED', `tag '${tag}' is being uploaded by another replica (lease held); will retry`, { retryable: true })
    // only a held lease is waited for here; a Redis failure goes to the bus at once
    return await retry(async () => {
      const lease = await acquireLease(redis, `condition-uploader:tag:${tag}`, config.AUTOCAL_TAG_LEASE_MS)
      if (lease === null) throw held
      return lease
    }, { ...policies.leaseWait, maxTotalMs: config.AUTOCAL_TAG_LEASE_WAIT_MS }, { signal: deps.signal, shouldRetry: err => err === held })
  }

  async function onConditionRequest (req: ConditionRequest, meta: EventMeta): Promise<void> {
    const tag = req.destinationTag
    if (req.requestId === '' || tag === '' || (req.payloadFile === '' && !req.optionalPayload)) {
      // an optional condition may come without a payload file: it is answered SKIPPED "no new payload" (payload-validation.ts)
      throw new AutocalError('AUTOCAL_VALIDATION_FAILED', `condition request ${meta.eventId} lacks request_id, destination_tag or payload_file (a payload_file is required unless optional_payload is set)`, { retryable: false })
    }
    if (await republish(req.requestId, tag)) return
    const lease = await takeLease(tag)
    const keepAlive = setInterval(() => { void lease.extend(config.AUTOCAL_TAG_LEASE_MS).catch(() => {}) }, Math.max(1000, Math.floor(config.AUTOCAL_TAG_LEASE_MS / 3)))
    try {
      if (await republish(req.requestId, tag)) return // finished by another replica while we waited
      let result: Result
      if (history.get(req.requestId)?.state === 'pending') {
        result = {
          outcome: Outcome.FAILED,
          since: req.since ?? 0n,
          payloadHash: '',
          objectType: '',
          synchronization: req.synchronization,
          timeType: '',
          decisions: [],
          iovs: [],
          target: targetName(),
          reason: `an earlier attempt of request ${req.requestId} was interrupted after opening an upload to ${targetName()}; it may have completed, so it is not sent again: check tag '${tag}' and reprocess if needed`
        }
      } else {
        history.step(req.requestId, 'received', `event ${meta.eventId}, payload file ${req.payloadFile === '' ? '(none: optional payload)' : req.payloadFile}`)
        result = await process(req)
      }
      const event = eventOf(req, result)
      const eventId = outcomeEventId(req.requestId, result.outcome)
      history.record(recordOf(req, result, eventId, event))
      await producer.publish(topics.conditions, event, { eventId })
      log.info({ requestId: req.requestId, tag, since: result.since.toString(), outcome: outcomeName(result.outcome), target: result.target, reason: result.reason }, 'condition request handled')
    } finally {
      clearInterval(keepAlive)
      await lease.release().catch(() => false)
    }
  }

  async function onRun (ev: RunEvent): Promise<void> {
    if (ev.change.case !== 'fcsr') return
    const value = ev.change.value.fcsr !== 0 ? ev.change.value.fcsr : ev.run
    if (value <= 0) return
    if (await fcsr.offer(value)) log.info({ fcsr: value }, 'first condition-safe run advanced')
  }

  return { onConditionRequest, onRun }
}

export type Handlers = ReturnType<typeof createHandlers>
