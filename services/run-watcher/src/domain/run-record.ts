// A run as the run-watcher knows it, in fixed units: luminosity in /pb, times
// as UTC epoch milliseconds, B field in tesla. Every source turns its records
// into this shape; the contracts' `Run` is made from it.
import { nameProblem, runProblem } from '@autocal/contracts'

export interface RunRecord {
  run: number
  fill: number
  era: string
  startMs: number
  /** Unset while the run is ongoing. */
  endMs?: number | undefined
  durationS: number
  lastLumisection: number
  deliveredLumiPb: number
  recordedLumiPb: number
  /** Lower case, e.g. "collisions2022". */
  runClass: string
  global: boolean
  bFieldT?: number | undefined
  stableBeam?: boolean | undefined
  fillType: string
  hltKey: string
  componentsOut: string[]
  /** End of the run's LHC fill (OMS fills resource `end_time`), epoch ms; unset while the fill goes on or unknown. */
  fillEndMs?: number | undefined
}

/** Why a record was not turned into a run: the field and what was wrong with it. */
export interface FieldError {
  field: string
  message: string
}

export type Parsed = { ok: true, run: RunRecord } | { ok: false, error: FieldError }

/** The largest value of a uint32 field of the contract (fill, duration_s, last_lumisection). */
const uint32Max = 2 ** 32 - 1

/**
 * Checks a run record against the contract and the one name grammar
 * (@autocal/contracts names.ts): the run number 1 ≤ run < 2^32, the era a
 * valid name (an empty era means unknown and is allowed), uint32 fields in
 * range, luminosities finite. Returns the first problem, naming the field as
 * the source spells it (OMS attribute names), or undefined when the record
 * can be announced. Every source checks its records with it, so that no
 * record that would break an id, a path or a publish gets past the run-watcher.
 */
export function recordProblem (r: RunRecord): FieldError | undefined {
  const run = runProblem(r.run)
  if (run !== undefined) return { field: 'run_number', message: run }
  if (r.era !== '') {
    const era = nameProblem('era', r.era)
    if (era !== undefined) return { field: 'era', message: era }
  }
  const counts: Array<[string, number]> = [['fill_number', r.fill], ['duration', r.durationS], ['last_lumisection_number', r.lastLumisection]]
  for (const [field, value] of counts) {
    if (!Number.isInteger(value) || value < 0 || value > uint32Max) return { field, message: `${String(value)} is out of range: expected an integer with 0 ≤ ${field} < 2^32` }
  }
  const lumis: Array<[string, number]> = [['delivered_lumi', r.deliveredLumiPb], ['recorded_lumi', r.recordedLumiPb]]
  for (const [field, value] of lumis) if (!Number.isFinite(value)) return { field, message: `expected a finite luminosity, got ${String(value)}` }
  return undefined
}

/** The fields compared to decide whether a run changed, in a fixed order. */
export const comparedFields = [
  'fill', 'era', 'startMs', 'endMs', 'durationS', 'lastLumisection', 'deliveredLumiPb', 'recordedLumiPb',
  'runClass', 'global', 'bFieldT', 'stableBeam', 'fillType', 'hltKey', 'componentsOut', 'fillEndMs'
] as const satisfies ReadonlyArray<keyof RunRecord>

/** Contract field names (snake case, as in runs.proto) of the compared fields, for `changed_fields`. */
export const contractFieldName: Record<typeof comparedFields[number], string> = {
  fill: 'fill',
  era: 'era',
  startMs: 'start_time',
  endMs: 'end_time',
  durationS: 'duration_s',
  lastLumisection: 'last_lumisection',
  deliveredLumiPb: 'delivered_lumi_pb',
  recordedLumiPb: 'recorded_lumi_pb',
  runClass: 'run_class',
  global: 'global',
  bFieldT: 'b_field_t',
  stableBeam: 'stable_beam',
  fillType: 'fill_type',
  hltKey: 'hlt_key',
  componentsOut: 'components_out',
  fillEndMs: 'fill_end_time'
}

/** The canonical text of a run's content (the input of its content hash). */
export function canonical (run: RunRecord): string {
  // the fill's end joins the text only when known: the hash of a run without it stays what it was before the field
  const fields = run.fillEndMs === undefined ? comparedFields.filter(f => f !== 'fillEndMs') : comparedFields
  return JSON.stringify([run.run, ...fields.map(f => run[f] ?? null)])
}

/** Parses "2022-07-01 01:10:12" (OMS table export, UTC) or ISO-8601 ("2018-11-19T20:36:50Z"). */
export function parseUtc (text: string): number | undefined {
  const t = text.trim()
  if (t === '') return undefined
  const iso = /^\d{4}-\d\d-\d\d[ T]\d\d:\d\d(:\d\d(\.\d+)?)?$/.test(t) ? `${t.replace(' ', 'T')}Z` : t
  const ms = Date.parse(iso)
  return Number.isNaN(ms) ? undefined : ms
}

/**
 * Integrated-luminosity units as OMS writes them in `meta.row.<field>.units`,
 * as factors to /pb. OMS writes LaTeX: `pb^{-1}`, and `{\mu}b^{-1}` for
 * inverse microbarn (JSON text `"{\\mu}b^{-1}"`); public OMS clients map
 * `fb^{-1}`, `pb^{-1}`, `{\mu}b^{-1}`, `mb^{-1}` and `b^{-1}` (e.g. the
 * CONVERSION_MAP of the TrackerDPG run-listing utilities and the
 * `unit_to_factor` of an omsapi-based luminosity script). The other spellings
 * are what people type into a run list or an injection (`/pb`, `pb-1`,
 * `µb^{-1}`). 1 b⁻¹ = 10⁻¹² pb⁻¹. A Map, so that only these are units
 * (`constructor`, `__proto__` are not).
 */
const toInversePb: ReadonlyMap<string, number> = new Map([
  ...spellings('f', 1e3),
  ...spellings('p', 1),
  ...spellings('n', 1e-3),
  ...spellings('u', 1e-6),
  ...spellings('µ', 1e-6), // U+00B5 micro sign
  ...spellings('μ', 1e-6), // U+03BC Greek mu
  ...spellings('{\\mu}', 1e-6), // as OMS writes it
  ...spellings('\\mu', 1e-6),
  ...spellings('m', 1e-9),
  ...spellings('', 1e-12)
])

/** The spellings of inverse `<prefix>b`: LaTeX `pb^{-1}`, `pb^-1`, `pb-1`, `1/pb`, `/pb`. */
function spellings (prefix: string, factor: number): Array<[string, number]> {
  const b = `${prefix}b`
  return [`${b}^{-1}`, `${b}^-1`, `${b}-1`, `1/${b}`, `/${b}`].map(u => [u, factor])
}

/**
 * Converts a luminosity in `unit` to /pb; undefined for a unit we do not know.
 * No unit (undefined or '') means /pb. Rounded to 12 significant digits, so
 * that the same luminosity reported in another unit (µb⁻¹ instead of pb⁻¹)
 * gives the same number, not a float round-off that would look like a
 * correction.
 */
export function lumiToPb (value: number, unit: string | undefined): number | undefined {
  const factor = unit === undefined || unit.trim() === '' ? 1 : toInversePb.get(unit.trim())
  return factor === undefined ? undefined : Number((value * factor).toPrecision(12))
}

/** The run class is the part of the L1/HLT mode before '/': "collisions2022/v69" → "collisions2022". */
export function runClassOf (l1HltMode: string): string {
  return (l1HltMode.split('/')[0] ?? '').trim().toLowerCase()
}
