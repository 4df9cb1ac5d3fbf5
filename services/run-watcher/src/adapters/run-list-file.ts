// Reads a run list: an OMS run-table CSV export (as Runs2022-hltmode.csv)
// or a JSON run list (an array of OMS attribute objects, or an OMS JSON:API
// response `{ data: [{ attributes }] }`). A malformed record is reported
// with its line (or index) and field, and left out; the rest is read.
import { readFile } from 'node:fs/promises'
import { parseCsv, requiredCsvColumns, runFromCsv, runFromOms, type OmsUnits } from '../domain/oms-records.ts'
import type { RunRecord } from '../domain/run-record.ts'

export interface RecordProblem {
  /** "line 12" or "record 3". */
  where: string
  field: string
  message: string
  /** The record's run number as written, when it has one. */
  run?: string | undefined
  /** The value of the field as written. */
  value?: unknown
  /** The record as read. */
  raw?: unknown
}

export interface RunList {
  runs: RunRecord[]
  problems: RecordProblem[]
}

export function parseRunList (text: string, fileName: string): RunList {
  const runs: RunRecord[] = []
  const problems: RecordProblem[] = []
  if (/\.json$/i.test(fileName) || text.trimStart().startsWith('[') || text.trimStart().startsWith('{')) {
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch (err) {
      return { runs, problems: [{ where: 'file', field: '', message: `not JSON: ${(err as Error).message}` }] }
    }
    const records: unknown[] = Array.isArray(json) ? json : Array.isArray((json as { data?: unknown }).data) ? (json as { data: unknown[] }).data : []
    if (records.length === 0 && !Array.isArray(json)) problems.push({ where: 'file', field: 'data', message: 'expected an array of runs or { data: [...] }' })
    records.forEach((item, i) => {
      const attributes = (typeof item === 'object' && item !== null && 'attributes' in item ? (item as { attributes: unknown }).attributes : item) as Record<string, unknown>
      const units = (item as { meta?: { row?: OmsUnits } }).meta?.row ?? {}
      const parsed = typeof attributes === 'object' && attributes !== null ? runFromOms(attributes, units) : { ok: false as const, error: { field: '', message: 'not an object' } }
      if (parsed.ok) runs.push(parsed.run)
      else {
        const record = typeof attributes === 'object' && attributes !== null ? attributes : {}
        const run = record.run_number
        problems.push({ where: `record ${i}`, ...parsed.error, run: run === undefined || run === null ? undefined : String(run), value: Object.hasOwn(record, parsed.error.field) ? record[parsed.error.field] : undefined, raw: item })
      }
    })
    return { runs, problems }
  }
  const { rows, errors } = parseCsv(text)
  const columns = new Set(rows.flatMap(r => Object.keys(r.values)).slice(0, 64))
  const missing = rows.length === 0 ? [] : requiredCsvColumns.filter(c => !columns.has(c))
  if (missing.length > 0) return { runs, problems: [{ where: 'line 1', field: missing.join(','), message: `not a run list: no ${missing.join(', ')} column` }] }
  for (const e of errors) problems.push({ where: `line ${e.line}`, field: '', message: e.message })
  for (const row of rows) {
    const parsed = runFromCsv(row.values)
    if (parsed.ok) runs.push(parsed.run)
    else problems.push({ where: `line ${row.line} (run ${row.values.run_number ?? '?'})`, ...parsed.error, run: row.values.run_number, value: Object.hasOwn(row.values, parsed.error.field) ? row.values[parsed.error.field] : undefined, raw: row.values })
  }
  return { runs, problems }
}

export async function readRunList (path: string): Promise<RunList> {
  return parseRunList(await readFile(path, 'utf8'), path)
}
