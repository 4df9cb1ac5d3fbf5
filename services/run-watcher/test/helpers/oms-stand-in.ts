// A LOCAL STAND-IN of the CMS OMS REST API (runs and fills resources, JSON:API) and of
// an OIDC token endpoint, for tests: the real OMS cannot be reached here. It
// serves run records in OMS's response format — data[].attributes,
// meta.row units, meta.totalResourceCount — with filter[run_number][GE],
// filter[run_number][LE], filter[sequence][EQ], sort (run_number or
// -run_number), page[offset], page[limit], fields[runs] (only the asked
// attributes are served) and bearer authentication (tokens from its OIDC
// client-credentials endpoint; revokeTokens() makes them expire at once), and
// can be told to fail the next requests.
import { createServer } from 'node:http'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import type { RunRecord } from '../../src/domain/run-record.ts'

export type Fault = '500' | 'timeout' | 'malformed' | 'not-json'

export interface OmsStandIn extends AsyncDisposable {
  url: string
  tokenUrl: string
  runs: RunRecord[]
  faults: Fault[]
  /** Attributes served instead of the real ones, per run (to serve malformed records). */
  overrides: Map<number, Record<string, unknown>>
  requests: Array<{ path: string, query: URLSearchParams, authorized: boolean }>
  tokensIssued: number
  /** Every token issued so far stops being valid (as when it expires early). */
  revokeTokens: () => void
  /** Fills resource: fill numbers and, once ended, their end (epoch ms); the runs' fills not listed are unknown to it. */
  fills: Array<{ fill: number, endMs?: number }>
  /** Luminosity unit reported in meta, spelled as OMS writes it (values are converted to it): `{\mu}b^{-1}` is µb⁻¹. */
  lumiUnit: 'pb^{-1}' | '{\\mu}b^{-1}'
}

function attributes (r: RunRecord, factor: number): Record<string, unknown> {
  return {
    run_number: r.run,
    fill_number: r.fill,
    start_time: new Date(r.startMs).toISOString().replace('.000Z', 'Z'),
    end_time: r.endMs === undefined ? null : new Date(r.endMs).toISOString().replace('.000Z', 'Z'),
    duration: r.durationS,
    last_lumisection_number: r.lastLumisection,
    delivered_lumi: r.deliveredLumiPb * factor,
    recorded_lumi: r.recordedLumiPb * factor,
    b_field: r.bFieldT ?? null,
    stable_beam: r.stableBeam ?? null,
    fill_type_runtime: r.fillType,
    sequence: r.global ? 'GLOBAL-RUN' : 'LOCAL-RUN',
    l1_hlt_mode_stripped: `${r.runClass}/v1`,
    hlt_key: r.hltKey,
    era: r.era,
    components_out: r.componentsOut
  }
}

export async function startOmsStandIn (runs: RunRecord[], secret = 'client-secret'): Promise<OmsStandIn> {
  const validTokens = new Set<string>()
  const state: Omit<OmsStandIn, 'url' | 'tokenUrl' | 'revokeTokens' | typeof Symbol.asyncDispose> = { runs, fills: [], faults: [], overrides: new Map(), requests: [], tokensIssued: 0, lumiUnit: 'pb^{-1}' }
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x')
    if (url.pathname === '/token' && req.method === 'POST') {
      let body = ''
      req.on('data', (c: Buffer) => { body += c.toString() })
      req.on('end', () => {
        const form = new URLSearchParams(body)
        if (form.get('grant_type') !== 'client_credentials' || form.get('client_secret') !== secret) {
          res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"invalid_client"}')
          return
        }
        const token = `tok-${++state.tokensIssued}`
        validTokens.add(token)
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: token, token_type: 'Bearer', expires_in: 300 }))
      })
      return
    }
    const auth = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1]
    const authorized = auth !== undefined && validTokens.has(auth)
    state.requests.push({ path: url.pathname, query: url.searchParams, authorized })
    if (url.pathname !== '/api/v1/runs' && url.pathname !== '/api/v1/fills') { res.writeHead(404).end(); return }
    if (!authorized) { res.writeHead(401, { 'content-type': 'application/json' }).end('{"errors":[{"title":"unauthorized"}]}'); return }
    if (url.pathname === '/api/v1/fills') {
      // fills resource: filter[fill_number][GE|LE], sort fill_number, paging, fields[fills]; end_time null while the fill goes on
      const fge = Number(url.searchParams.get('filter[fill_number][GE]') ?? 0)
      const fle = Number(url.searchParams.get('filter[fill_number][LE]') ?? Infinity)
      const fields = url.searchParams.get('fields[fills]')?.split(',')
      const selected = state.fills.filter(f => f.fill >= fge && f.fill <= fle).sort((a, b) => a.fill - b.fill)
      const offset = Number(url.searchParams.get('page[offset]') ?? 0)
      const page = selected.slice(offset, offset + Number(url.searchParams.get('page[limit]') ?? 100))
      const attrs = (f: { fill: number, endMs?: number }): Record<string, unknown> => ({ fill_number: f.fill, end_time: f.endMs === undefined ? null : new Date(f.endMs).toISOString().replace('.000Z', 'Z') })
      const project = (a: Record<string, unknown>): Record<string, unknown> => fields === undefined ? a : Object.fromEntries(Object.entries(a).filter(([k]) => fields.includes(k)))
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({
        data: page.map(f => ({ id: String(f.fill), type: 'fills', attributes: project(attrs(f)), links: { self: `/api/v1/fills/${f.fill}` } })),
        meta: { totalResourceCount: selected.length },
        links: {}
      }))
      return
    }
    const fault = state.faults.shift()
    if (fault === 'timeout') return // never answers
    if (fault === '500') { res.writeHead(500).end('{"errors":[{"title":"internal"}]}'); return }
    if (fault === 'not-json') { res.writeHead(200, { 'content-type': 'text/html' }).end('<html>maintenance</html>'); return }
    if (fault === 'malformed') { res.writeHead(200, { 'content-type': 'application/json' }).end('{"data": {"oops": true}}'); return }
    const ge = Number(url.searchParams.get('filter[run_number][GE]') ?? 0)
    const le = Number(url.searchParams.get('filter[run_number][LE]') ?? Infinity)
    const seq = url.searchParams.get('filter[sequence][EQ]')
    const offset = Number(url.searchParams.get('page[offset]') ?? 0)
    const limit = Number(url.searchParams.get('page[limit]') ?? 100)
    const descending = url.searchParams.get('sort') === '-run_number'
    const fields = url.searchParams.get('fields[runs]')?.split(',')
    const factor = state.lumiUnit === '{\\mu}b^{-1}' ? 1e6 : 1
    const selected = state.runs.filter(r => r.run >= ge && r.run <= le && (seq === null || (seq === 'GLOBAL-RUN') === r.global))
      .sort((a, b) => descending ? b.run - a.run : a.run - b.run)
    const page = selected.slice(offset, offset + limit)
    const project = (a: Record<string, unknown>): Record<string, unknown> => fields === undefined ? a : Object.fromEntries(Object.entries(a).filter(([k]) => fields.includes(k)))
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({
      data: page.map(r => ({
        id: String(r.run),
        type: 'runs',
        attributes: project({ ...attributes(r, factor), ...state.overrides.get(r.run) }),
        links: { self: `/api/v1/runs/${r.run}` },
        meta: { row: { delivered_lumi: { units: state.lumiUnit }, recorded_lumi: { units: state.lumiUnit }, b_field: { units: 'T' } } }
      })),
      meta: { totalResourceCount: selected.length },
      links: {}
    }))
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  return Object.assign(state, {
    revokeTokens: () => { validTokens.clear() },
    url: `http://127.0.0.1:${port}/api/v1`,
    tokenUrl: `http://127.0.0.1:${port}/token`,
    [Symbol.asyncDispose]: async () => { server.closeAllConnections(); server.close() }
  })
}
