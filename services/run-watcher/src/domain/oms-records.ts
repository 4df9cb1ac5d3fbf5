// Turning OMS records into runs: rows of an OMS run-table CSV export (as
// Runs2022-hltmode.csv, header lines repeated inside the file) and JSON:API
// records of the OMS REST API (`data[].attributes`, units in `meta.row`).
import { parse, type CsvError, type Info } from 'csv-parse/sync'
import { lumiToPb, parseUtc, recordProblem, runClassOf, type FieldError, type Parsed, type RunRecord } from './run-record.ts'

export interface CsvRow {
  /** 1-based line number in the file. */
  line: number
  values: Record<string, string>
}

/**
 * Rows of a CSV export, read by csv-parse (RFC 4180: quoted fields, doubled
 * quotes, CRLF or LF). The first record is the header; a record equal to the
 * header (several exports concatenated, as in Runs2022-hltmode.csv) is
 * skipped; a record with the wrong number of fields, or one csv-parse cannot
 * read (an unclosed quote), is reported with its 1-based line, not guessed at.
 * Empty lines are skipped. Returns the rows with their line numbers.
 */
export function parseCsv (text: string): { rows: CsvRow[], errors: Array<{ line: number, message: string }> } {
  const errors: Array<{ line: number, message: string }> = []
  // with `info: true` each record comes as { record, info } (csv-parse's types do not follow the option)
  const records = parse(text, {
    info: true,
    trim: true,
    skip_empty_lines: true,
    relax_column_count: true,
    skip_records_with_error: true,
    on_skip: (err: CsvError | undefined) => {
      errors.push({ line: typeof err?.lines === 'number' ? err.lines : 0, message: err?.message ?? 'unreadable record' })
      return undefined
    }
  }) as unknown as Array<{ record: string[], info: Info }>
  const headerRecord = records[0]
  if (headerRecord === undefined) return { rows: [], errors: errors.length > 0 ? errors : [{ line: 1, message: 'empty file' }] }
  const header = headerRecord.record
  const rows: CsvRow[] = []
  for (const { record, info } of records.slice(1)) {
    if (record.length === header.length && record.every((v, k) => v === header[k])) continue
    if (record.length !== header.length) {
      errors.push({ line: info.lines, message: `expected ${header.length} fields (${header.join(',')}), found ${record.length}` })
      continue
    }
    rows.push({ line: info.lines, values: Object.fromEntries(header.map((h, k) => [h, record[k] ?? ''])) })
  }
  return { rows, errors }
}

function fail (field: string, message: string): Parsed {
  return { ok: false, error: { field, message } }
}

/** A record read whole is still refused when it breaks the contract or the name grammar (see recordProblem). */
function checked (run: RunRecord): Parsed {
  const problem = recordProblem(run)
  return problem === undefined ? { ok: true, run } : { ok: false, error: problem }
}

function integer (v: unknown, field: string, required: boolean): number | FieldError | undefined {
  if (v === undefined || v === null || v === '') return required ? { field, message: 'missing' } : undefined
  const n = typeof v === 'number' ? v : Number(String(v).trim())
  if (!Number.isInteger(n) || n < 0) return { field, message: `expected a non-negative integer, got ${JSON.stringify(v)}` }
  return n
}

/**
 * A luminosity as OMS reports it. Small negative values occur in the real
 * 2022 export (delivered_lumi -0.09083 for run 358227, after a correction):
 * they are kept as reported, not treated as malformed.
 */
function decimal (v: unknown, field: string): number | FieldError | undefined {
  if (v === undefined || v === null || v === '') return undefined
  const n = typeof v === 'number' ? v : Number(String(v).trim())
  if (!Number.isFinite(n)) return { field, message: `expected a number, got ${JSON.stringify(v)}` }
  return n
}

function isError (v: unknown): v is FieldError {
  return typeof v === 'object' && v !== null && 'field' in v && 'message' in v
}

/** "[CTPPS, CTPPS_TOT, PIXEL]" → ["CTPPS", "CTPPS_TOT", "PIXEL"]. */
function componentList (v: unknown): string[] {
  if (Array.isArray(v)) return v.map(String)
  const text = String(v ?? '').trim().replace(/^\[/, '').replace(/\]$/, '')
  return text === '' ? [] : text.split(',').map(s => s.trim()).filter(s => s !== '')
}

/**
 * Columns of a CSV export under their other names: the enriched 2022 list
 * (runs2022_oms_enriched.csv) says `duration_s`, `delivered_lumi_pb`,
 * `recorded_lumi_pb` and has `run_class` and `stable_beam_ls_count`.
 */
const csvAliases: Record<string, string> = { duration_s: 'duration', delivered_lumi_pb: 'delivered_lumi', recorded_lumi_pb: 'recorded_lumi' }

/** Columns a CSV run list must have. */
export const requiredCsvColumns = ['run_number', 'start_time'] as const

/**
 * One row of an OMS run-table CSV export (or of the enriched 2022 list). Its
 * luminosity columns are in /pb (an empty one counts as 0: OMS leaves it
 * empty for runs without beam); its times are UTC; every run of the export is
 * a global run. A `stable_beam_ls_count` column gives `stable_beam`.
 */
export function runFromCsv (row: Record<string, string>): Parsed {
  const values: Record<string, string> = { ...row }
  for (const [alias, name] of Object.entries(csvAliases)) if (values[name] === undefined && row[alias] !== undefined) values[name] = row[alias]
  const stableLs = integer(values.stable_beam_ls_count, 'stable_beam_ls_count', false)
  if (isError(stableLs)) return { ok: false, error: stableLs }
  const run = integer(values.run_number, 'run_number', true)
  if (isError(run)) return { ok: false, error: run }
  const fill = integer(values.fill_number, 'fill_number', false)
  if (isError(fill)) return { ok: false, error: fill }
  const startMs = parseUtc(values.start_time ?? '')
  if (startMs === undefined) return fail('start_time', `expected a UTC time, got ${JSON.stringify(values.start_time ?? '')}`)
  const endText = values.end_time ?? ''
  const endMs = parseUtc(endText)
  if (endText.trim() !== '' && endMs === undefined) return fail('end_time', `expected a UTC time, got ${JSON.stringify(endText)}`)
  if (endMs !== undefined && endMs < startMs) return fail('end_time', `ends (${endText}) before it starts (${values.start_time})`)
  const duration = integer(values.duration, 'duration', false)
  if (isError(duration)) return { ok: false, error: duration }
  const delivered = decimal(values.delivered_lumi, 'delivered_lumi')
  if (isError(delivered)) return { ok: false, error: delivered }
  const recorded = decimal(values.recorded_lumi, 'recorded_lumi')
  if (isError(recorded)) return { ok: false, error: recorded }
  const record: RunRecord = {
    run: run as number,
    fill: fill ?? 0,
    era: (values.era ?? '').trim(),
    startMs,
    endMs,
    durationS: duration ?? (endMs === undefined ? 0 : Math.round((endMs - startMs) / 1000)),
    lastLumisection: 0,
    deliveredLumiPb: delivered ?? 0,
    recordedLumiPb: recorded ?? 0,
    runClass: values.run_class !== undefined && values.run_class.trim() !== '' ? values.run_class.trim().toLowerCase() : runClassOf(values.l1_hlt_mode_stripped ?? ''),
    global: true,
    stableBeam: stableLs === undefined ? undefined : stableLs > 0,
    fillType: '',
    hltKey: (values.hlt_key ?? '').trim(),
    componentsOut: componentList(values.components_out)
  }
  return checked(record)
}

/** `meta.row.<field>.units` of an OMS JSON:API record. */
export type OmsUnits = Record<string, { units?: string | null } | undefined>

/**
 * One OMS JSON:API run record (`attributes` plus the units from `meta.row`).
 * Luminosity is converted to /pb with the units the record states.
 */
export function runFromOms (attributes: Record<string, unknown>, units: OmsUnits = {}): Parsed {
  const run = integer(attributes.run_number, 'run_number', true)
  if (isError(run)) return { ok: false, error: run }
  const fill = integer(attributes.fill_number, 'fill_number', false)
  if (isError(fill)) return { ok: false, error: fill }
  const startMs = typeof attributes.start_time === 'string' ? parseUtc(attributes.start_time) : undefined
  if (startMs === undefined) return fail('start_time', `expected an ISO-8601 UTC time, got ${JSON.stringify(attributes.start_time ?? null)}`)
  const endMs = typeof attributes.end_time === 'string' ? parseUtc(attributes.end_time) : undefined
  if (attributes.end_time !== null && attributes.end_time !== undefined && endMs === undefined) {
    return fail('end_time', `expected an ISO-8601 UTC time or null, got ${JSON.stringify(attributes.end_time)}`)
  }
  const lumi: Record<string, number> = {}
  for (const field of ['delivered_lumi', 'recorded_lumi'] as const) {
    const value = decimal(attributes[field], field)
    if (isError(value)) return { ok: false, error: value }
    const unit = units[field]?.units ?? undefined
    const pb = lumiToPb(value ?? 0, unit)
    if (pb === undefined) return fail(field, `unknown luminosity unit ${JSON.stringify(unit)}`)
    lumi[field] = pb
  }
  const ls = integer(attributes.last_lumisection_number, 'last_lumisection_number', false)
  if (isError(ls)) return { ok: false, error: ls }
  const duration = integer(attributes.duration, 'duration', false)
  if (isError(duration)) return { ok: false, error: duration }
  const bField = attributes.b_field
  if (bField !== undefined && bField !== null && typeof bField !== 'number') return fail('b_field', `expected a number (T), got ${JSON.stringify(bField)}`)
  const stable = attributes.stable_beam
  if (stable !== undefined && stable !== null && typeof stable !== 'boolean') return fail('stable_beam', `expected true or false, got ${JSON.stringify(stable)}`)
  const sequence = typeof attributes.sequence === 'string' ? attributes.sequence : undefined
  const runClass = typeof attributes.l1_hlt_mode_stripped === 'string'
    ? runClassOf(attributes.l1_hlt_mode_stripped)
    : typeof attributes.run_class === 'string' ? attributes.run_class.toLowerCase() : ''
  return checked({
    run: run as number,
    fill: fill ?? 0,
    era: typeof attributes.era === 'string' ? attributes.era : '',
    startMs,
    endMs,
    durationS: duration ?? (endMs === undefined ? 0 : Math.round((endMs - startMs) / 1000)),
    lastLumisection: ls ?? 0,
    deliveredLumiPb: lumi.delivered_lumi ?? 0,
    recordedLumiPb: lumi.recorded_lumi ?? 0,
    runClass,
    global: sequence === undefined ? true : sequence === 'GLOBAL-RUN',
    bFieldT: typeof bField === 'number' ? bField : undefined,
    stableBeam: typeof stable === 'boolean' ? stable : undefined,
    fillType: typeof attributes.fill_type_runtime === 'string' ? attributes.fill_type_runtime : '',
    hltKey: typeof attributes.hlt_key === 'string' ? attributes.hlt_key : '',
    componentsOut: componentList(attributes.components_out ?? [])
  })
}

/** A known run as OMS attributes (luminosity in /pb), the base a partial correction is applied to. */
export function omsAttributesOf (r: RunRecord): Record<string, unknown> {
  return {
    run_number: r.run,
    fill_number: r.fill,
    era: r.era,
    start_time: new Date(r.startMs).toISOString(),
    end_time: r.endMs === undefined ? null : new Date(r.endMs).toISOString(),
    duration: r.durationS,
    last_lumisection_number: r.lastLumisection,
    delivered_lumi: r.deliveredLumiPb,
    recorded_lumi: r.recordedLumiPb,
    run_class: r.runClass,
    sequence: r.global ? 'GLOBAL-RUN' : 'LOCAL',
    b_field: r.bFieldT ?? null,
    stable_beam: r.stableBeam ?? null,
    fill_type_runtime: r.fillType,
    hlt_key: r.hltKey,
    components_out: r.componentsOut
  }
}
