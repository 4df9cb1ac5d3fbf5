// STAND-IN of the CMS conditions upload service (cms-conddb.cern.ch
// cmsDbCondUpload), which cannot be reached from here. It follows the
// current session-based protocol that CMS's uploadConditions.py speaks
// (see /work/shared/realdata/README.md): get_upload_session (tag lock),
// get_fcsr, check_hashes, store_payload, upload_metadata (writes, closes,
// unlocks), close_upload_session. JSON replies; errors carry `error` and a
// base64 `log_data`. It records every request, can hold a tag's lock for
// another session and can be told to fail chosen steps (e.g. 503 twice).
// It is a test fixture, not an implementation of the service.
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
  since: bigint
  payloadHash: string
  session: string
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
  /** Makes the next request(s) to a step fail with a status. */
  fail: (fault: StandInFault) => void
  /** Another session takes the tag's lock. */
  lockByOtherSession: (tag: string) => string
  /** Sets the FCSR the service reports (a since of the tag's time type). */
  setFcsr: (fcsr: bigint) => void
  close: () => Promise<void>
}

export async function startUploadServiceStandIn (options: { username?: string, password?: string, fcsr?: bigint } = {}): Promise<UploadServiceStandIn> {
  const username = options.username ?? 'cmsuser'
  const password = options.password ?? 'secret'
  let fcsr = options.fcsr ?? 1n
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
        case 'get_fcsr':
          if (q.get('destinationTag') !== session.tag) { error(res, step, sid, 400, 'destinationTag differs from the session\'s'); return }
          reply(res, step, sid, 200, { fcsr, fcsr_changed: false, new_sync: (q.get('sourceTagSync') ?? '').toLowerCase() })
          return
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
          const metadata = parseWithBigInts(raw.toString('utf8')) as { destinationTags: Record<string, unknown>, iovs: Array<{ since: bigint | number, payload_hash: string }> }
          const tag = Object.keys(metadata.destinationTags)[0] ?? ''
          if (tag !== session.tag) { error(res, step, sid, 400, 'destination tag differs from the session\'s'); return }
          const unknown = metadata.iovs.filter(i => !payloads.has(i.payload_hash))
          if (unknown.length > 0) { error(res, step, sid, 400, `payloads not stored: ${unknown.map(i => i.payload_hash).join(', ')}`); return }
          for (const iov of metadata.iovs) iovs.push({ tag, since: BigInt(iov.since), payloadHash: iov.payload_hash, session: sid! })
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
    fail: f => { faults.push({ times: 1, error: `stand-in fault: HTTP ${f.status}`, ...f }) },
    lockByOtherSession: tag => {
      const id = `other-${randomUUID().slice(0, 8)}`
      sessions.set(id, { tag, open: true })
      locks.set(tag, id)
      return id
    },
    setFcsr: f => { fcsr = f },
    close,
    [Symbol.asyncDispose]: close
  }
}
