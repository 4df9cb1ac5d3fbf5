// A run as the run-watcher knows it, in fixed units: luminosity in /pb, times
// as UTC epoch milliseconds, B field in tesla. Every source turns its records
// into this shape; the contracts' `Run` is made from it.

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
}

/** Why a record was not turned into a run: the field and what was wrong with it. */
export interface FieldError {
  field: string
  message: string
}

export type Parsed = { ok: true, run: RunRecord } | { ok: false, error: FieldError }

/** The fields compared to decide whether a run changed, in a fixed order. */
export const comparedFields = [
  'fill', 'era', 'startMs', 'endMs', 'durationS', 'lastLumisection', 'deliveredLumiPb', 'recordedLumiPb',
  'runClass', 'global', 'bFieldT', 'stableBeam', 'fillType', 'hltKey', 'componentsOut'
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
  componentsOut: 'components_out'
}

/** The canonical text of a run's content (the input of its content hash). */
export function canonical (run: RunRecord): string {
  return JSON.stringify([run.run, ...comparedFields.map(f => run[f] ?? null)])
}

/** Parses "2022-07-01 01:10:12" (OMS table export, UTC) or ISO-8601 ("2018-11-19T20:36:50Z"). */
export function parseUtc (text: string): number | undefined {
  const t = text.trim()
  if (t === '') return undefined
  const iso = /^\d{4}-\d\d-\d\d[ T]\d\d:\d\d(:\d\d(\.\d+)?)?$/.test(t) ? `${t.replace(' ', 'T')}Z` : t
  const ms = Date.parse(iso)
  return Number.isNaN(ms) ? undefined : ms
}

/** Luminosity units OMS reports (in meta.row.<field>.units), as factors to /pb. */
const toInversePb: Record<string, number> = {
  'pb^{-1}': 1,
  'pb-1': 1,
  '1/pb': 1,
  '/pb': 1,
  'fb^{-1}': 1000,
  'fb-1': 1000,
  '1/fb': 1000,
  '/fb': 1000,
  'nb^{-1}': 1e-3,
  'nb-1': 1e-3,
  '1/nb': 1e-3,
  '/nb': 1e-3,
  'ub^{-1}': 1e-6,
  'µb^{-1}': 1e-6,
  'μb^{-1}': 1e-6,
  'ub-1': 1e-6,
  '1/ub': 1e-6,
  '/ub': 1e-6
}

/**
 * Converts a luminosity in `unit` to /pb; undefined for a unit we do not know.
 * Rounded to 12 significant digits, so that the same luminosity reported in
 * another unit (µb⁻¹ instead of pb⁻¹) gives the same number, not a float
 * round-off that would look like a correction.
 */
export function lumiToPb (value: number, unit: string | undefined): number | undefined {
  const factor = unit === undefined || unit === '' ? 1 : toInversePb[unit.trim()]
  return factor === undefined ? undefined : Number((value * factor).toPrecision(12))
}

/** The run class is the part of the L1/HLT mode before '/': "collisions2022/v69" → "collisions2022". */
export function runClassOf (l1HltMode: string): string {
  return (l1HltMode.split('/')[0] ?? '').trim().toLowerCase()
}
