// The file-list source of data-aware tasks: CMS's DBS read API (DBSReader,
// e.g. https://cmsweb.cern.ch/dbs/prod/global/DBSReader). The four GET calls
// and the JSON fields used are those of the DBS server's API (dmwm/dbs2go
// docs/apis.md, the dbs3-client's listDatasets/listBlocks/listFiles/
// listFileLumis):
//   datasets?dataset=<d>&detail=1                        → [{ dataset, dataset_access_type }]
//   blocks?dataset=<d>&run_num=<r>&detail=1              → [{ block_name, open_for_writing: 0|1 }]
//   files?dataset=<d>&run_num=<r>&detail=1&validFileOnly=1 → [{ logical_file_name, is_file_valid, block_name, event_count }]
//   filelumis?block_name=<b>&run_num=<r>&validFileOnly=1 → [{ logical_file_name, run_num, lumi_section_num }]
// (`lumi_section_num` is one number per row, or a list per file: both are read.)
// Authentication as cmsweb takes it: a client certificate (X.509 cert + key)
// and/or a bearer token; a CA file for the server's certificate.
import { request as httpRequest } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { AutocalError, readConfigFile } from '@autocal/runtime'
import type { DatasetFile, DatasetState } from '../domain/file-slices.ts'

export interface DbsOptions {
  /** Base URL of the DBSReader instance, e.g. https://cmsweb.cern.ch/dbs/prod/global/DBSReader. */
  url: string
  /** PEM CA bundle the server's certificate is checked against (default: Node's CAs). */
  caFile?: string | undefined
  /** Client certificate and key (PEM), both or neither. */
  certFile?: string | undefined
  keyFile?: string | undefined
  /** File holding a bearer token (sent as Authorization: Bearer). */
  tokenFile?: string | undefined
  /** Time limit of one request, ms. */
  timeoutMs: number
}

export interface DbsClient {
  /** The dataset's access type and its blocks with files of `runs` (open or closed for writing). */
  datasetState: (dataset: string, runs: readonly number[]) => Promise<DatasetState>
  /** The dataset's valid files with lumisections of `runs`, and how many of those lumisections each has. */
  datasetFiles: (dataset: string, runs: readonly number[]) => Promise<DatasetFile[]>
}

type Row = Record<string, unknown>

/**
 * A DBS read client. Reads the CA, certificate, key and token files at once (AUTOCAL_CONFIG_INVALID naming the key
 * when one cannot be read, so that a bad configuration stops the start). Every call rejects with an Error saying
 * which call failed and why (status, timeout, refused connection, a body that is not a JSON list).
 */
export function createDbsClient (options: DbsOptions): DbsClient {
  const base = new URL(options.url.endsWith('/') ? options.url : `${options.url}/`)
  const ca = options.caFile === undefined ? undefined : readConfigFile('AUTOCAL_DBS_CA_FILE', options.caFile)
  const cert = options.certFile === undefined ? undefined : readConfigFile('AUTOCAL_DBS_CERT_FILE', options.certFile)
  const key = options.keyFile === undefined ? undefined : readConfigFile('AUTOCAL_DBS_KEY_FILE', options.keyFile)
  const token = options.tokenFile === undefined ? undefined : readConfigFile('AUTOCAL_DBS_TOKEN_FILE', options.tokenFile).toString('utf8').trim()
  if (token === '') throw new AutocalError('AUTOCAL_CONFIG_INVALID', `AUTOCAL_DBS_TOKEN_FILE=${options.tokenFile as string}: the file is empty`, { retryable: false })

  async function get (api: string, params: Record<string, string | number>): Promise<Row[]> {
    const url = new URL(api, base)
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, String(v))
    const what = `DBS ${api}?${url.searchParams.toString()}`
    const headers: Record<string, string> = { accept: 'application/json' }
    if (token !== undefined) headers.authorization = `Bearer ${token}`
    const body = await new Promise<string>((resolve, reject) => {
      const send = url.protocol === 'https:' ? httpsRequest : httpRequest
      const req = send(url, { method: 'GET', headers, timeout: options.timeoutMs, ...(url.protocol === 'https:' ? { ca, cert, key } : {}) }, res => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('error', reject)
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8')
          if (res.statusCode !== 200) reject(new Error(`${what} answered HTTP ${res.statusCode ?? '?'}${text === '' ? '' : `: ${text.slice(0, 200)}`}`))
          else resolve(text)
        })
      })
      req.on('timeout', () => { req.destroy(new Error(`${what}: no answer in ${options.timeoutMs} ms`)) })
      req.on('error', err => { reject(err.message.startsWith('DBS ') ? err : new Error(`${what}: ${err.message}`, { cause: err })) })
      req.end()
    })
    let rows: unknown
    try {
      rows = JSON.parse(body)
    } catch {
      throw new Error(`${what}: the answer is not JSON`)
    }
    if (!Array.isArray(rows)) throw new Error(`${what}: expected a JSON list`)
    return rows.filter((r): r is Row => typeof r === 'object' && r !== null)
  }

  async function blocksOf (dataset: string, run: number): Promise<Array<{ name: string, open: boolean }>> {
    const rows = await get('blocks', { dataset, run_num: run, detail: 1 })
    return rows.filter(r => typeof r.block_name === 'string').map(r => ({ name: r.block_name as string, open: Number(r.open_for_writing) !== 0 }))
  }

  return {
    async datasetState (dataset, runs) {
      const ds = (await get('datasets', { dataset, detail: 1 })).find(r => r.dataset === dataset)
      const blocks = new Map<string, { name: string, open: boolean }>()
      for (const run of runs) for (const b of await blocksOf(dataset, run)) blocks.set(b.name, { name: b.name, open: b.open || blocks.get(b.name)?.open === true })
      const state: DatasetState = { blocks: [...blocks.values()] }
      if (ds !== undefined) state.accessType = String(ds.dataset_access_type ?? '')
      return state
    },
    async datasetFiles (dataset, runs) {
      const lumis = new Map<string, Set<string>>()
      for (const run of runs) {
        const valid = (await get('files', { dataset, run_num: run, detail: 1, validFileOnly: 1 }))
          .filter(r => typeof r.logical_file_name === 'string' && Number(r.is_file_valid ?? 1) !== 0)
        for (const f of valid) if (!lumis.has(f.logical_file_name as string)) lumis.set(f.logical_file_name as string, new Set())
        const blocks = new Set(valid.map(f => f.block_name).filter((b): b is string => typeof b === 'string'))
        for (const block of blocks) {
          for (const row of await get('filelumis', { block_name: block, run_num: run, validFileOnly: 1 })) {
            const set = lumis.get(row.logical_file_name as string)
            if (set === undefined) continue
            const nums = Array.isArray(row.lumi_section_num) ? row.lumi_section_num : [row.lumi_section_num]
            for (const n of nums) if (Number.isInteger(n)) set.add(`${run}:${n as number}`)
          }
        }
      }
      return [...lumis].map(([lfn, set]) => {
        const first = [...set].map(x => x.split(':').map(Number) as [number, number]).sort((a, b) => a[0] - b[0] || a[1] - b[1])[0] ?? [0, 0]
        return { lfn, lumis: set.size, firstRun: first[0], firstLumi: first[1] }
      })
    }
  }
}
