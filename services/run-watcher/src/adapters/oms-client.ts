// A client of the CMS OMS REST API (`<base>/runs`, JSON:API), following
// pagination with page[offset]/page[limit] until meta.totalResourceCount.
import { AutocalError, type Logger } from '@autocal/runtime'
import { runFromOms, type OmsUnits } from '../domain/oms-records.ts'
import { parseUtc, type RunRecord } from '../domain/run-record.ts'
import type { TokenSource } from './oidc-token.ts'
import type { RefusedRecord } from '../refused-records.ts'

export const omsFields = ['run_number', 'fill_number', 'start_time', 'end_time', 'duration', 'last_lumisection_number',
  'delivered_lumi', 'recorded_lumi', 'b_field', 'stable_beam', 'fill_type_runtime', 'sequence', 'l1_hlt_mode_stripped',
  'hlt_key', 'era', 'components_out'] as const

export interface OmsClientOptions {
  /** e.g. https://cmsoms.cern.ch/agg/api/v1 */
  baseUrl: string
  pageSize: number
  timeoutMs: number
  globalOnly: boolean
  token?: TokenSource | undefined
  logger: Logger
}

export interface OmsPage {
  runs: RunRecord[]
  /** Records left out, with the reason (reported by the caller). */
  skipped: RefusedRecord[]
}

/** Attributes of OMS's fills resource the client asks for. */
export const omsFillFields = ['fill_number', 'end_time'] as const

export function createOmsClient (options: OmsClientOptions): { runsFrom: (firstRun: number) => Promise<OmsPage>, fillEnds: (fills: readonly number[]) => Promise<Map<number, number>> } {
  async function get (url: URL, retried = false): Promise<unknown> {
    const headers: Record<string, string> = { accept: 'application/json' }
    if (options.token !== undefined) headers.authorization = `Bearer ${await options.token.token()}`
    let res: Response
    try {
      res = await fetch(url, { headers, signal: AbortSignal.timeout(options.timeoutMs) })
    } catch (err) {
      throw new AutocalError('AUTOCAL_SOURCE_FAILED', `OMS ${url.pathname}: ${(err as Error).name === 'TimeoutError' ? `no answer in ${options.timeoutMs} ms` : (err as Error).message}`, { cause: err })
    }
    if (res.status === 401 && options.token !== undefined && !retried) {
      options.token.invalidate()
      return await get(url, true)
    }
    if (!res.ok) throw new AutocalError('AUTOCAL_SOURCE_FAILED', `OMS ${url.pathname} answered ${res.status}`)
    const text = await res.text()
    try {
      return JSON.parse(text)
    } catch {
      throw new AutocalError('AUTOCAL_SOURCE_FAILED', `OMS ${url.pathname} answered something that is not JSON: ${text.slice(0, 80)}`)
    }
  }

  /**
   * The records of one OMS resource (`runs`, `fills`) matching `query`, page by page (page[offset]/page[limit]
   * until a short page or meta.totalResourceCount), with each page's offset; a page without a data array is an
   * AUTOCAL_SOURCE_FAILED error naming the resource and the offset.
   */
  async function * pages (resource: string, query: Record<string, string>): AsyncGenerator<{ offset: number, items: Array<Record<string, any>> }> {
    for (let offset = 0; ; offset += options.pageSize) {
      const url = new URL(`${options.baseUrl.replace(/\/$/, '')}/${resource}`)
      for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v)
      url.searchParams.set('page[offset]', String(offset))
      url.searchParams.set('page[limit]', String(options.pageSize))
      url.searchParams.set('include', 'meta')
      const page = await get(url) as { data?: unknown, meta?: { totalResourceCount?: unknown } }
      if (!Array.isArray(page.data)) throw new AutocalError('AUTOCAL_SOURCE_FAILED', `OMS ${resource} page at offset ${offset} has no data array`)
      yield { offset, items: page.data as Array<Record<string, any>> }
      const total = Number(page.meta?.totalResourceCount)
      if (page.data.length < options.pageSize || (Number.isFinite(total) && offset + page.data.length >= total)) break
    }
  }

  return {
    /**
     * The end (epoch ms) of each of `fills` that has ended, from OMS's fills resource (`end_time`, ISO-8601
     * UTC; null while the fill goes on), one range query paged like the runs. A record without a usable
     * fill_number or end_time is left out (the fill counts as not ended).
     */
    fillEnds: async fills => {
      const out = new Map<number, number>()
      const wanted = new Set(fills.filter(f => f > 0))
      if (wanted.size === 0) return out
      const query = { 'filter[fill_number][GE]': String(Math.min(...wanted)), 'filter[fill_number][LE]': String(Math.max(...wanted)), sort: 'fill_number', 'fields[fills]': omsFillFields.join(',') }
      for await (const { items } of pages('fills', query)) {
        for (const item of items) {
          const fill = Number(item?.attributes?.fill_number)
          const end = typeof item?.attributes?.end_time === 'string' ? parseUtc(item.attributes.end_time) : undefined
          if (wanted.has(fill) && end !== undefined) out.set(fill, end)
        }
      }
      return out
    },
    runsFrom: async firstRun => {
      const out: OmsPage = { runs: [], skipped: [] }
      const query: Record<string, string> = { 'filter[run_number][GE]': String(firstRun) }
      if (options.globalOnly) query['filter[sequence][EQ]'] = 'GLOBAL-RUN'
      query.sort = 'run_number'
      query['fields[runs]'] = omsFields.join(',')
      for await (const { offset, items } of pages('runs', query)) {
        for (const [i, item] of items.entries()) {
          const attributes = item?.attributes
          const parsed = typeof attributes === 'object' && attributes !== null
            ? runFromOms(attributes, (item.meta?.row ?? {}) as OmsUnits)
            : { ok: false as const, error: { field: 'attributes', message: 'missing' } }
          if (parsed.ok) out.runs.push(parsed.run)
          else {
            const record: Record<string, unknown> = typeof attributes === 'object' && attributes !== null ? attributes : {}
            const run = record.run_number ?? item?.id
            out.skipped.push({
              where: `offset ${offset + i} (id ${String(item?.id ?? '?')})`,
              ...parsed.error,
              run: run === undefined || run === null ? undefined : String(run),
              value: Object.hasOwn(record, parsed.error.field) ? record[parsed.error.field] : undefined,
              raw: item
            })
          }
        }
      }
      return out
    }
  }
}
