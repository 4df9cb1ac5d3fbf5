// STAND-IN for CMS's DBS read API (DBSReader), for tests and the local system only: DBS cannot run here.
// It is not DBS. It answers the four GET calls autocal's adapter makes (services/task-dispatcher/src/adapters/dbs.ts)
// with the paths, parameters and JSON fields of the real API, taken from the DBS server's API description
// (dmwm/dbs2go docs/apis.md) and the dbs3-client calls (listDatasets, listBlocks, listFiles, listFileLumis):
//   GET <base>/datasets?dataset=&detail=1                          [{ dataset, dataset_access_type, primary_ds_name, processed_ds_name, data_tier_name, … }]
//   GET <base>/blocks?dataset=&run_num=&detail=1                   [{ block_name, open_for_writing, dataset, file_count, block_size, … }]
//   GET <base>/files?dataset=&run_num=&detail=1&validFileOnly=1    [{ logical_file_name, is_file_valid, block_name, dataset, event_count, file_size, … }]
//   GET <base>/filelumis?block_name=&run_num=&validFileOnly=1      [{ logical_file_name, run_num, lumi_section_num: [..], event_count: [..] }]
// A parameter an API does not take is answered 400, as DBS does; a missing or wrong bearer token 401 when a token is set.
// The content is made from real 2022 runs: one Tier-0 block per (dataset, run), open for writing until closed,
// files of `lumisPerFile` lumisections with LFN-shaped names (/store/data/<era>/<primary>/<TIER>/<version>/000/355/872/00000/<uuid>.root,
// the uuid derived from dataset, run and file number), lumisections 1..N where N is the run's duration over 23.31 s
// (one LHC lumisection is 2^18 orbits).
import { createHash } from 'node:crypto'
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse, type Server } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'

/** Seconds of one LHC lumisection (2^18 orbits of 88.924 µs). */
export const lumisectionS = 23.31

export interface StandInRun { run: number, era: string, durationS: number }

export interface StandInDataset {
  dataset: string
  accessType?: string
  /** Runs with files in this dataset; a run not listed has none. */
  runs: StandInRun[]
  /** Lumisections per file (default 100). */
  lumisPerFile?: number
  /** Blocks start open for writing (Tier-0 still writing) unless false. */
  open?: boolean
}

export interface DbsStandIn extends AsyncDisposable {
  /** Base URL, e.g. http://127.0.0.1:PORT/dbs/prod/global/DBSReader */
  url: string
  /** Tier-0 closes the dataset's block of the run (open_for_writing → 0). */
  closeBlocks: (dataset: string, run: number) => void
  /** While true, every call is answered 503 (DBS down). */
  setDown: (down: boolean) => void
  /** Every request path with its query, in order. */
  requests: string[]
  /** The LFNs the stand-in lists for the dataset and run, in lumisection order. */
  filesOf: (dataset: string, run: number) => string[]
}

interface FileRow { lfn: string, run: number, lumis: number[], events: number[] }
interface BlockRow { name: string, dataset: string, run: number, open: boolean, files: FileRow[] }

const params: Record<string, readonly string[]> = {
  datasets: ['dataset', 'detail', 'dataset_access_type', 'run_num'],
  blocks: ['dataset', 'block_name', 'run_num', 'detail', 'open_for_writing'],
  files: ['dataset', 'block_name', 'logical_file_name', 'run_num', 'detail', 'validFileOnly', 'sumOverLumi'],
  filelumis: ['logical_file_name', 'block_name', 'run_num', 'validFileOnly']
}

const uuidOf = (text: string): string => {
  const h = createHash('sha256').update(text).digest('hex').toUpperCase()
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`
}

/** The blocks and files of one dataset, made from its runs. */
function blocksOf (d: StandInDataset): BlockRow[] {
  const [, primary = '', processed = '', tier = ''] = d.dataset.split('/')
  const version = /-(v\d+)$/.exec(processed)?.[1] ?? 'v1'
  const perFile = d.lumisPerFile ?? 100
  return d.runs.map(r => {
    const lumis = Math.max(1, Math.round(r.durationS / lumisectionS))
    const runPath = String(r.run).padStart(9, '0').replace(/^(\d{3})(\d{3})(\d{3})$/, '$1/$2/$3')
    const files: FileRow[] = []
    for (let first = 1, i = 0; first <= lumis; first += perFile, i++) {
      const ls = Array.from({ length: Math.min(perFile, lumis - first + 1) }, (_, k) => first + k)
      files.push({ lfn: `/store/data/${r.era}/${primary}/${tier}/${version}/${runPath}/00000/${uuidOf(`${d.dataset}/${r.run}/${i}`)}.root`, run: r.run, lumis: ls, events: ls.map(l => 500 + (l % 7)) })
    }
    return { name: `${d.dataset}#${uuidOf(`${d.dataset}/${r.run}`).toLowerCase()}`, dataset: d.dataset, run: r.run, open: d.open !== false, files }
  })
}

/**
 * Starts the stand-in on 127.0.0.1 (`port`, default a free one). With `tls`, it serves HTTPS with that certificate; with `token`,
 * only requests bearing it are answered.
 */
export async function startDbsStandIn (options: { datasets: StandInDataset[], token?: string, tls?: { cert: Buffer, key: Buffer }, port?: number }): Promise<DbsStandIn> {
  const datasets = new Map(options.datasets.map(d => [d.dataset, { accessType: d.accessType ?? 'VALID', blocks: blocksOf(d) }]))
  const requests: string[] = []
  let down = false
  const base = '/dbs/prod/global/DBSReader/'
  const json = (res: ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json' })
    res.end(JSON.stringify(body))
  }
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://stand-in')
    requests.push(`${url.pathname}${url.search}`)
    if (down) return json(res, 503, { error: 'DBS stand-in is down' })
    if (options.token !== undefined && req.headers.authorization !== `Bearer ${options.token}`) return json(res, 401, { error: 'unauthorized' })
    if (req.method !== 'GET' || !url.pathname.startsWith(base)) return json(res, 404, { error: `no API ${url.pathname}` })
    const api = url.pathname.slice(base.length)
    const allowed = params[api]
    if (allowed === undefined) return json(res, 404, { error: `no API ${api}` })
    const bad = [...url.searchParams.keys()].filter(k => !allowed.includes(k))
    if (bad.length > 0) return json(res, 400, { error: `invalid parameter(s) ${bad.join(', ')} for API ${api}` })
    const q = (k: string): string | null => url.searchParams.get(k)
    const runNum = q('run_num') === null ? undefined : Number(q('run_num'))
    const blocks = [...datasets.values()].flatMap(d => d.blocks)
      .filter(b => (q('dataset') === null || b.dataset === q('dataset')) && (q('block_name') === null || b.name === q('block_name')) && (runNum === undefined || b.run === runNum))
    switch (api) {
      case 'datasets': {
        const name = q('dataset') ?? ''
        const d = datasets.get(name)
        if (d === undefined) return json(res, 200, [])
        const [, primary, processed, tier] = name.split('/')
        return json(res, 200, [{ dataset: name, dataset_access_type: d.accessType, primary_ds_name: primary, processed_ds_name: processed, data_tier_name: tier, primary_ds_type: 'data', physics_group_name: 'NoGroup', acquisition_era_name: /^(Run\d{4}[A-Z])/.exec(processed ?? '')?.[1] ?? '', processing_version: 1, xtcrosssection: null, creation_date: 1658275200, create_by: 'tier0', last_modification_date: 1658275200, last_modified_by: 'tier0' }])
      }
      case 'blocks':
        return json(res, 200, blocks.map(b => ({ block_name: b.name, open_for_writing: b.open ? 1 : 0, dataset: b.dataset, origin_site_name: 'T0_CH_CERN_Disk', file_count: b.files.length, block_size: b.files.length * 4_000_000_000, creation_date: 1658275200, create_by: 'tier0', last_modification_date: 1658275200, last_modified_by: 'tier0' })))
      case 'files':
        return json(res, 200, blocks.flatMap(b => b.files.map(f => ({ logical_file_name: f.lfn, is_file_valid: 1, dataset: b.dataset, block_name: b.name, file_type: 'EDM', event_count: f.events.reduce((s, e) => s + e, 0), file_size: 4_000_000_000, check_sum: '1', adler32: 'deadbeef', md5: null, creation_date: 1658275200, create_by: 'tier0', last_modification_date: 1658275200, last_modified_by: 'tier0' }))))
      case 'filelumis':
        return json(res, 200, blocks.flatMap(b => b.files.filter(f => q('logical_file_name') === null || f.lfn === q('logical_file_name')).map(f => ({ logical_file_name: f.lfn, run_num: f.run, lumi_section_num: f.lumis, event_count: f.events }))))
      default:
        return json(res, 404, { error: `no API ${api}` })
    }
  }
  const server: Server = options.tls === undefined ? createHttpServer(handle) : createHttpsServer({ cert: options.tls.cert, key: options.tls.key }, handle)
  await new Promise<void>(resolve => server.listen(options.port ?? 0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    url: `${options.tls === undefined ? 'http' : 'https'}://127.0.0.1:${port}${base.replace(/\/$/, '')}`,
    closeBlocks: (dataset, run) => { for (const b of datasets.get(dataset)?.blocks ?? []) if (b.run === run) b.open = false },
    setDown: d => { down = d },
    requests,
    filesOf: (dataset, run) => (datasets.get(dataset)?.blocks ?? []).filter(b => b.run === run).flatMap(b => b.files.map(f => f.lfn)),
    [Symbol.asyncDispose]: async () => {
      server.closeAllConnections()
      await new Promise<void>(resolve => server.close(() => resolve()))
    }
  }
}
