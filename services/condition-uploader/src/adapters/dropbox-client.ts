// Client of the CMS conditions upload service ("dropbox"), current
// session-based protocol, as CMS's uploadConditions.py speaks it:
//   1. get_upload_session   (takes the destination tag's lock)
//   2. get_fcsr             (Run/Lumi tags; the synchronization rules of
//                            domain/sync-rules.ts applied with the service's FCSR)
//   3. check_hashes         (which payloads the server lacks)
//   4. store_payload        (once per missing payload; base64 DATA body)
//   5. upload_metadata      (tag row + IOVs; the server writes, closes the session, releases the lock)
//   6. close_upload_session (after any client-side error once a session is open)
// Every request is retried up to `retries` times on 502/503/504, network
// errors, timeouts and a tag lock held by another session (runtime
// policies.dropboxStep: the configured delay, doubling), and stops at once
// when the uploader shuts down (`signal`).
// Since encoding, as CMS's public client speaks it (cms-sw/cmssw
// CondCore/Utilities/python/CondDBFW/uploads.py): the IOV sinces and the
// metadata `since` of a Run tag are sent in the Lumi form `run << 32`
// ("convert sinces to lumi-based sinces with lumi-section = 0"), and the
// FCSR the service returns is compared with them in that same form
// (`if fcsr > self.data_to_send["since"]`). Lumi and Time sinces go as they
// are; Time tags get no FCSR check.
import { Buffer } from 'node:buffer'
import { policies, retry } from '@autocal/runtime'
import { conddbTimestamp, type PayloadRow, type TagRow } from '../domain/conddb-format.ts'
import type { DestinationTag } from '../domain/payload-validation.ts'
import type { FcsrPolicyName, SinceIov } from '../domain/since-rules.ts'
import { checkSynchronization, hasFcsr } from '../domain/sync-rules.ts'

export interface DropboxOptions {
  /** Base URL, e.g. https://cms-conddb-dev.cern.ch/cmsDbCondUpload/ */
  url: string
  username: string
  password: string
  retries: number
  /** Wait before the first retry, doubling for each next one (policies.dropboxStep). */
  retryDelayMs: number
  timeoutMs: number
  /** Aborts the current request and any retry wait (the uploader's shutdown). */
  signal?: AbortSignal | undefined
  /** Told of every request and its answer (the upload history records them). */
  onStep?: (step: string, detail: string) => void
}

export interface DropboxUpload {
  database: string
  tag: DestinationTag
  inputTag: TagRow
  iovs: readonly SinceIov[]
  payloads: readonly PayloadRow[]
  /** The requested since in the tag's encoding (a Run tag: the run); undefined = the first IOV's. */
  since: bigint | undefined
  userText: string
  fcsrPolicy: FcsrPolicyName
}

export type DropboxResult =
  | { kind: 'uploaded', sessionId: string, iovs: SinceIov[], requestedSince?: bigint, notes: string[], storedPayloads: string[] }
  | { kind: 'rejected', reason: string, sessionId?: string }
  | { kind: 'failed', reason: string, sessionId?: string }

/** Why a request to the service did not succeed. */
export class DropboxError extends Error {
  readonly step: string
  /** transient: retries exhausted; refused: the service answered with an error; locked: another session holds the tag. */
  readonly kind: 'transient' | 'refused' | 'locked'
  readonly status: number | undefined

  constructor (step: string, kind: 'transient' | 'refused' | 'locked', message: string, status?: number) {
    super(message)
    this.name = 'DropboxError'
    this.step = step
    this.kind = kind
    this.status = status
  }
}

const transientStatus = new Set([502, 503, 504])

/** JSON with 64-bit integers written as numbers (sinces exceed 2^53). */
export function jsonWithBigInts (value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => typeof v === 'bigint' ? `__u64__${v}` : v).replace(/"__u64__(\d+)"/g, '$1')
}

/** JSON.parse keeping integers above 2^53 exact, as BigInt. */
export function parseWithBigInts (text: string): unknown {
  return JSON.parse(text, ((_key: string, value: unknown, context?: { source?: string }) =>
    typeof value === 'number' && !Number.isSafeInteger(value) && context?.source !== undefined && /^-?\d+$/.test(context.source)
      ? BigInt(context.source)
      : value) as (this: unknown, key: string, value: unknown) => unknown)
}

/** A since of the tag as the service takes it: a Run since in the Lumi form `run << 32` (uploads.py); others unchanged. */
export function toServiceSince (timeType: string, since: bigint): bigint {
  return timeType === 'Run' ? since << 32n : since
}

/** A since the service speaks back in the tag's own encoding (a Run tag: `since >> 32`). */
export function fromServiceSince (timeType: string, since: bigint): bigint {
  return timeType === 'Run' ? since >> 32n : since
}

/** How a since in the service's encoding reads: a Run tag's Lumi form as its run (uploads.py friendly_since), a Lumi one as run:lumisection. */
function showServiceSince (timeType: string, since: bigint): string {
  if (timeType === 'Run') return (since & 0xffffffffn) === 0n ? String(since >> 32n) : `${since >> 32n}:${since & 0xffffffffn}`
  if (timeType === 'Lumi') return `${since >> 32n}:${since & 0xffffffffn}`
  return since.toString()
}

export function createDropboxClient (options: DropboxOptions) {
  const base = options.url.endsWith('/') ? options.url : `${options.url}/`
  const note = options.onStep ?? (() => {})
  /** One step, retried under policies.dropboxStep narrowed by the configured retries and first delay; cancelled by `options.signal`. */
  async function call (step: string, params: Record<string, string>, body?: string): Promise<Record<string, unknown>> {
    const url = stepUrl(step, params)
    const policy = { ...policies.dropboxStep, retries: options.retries, minDelayMs: options.retryDelayMs, maxDelayMs: Math.max(options.retryDelayMs, policies.dropboxStep.maxDelayMs) }
    let last: DropboxError | undefined
    try {
      return await retry(async attempt => {
        try {
          return await request(step, url, body, attempt)
        } catch (err) {
          if (err instanceof DropboxError) last = err
          throw err
        }
      }, policy, { signal: options.signal, shouldRetry: err => !(err instanceof DropboxError && err.kind === 'refused') })
    } catch (err) {
      if (options.signal?.aborted === true || last === undefined || last.kind === 'refused') throw err
      throw new DropboxError(step, last.kind, `${step} failed after ${options.retries + 1} attempts: ${last.message}`)
    }
  }

  function stepUrl (step: string, params: Record<string, string>): URL {
    const url = new URL(`${step}/`, base)
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v)
    return url
  }

  /** One request of a step: the reply, or a DropboxError (transient / locked are retried, refused is not). */
  async function request (step: string, url: URL, body: string | undefined, attempt: number, signal = options.signal): Promise<Record<string, unknown>> {
    let response: Response
    try {
      response = await fetch(url, {
        method: body === undefined ? 'GET' : 'POST',
        ...(body === undefined ? {} : { body, headers: { 'content-type': 'application/octet-stream' } }),
        signal: signal === undefined ? AbortSignal.timeout(options.timeoutMs) : AbortSignal.any([signal, AbortSignal.timeout(options.timeoutMs)])
      })
    } catch (err) {
      const last = `network error: ${(err as Error).message}`
      note(step, `attempt ${attempt}: ${last}`)
      throw new DropboxError(step, 'transient', last)
    }
    const text = await response.text()
    let reply: Record<string, unknown> = {}
    try {
      const parsed = text === '' ? {} : parseWithBigInts(text)
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) reply = parsed as Record<string, unknown>
    } catch {
      reply = { error: `reply is not JSON: ${text.slice(0, 200)}` }
    }
    const error = typeof reply.error === 'string' ? reply.error : undefined
    if (transientStatus.has(response.status)) {
      const last = `HTTP ${response.status}${error === undefined ? '' : `: ${error}`}`
      note(step, `attempt ${attempt}: ${last}`)
      throw new DropboxError(step, 'transient', last, response.status)
    }
    if (response.status === 409 || (error !== undefined && /lock/i.test(error) && step === 'get_upload_session')) {
      const last = `tag lock held by another session: ${error ?? `HTTP ${response.status}`}`
      note(step, `attempt ${attempt}: ${last}`)
      throw new DropboxError(step, 'locked', last, response.status)
    }
    if (!response.ok || error !== undefined) {
      const log = serverLog(reply)
      note(step, `HTTP ${response.status}: ${error ?? text.slice(0, 200)}`)
      throw new DropboxError(step, 'refused', `${step} answered HTTP ${response.status}: ${error ?? text.slice(0, 200)}${log}`, response.status)
    }
    note(step, `HTTP ${response.status}`)
    return reply
  }

  async function upload (u: DropboxUpload): Promise<DropboxResult> {
    const database = u.database
    const body = Buffer.from(JSON.stringify({ destinationTag: u.tag.name, username_or_token: options.username, password: options.password })).toString('base64')
    let sessionId: string | undefined
    let closed = false
    try {
      const session = await call('get_upload_session', { database }, body)
      if (typeof session.id !== 'string' && typeof session.id !== 'number') throw new DropboxError('get_upload_session', 'refused', 'get_upload_session answered without a session id')
      sessionId = String(session.id)
      const sid = sessionId
      const notes: string[] = [`upload session ${sid}`]

      const timeType = u.tag.timeType
      let iovs: SinceIov[] = u.iovs.map(i => ({ since: toServiceSince(timeType, i.since), payloadHash: i.payloadHash }))
      let since = u.since === undefined ? iovs[0]?.since : toServiceSince(timeType, u.since)
      let requestedSince: bigint | undefined
      if (hasFcsr(timeType)) {
        const reply = await call('get_fcsr', {
          database, upload_session_id: sid, destinationTag: u.tag.name, sourceTagSync: u.tag.synchronization.toUpperCase()
        })
        const fcsr = typeof reply.fcsr === 'bigint' ? reply.fcsr : typeof reply.fcsr === 'number' ? BigInt(reply.fcsr) : undefined
        if (fcsr === undefined) throw new DropboxError('get_fcsr', 'refused', 'get_fcsr answered without an fcsr')
        const sync = reply.fcsr_changed === true && typeof reply.new_sync === 'string' ? reply.new_sync.toLowerCase() : u.tag.synchronization
        if (sync !== u.tag.synchronization) notes.push(`synchronization changed by the service to '${sync}'`)
        const decision = checkSynchronization({
          tag: u.tag.name,
          synchronization: sync,
          timeType,
          iovs,
          requestedSince: undefined, // checked against the payload file before the session
          fileFirstSince: iovs[0]?.since ?? 0n,
          destination: undefined, // the service checks write-once and append-only against its own tag
          fcsr,
          fcsrSource: 'service',
          policy: u.fcsrPolicy,
          whenFcsrUnknown: 'accept',
          show: s => showServiceSince(timeType, s)
        })
        if (decision.kind === 'rejected') {
          await close(sid)
          closed = true
          return { kind: 'rejected', reason: `${decision.rule}: ${decision.reason}`, sessionId: sid }
        }
        notes.push(...decision.notes)
        iovs = decision.iovs
        if (decision.movedFrom !== undefined) {
          requestedSince = fromServiceSince(timeType, decision.movedFrom)
          since = iovs[0]?.since
        }
      }

      const needed = [...new Set(iovs.map(i => i.payloadHash))]
      const check = await call('check_hashes', { database, upload_session_id: sid }, JSON.stringify(needed))
      const missing = Array.isArray(check.hashes_not_found) ? check.hashes_not_found.map(String) : needed
      const byHash = new Map(u.payloads.map(p => [p.hash, p]))
      const stored: string[] = []
      for (const hash of missing) {
        const p = byHash.get(hash)
        if (p === undefined) continue // the server asked for a hash we do not upload
        await call('store_payload', {
          database,
          upload_session_id: sid,
          hash: p.hash,
          object_type: p.objectType,
          version: p.version,
          insertion_time: p.insertionTime,
          streamer_info: Buffer.from(p.streamerInfo).toString('utf8')
        }, Buffer.from(p.data).toString('base64'))
        stored.push(hash)
      }

      const now = conddbTimestamp(BigInt(Date.now()) * 1000n)
      const t = u.inputTag
      const metadata = {
        destinationDatabase: database,
        destinationTags: { [u.tag.name]: {} },
        inputTag: t.name,
        inputTagData: {
          name: t.name,
          time_type: t.timeType,
          object_type: t.objectType,
          synchronization: u.tag.synchronization,
          end_of_validity: t.endOfValidity,
          description: t.description,
          last_validated_time: t.lastValidatedTime,
          insertion_time: t.insertionTime,
          modification_time: t.modificationTime
        },
        iovs: iovs.map(i => ({ tag_name: t.name, since: i.since, payload_hash: i.payloadHash, insertion_time: now })),
        since: since ?? null,
        userText: u.userText,
        fcsr_filter: u.tag.synchronization
      }
      await call('upload_metadata', { database, upload_session_id: sid }, jsonWithBigInts(metadata))
      closed = true // the service closes the session and releases the lock itself
      const written = iovs.map(i => ({ since: fromServiceSince(timeType, i.since), payloadHash: i.payloadHash }))
      return { kind: 'uploaded', sessionId: sid, iovs: written, ...(requestedSince === undefined ? {} : { requestedSince }), notes, storedPayloads: stored }
    } catch (err) {
      if (options.signal?.aborted === true) {
        // stopping: one try to release the tag lock, then the shutdown goes on (the request stays uncommitted)
        if (sessionId !== undefined && !closed) await request('close_upload_session', stepUrl('close_upload_session', { database, upload_session_id: sessionId }), undefined, 1, AbortSignal.timeout(options.timeoutMs)).catch(() => {})
        throw err
      }
      if (sessionId !== undefined && !closed) await close(sessionId)
      const reason = (err as Error).message
      const refusedAsInvalid = err instanceof DropboxError && err.kind === 'refused' && (err.status === 400 || err.status === 422)
      return { kind: refusedAsInvalid ? 'rejected' : 'failed', reason, ...(sessionId === undefined ? {} : { sessionId }) }
    }

    async function close (sid: string): Promise<void> {
      try {
        await call('close_upload_session', { database, upload_session_id: sid })
      } catch (err) {
        note('close_upload_session', `could not close session ${sid}: ${(err as Error).message}`)
      }
    }
  }

  return { upload }
}

export type DropboxClient = ReturnType<typeof createDropboxClient>

function serverLog (reply: Record<string, unknown>): string {
  const data = reply.log_data
  if (typeof data !== 'string' || data === '') return ''
  const text = Buffer.from(data, 'base64').toString('utf8').trim()
  const tail = text.split('\n').slice(-3).join(' | ')
  return ` (server log: ${tail.slice(0, 300)})`
}
