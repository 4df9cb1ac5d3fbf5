// A client of the Tier-0 data service: run_stream_done, run_dataset_done and
// firstconditionsaferun, each answering {"result": [...]}.
import { AutocalError } from '@autocal/runtime'
import { runProblem } from '@autocal/contracts'

export function createT0Client (options: { baseUrl: string, timeoutMs: number }): {
  streamDone: (run: number, stream: string) => Promise<boolean>
  datasetDone: (run: number, dataset: string) => Promise<boolean>
  firstConditionSafeRun: () => Promise<number | undefined>
} {
  async function result (path: string, params: Record<string, string>): Promise<unknown[]> {
    const url = new URL(`${options.baseUrl.replace(/\/$/, '')}/${path}`)
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v)
    let res: Response
    try {
      res = await fetch(url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(options.timeoutMs) })
    } catch (err) {
      throw new AutocalError('AUTOCAL_SOURCE_FAILED', `Tier-0 ${path}: ${(err as Error).message}`, { cause: err })
    }
    if (!res.ok) throw new AutocalError('AUTOCAL_SOURCE_FAILED', `Tier-0 ${path} answered ${res.status}`)
    let json: unknown
    try { json = await res.json() } catch { throw new AutocalError('AUTOCAL_SOURCE_FAILED', `Tier-0 ${path} answered something that is not JSON`) }
    const list = (json as { result?: unknown }).result
    if (!Array.isArray(list)) throw new AutocalError('AUTOCAL_SOURCE_FAILED', `Tier-0 ${path} answered without a result list`)
    return list
  }
  const truthy = (list: unknown[]): boolean => list.length > 0 && list.every(v => v === true || v === 1 || v === 'true' || (typeof v === 'object' && v !== null && Object.values(v).some(x => x === true)))
  return {
    streamDone: async (run, stream) => truthy(await result('run_stream_done', { run: String(run), stream })),
    datasetDone: async (run, dataset) => truthy(await result('run_dataset_done', { run: String(run), primary_dataset: dataset })),
    firstConditionSafeRun: async () => {
      // [{"run_id": N}] (T0WmaDataSvc), or [N]; run_id null = no FCSR (every known run locked)
      const list = await result('firstconditionsaferun', {})
      const first = list[0]
      const raw = typeof first === 'object' && first !== null ? Object.values(first)[0] : first
      if (raw === undefined || raw === null) return undefined
      const value = typeof raw === 'number' ? raw : Number(raw)
      const problem = runProblem(value)
      if (problem !== undefined) throw new AutocalError('AUTOCAL_SOURCE_FAILED', `Tier-0 firstconditionsaferun answered ${JSON.stringify(raw).slice(0, 40)}: ${problem}`)
      return value
    }
  }
}
