// STAND-IN of the CMS conditions upload service (cms-conddb.cern.ch
// cmsDbCondUpload), which cannot be reached from here. A test fixture, not
// an implementation of the service. What it follows:
// - the session protocol of CMS's public client, CondDBFW's uploads.py in
//   cms-sw/cmssw (CondCore/Utilities/python/CondDBFW/uploads.py; also
//   /work/shared/realdata/README.md): get_upload_session (base64 body, tag
//   lock), get_fcsr, check_hashes, store_payload, upload_metadata (writes,
//   closes, unlocks), close_upload_session; JSON replies, errors carry
//   `error` and a base64 `log_data`.
// - the since encoding of that client: it sends the IOV sinces and the
//   metadata since of a Run tag as `run << 32` and compares them with the
//   FCSR get_fcsr returns, so the service speaks Lumi form for Run tags: this
//   stand-in answers get_fcsr with `fcsr_run << 32` and stores a Run tag's
//   IOV at `since >> 32`.
// - the service's rules as CMS's acceptance test of it shows them
//   (CondCore/Utilities/scripts/conditionUploadTest.py): an mc tag takes
//   only the upload that creates it; runmc and offline tags only appends
//   (since > last since); a pcl since below the FCSR FAILs; hlt, express and
//   prompt sinces below it are moved up to it (SYNCHRONIZE); the other
//   synchronizations have no FCSR (offline CREATE at since 1 passes), so
//   get_fcsr answers 0 for them. A tag changed to another synchronization
//   after creation (the test's setSynchronizationType) is `setSynchronization`.
// It records every request, can hold a tag's lock for another session and
// can be told to fail chosen steps (e.g. 503 twice).
import { createHash, randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { jsonWithBigInts, parseWithBigInts } from '../../src/adapters/dropbox-client.ts'

export interface StandInStep {
  step: string
  session: string | undefined
  status: number
}

export interface StandInIov {
  tag: string
  /** The since as the tag stores it (a Run tag: the run). */
  since: bigint
  /** The since as the client sent it (a Run tag: `run << 32`). */
  sentSince: bigint
  payloadHash: string
  session: string
}

export interface StandInTag {
  timeType: string
  synchronization: string
  /** Largest since stored, in the tag's encoding. */
  lastSince: bigint | undefined
}

export interface StandInFault {
  step: string
  status: number
  /** How many requests to this step fail (default 1). */
  times?: number
  error?: string
}

export interface UploadServiceStandIn extends AsyncDisposable {
  url: string
  steps: StandInStep[]
  iovs: StandInIov[]
  payloads: Map<string, { objectType: string, data: Buffer }>
  /** Tag → session holding its lock. */
  locks: Map<string, string>
  /** Tags the service has, as written by upload_metadata. */
  tags: Map<string, StandInTag>
  /** The metadata `since` of every upload_metadata request, as sent. */
  metadataSinces: Array<bigint | null>
  /** Makes the next request(s) to a step fail with a status. */
  fail: (fault: StandInFault) => void
  /** Another session takes the tag's lock. */
  lockByOtherSession: (tag: string) => string
  /** Sets the first condition-safe run (a run number; reported as `run << 32`). */
  setFcsr: (run: bigint) => void
  /** Changes a tag's synchronization, as conditionUploadTest.py's setSynchronizationType does in the database. */
  setSynchronization: (tag: string, synchronization: string) => void
  close: () => Promise<void>
}

const fcsrSynchronizations = new Set(['hlt', 'express', 'prompt', 'pcl'])

/** @param options.fcsr the first condition-safe run (a run number). */
export async function startUploadServiceStandIn (options: { username?: string, password?: string, fcsr?: bigint } = {}): Promise<UploadServiceStandIn> {
  const username = options.username ?? 'cmsuser'
  const password = options.password ?? 'secret'
  let fcsrRun = options.fcsr ?? 1n
  const tags = new Map<string, StandInTag>()
  const metadataSinces: Array<bigint | null> = []
  const steps: StandInStep[] = []
  const iovs: StandInIov[] = []
  const payloads = new Map<string, { objectType: string, data: Buffer }>()
  const locks = new Map<string, string>()
  const sessions = new Map<string, { tag: string, open: boolean }>()
  const faults: Array<Required<StandInFault>> = []

  const log = (lines: string[]): string => Buffer.from(lines.join('\n')).toString('base64')

  async function body (req: IncomingMessage): Promise<Buffer> {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    return Buffer.concat(chunks)
  }

  function reply (res: ServerResponse, step: string, session: string | undefined, status: number, payload: Record<string, unknown>): void {
    steps.push({ step, session, status })
    res.writeHead(status, { 'content-type': 'application/json' })
    res.end(jsonWithBigInts(payload))
  }

  function error (res: ServerResponse, step: string, session: string | undefined, status: number, message: string): void {
    reply(res, step, session, status, { error: message, log_data: log([`[stand-in] ${step}`, `ERROR ${message}`]) })
  }

  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://stand-in')
      const step = url.pathname.replace(/^\/+|\/+$/g, '').split('/').pop() ?? ''
      const q = url.searchParams
      const sid = q.get('upload_session_id') ?? undefined
      const raw = await body(req)
      const fault = faults.find(f => f.step === step)
      if (fault !== undefined) {
        fault.times -= 1
        if (fault.times <= 0) faults.splice(faults.indexOf(fault), 1)
        error(res, step, sid, fault.status, fault.error)
        return
      }
      if (q.get('database') === null) { error(res, step, sid, 400, 'missing database parameter'); return }
      if (step === 'get_upload_session') {
        const auth = JSON.parse(Buffer.from(raw.toString('utf8'), 'base64').toString('utf8')) as Record<string, string>
        if (auth.username_or_token !== username || auth.password !== password) { error(res, step, undefined, 401, 'authentication failed'); return }
        const tag = auth.destinationTag ?? ''
        const holder = locks.get(tag)
        if (holder !== undefined) { error(res, step, undefined, 409, `tag ${tag} is locked by upload session ${holder}`); return }
        const id = randomUUID()
        sessions.set(id, { tag, open: true })
        locks.set(tag, id)
        reply(res, step, id, 200, { id, log_file: `upload_log_${id}` })
        return
      }
      const session = sid === undefined ? undefined : sessions.get(sid)
      if (session === undefined || !session.open || locks.get(session.tag) !== sid) {
        error(res, step, sid, 400, `upload session ${sid ?? '(none)'} is not open`)
        return
      }
      switch (step) {
        case 'get_fcsr': {
          if (q.get('destinationTag') !== session.tag) { error(res, step, sid, 400, 'destinationTag differs from the session\'s'); return }
          const asked = (q.get('sourceTagSync') ?? '').toLowerCase()
          const existing = tags.get(session.tag)
          const sync = existing?.synchronization ?? asked
          // Lumi form, as uploads.py compares it: `if fcsr > self.data_to_send["since"]`
          const fcsr = fcsrSynchronizations.has(sync) ? fcsrRun << 32n : 0n
          reply(res, step, sid, 200, { fcsr, fcsr_changed: sync !== asked, new_sync: sync })
          return
        }
        case 'check_hashes': {
          const hashes = JSON.parse(raw.toString('utf8')) as string[]
          reply(res, step, sid, 200, { hashes_not_found: hashes.filter(h => !payloads.has(h)) })
          return
        }
        case 'store_payload': {
          const hash = q.get('hash') ?? ''
          const objectType = q.get('object_type') ?? ''
          const data = Buffer.from(raw.toString('utf8'), 'base64')
          const computed = createHash('sha1').update(objectType).update(data).digest('hex')
          if (computed !== hash) { error(res, step, sid, 400, `payload hash ${hash} does not match its content (${computed})`); return }
          payloads.set(hash, { objectType, data })
          reply(res, step, sid, 200, { hash })
          return
        }
        case 'upload_metadata': {
          const metadata = parseWithBigInts(raw.toString('utf8')) as {
            destinationTags: Record<string, unknown>
            inputTagData: { time_type: string, synchronization: string }
            iovs: Array<{ since: bigint | number, payload_hash: string }>
            since: bigint | number | null
          }
          metadataSinces.push(metadata.since === null ? null : BigInt(metadata.since))
          const tag = Object.keys(metadata.destinationTags)[0] ?? ''
          if (tag !== session.tag) { error(res, step, sid, 400, 'destination tag differs from the session\'s'); return }
          const unknown = metadata.iovs.filter(i => !payloads.has(i.payload_hash))
          if (unknown.length > 0) { error(res, step, sid, 400, `payloads not stored: ${unknown.map(i => i.payload_hash).join(', ')}`); return }
          const existing = tags.get(tag)
          const timeType = existing?.timeType ?? metadata.inputTagData.time_type
          const sync = existing?.synchronization ?? metadata.inputTagData.synchronization.toLowerCase()
          const sent = metadata.iovs.map(i => ({ sentSince: BigInt(i.since), payloadHash: i.payload_hash })).sort((a, b) => (a.sentSince < b.sentSince ? -1 : 1))
          const first = sent[0]
          const stored = (since: bigint): bigint => (timeType === 'Run' ? since >> 32n : since)
          const refuse = (why: string): void => { error(res, step, sid, 400, why); session.open = false; locks.delete(tag) }
          if (first !== undefined && timeType !== 'Time') {
            const fcsr = fcsrSynchronizations.has(sync) ? fcsrRun << 32n : 0n
            if (first.sentSince < fcsr) {
              if (sync === 'pcl') { refuse(`since ${stored(first.sentSince)} is below the first condition-safe run ${fcsrRun} of pcl tag ${tag}`); return }
              // SYNCHRONIZE: the last IOV below the FCSR starts at it, the earlier ones are hidden
              const below = sent.filter(i => i.sentSince < fcsr)
              sent.splice(0, below.length, { ...below.at(-1)!, sentSince: fcsr })
              if (sent[1] !== undefined && sent[1].sentSince === fcsr) sent.shift()
            }
          }
          if (existing !== undefined && sync === 'mc') { refuse(`tag ${tag} has synchronization mc: it is written only when created`); return }
          if (existing?.lastSince !== undefined && first !== undefined && (sync === 'offline' || sync === 'runmc') && stored(first.sentSince) <= existing.lastSince) {
            refuse(`since ${stored(first.sentSince)} is not after the last since ${existing.lastSince} of ${sync} tag ${tag}`)
            return
          }
          const state = existing ?? { timeType, synchronization: sync, lastSince: undefined }
          tags.set(tag, state)
          for (const iov of sent) {
            const since = stored(iov.sentSince)
            iovs.push({ tag, since, sentSince: iov.sentSince, payloadHash: iov.payloadHash, session: sid! })
            if (state.lastSince === undefined || since > state.lastSince) state.lastSince = since
          }
          session.open = false
          locks.delete(tag)
          reply(res, step, sid, 200, { message: `${metadata.iovs.length} iov(s) inserted into ${tag}`, log_data: log(['upload complete']) })
          return
        }
        case 'close_upload_session':
          session.open = false
          locks.delete(session.tag)
          reply(res, step, sid, 200, { closed: true })
          return
        default:
          error(res, step, sid, 404, `unknown endpoint ${step}`)
      }
    })().catch((err: unknown) => {
      res.writeHead(500, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ error: String(err) }))
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  const close = async (): Promise<void> => {
    server.closeAllConnections()
    await new Promise<void>(resolve => server.close(() => resolve()))
  }
  return {
    url: `http://127.0.0.1:${port}/cmsDbCondUpload/`,
    steps,
    iovs,
    payloads,
    locks,
    tags,
    metadataSinces,
    fail: f => { faults.push({ times: 1, error: `stand-in fault: HTTP ${f.status}`, ...f }) },
    lockByOtherSession: tag => {
      const id = `other-${randomUUID().slice(0, 8)}`
      sessions.set(id, { tag, open: true })
      locks.set(tag, id)
      return id
    },
    setFcsr: run => { fcsrRun = run },
    setSynchronization: (tag, synchronization) => {
      const t = tags.get(tag)
      if (t === undefined) throw new Error(`stand-in has no tag ${tag}`)
      t.synchronization = synchronization
    },
    close,
    [Symbol.asyncDispose]: close
  }
}
