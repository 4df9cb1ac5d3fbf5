// The built-in run generator's runs as files, for a fresh clone without
// ../shared/realdata and for benchmarks: a run list in the OMS run-table CSV
// export format (the same columns as Runs2022-hltmode.csv, read by the
// run-watcher's replay source) and a certification ("golden") JSON of the good
// collision runs, so the example workflows' filters have data. The runs come
// from the run-watcher's own generator, so the CSV and the run-watcher's
// generator source always give the same runs for the same options.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { stringify } from 'csv-stringify/sync'
import { generateRuns, type GeneratorOptions } from '@autocal/run-watcher/run-generator'
import type { RunRecord } from '@autocal/run-watcher/run-record'

/** "2022-07-05 00:00:00", UTC, as in the OMS export; empty for a run not ended. */
const omsTime = (ms: number | undefined): string => ms === undefined ? '' : new Date(ms).toISOString().slice(0, 19).replace('T', ' ')

/** The runs as an OMS run-table CSV export (the columns of Runs2022-hltmode.csv). */
export function toOmsCsv (runs: RunRecord[]): string {
  const header = ['run_number', 'fill_number', 'duration', 'start_time', 'end_time', 'components_out', 'delivered_lumi', 'recorded_lumi', 'l1_triggers_counter', 'l1_hlt_mode_stripped', 'hlt_key', 'era', 'initial_prescale_index']
  const rows = runs.map(r => [
    r.run, r.fill, r.durationS, omsTime(r.startMs), omsTime(r.endMs), '[]', r.deliveredLumiPb, r.recordedLumiPb,
    r.lastLumisection * 100_000, `${r.runClass}/v1`, r.hltKey, r.era, 0
  ])
  return stringify([header, ...rows], { quoted_match: /^\[/ }) // the components list quoted, as OMS writes it
}

/** Golden JSON: every collision run with some recorded luminosity, all its lumisections certified. */
export function toGoldenJson (runs: RunRecord[]): string {
  const golden: Record<string, Array<[number, number]>> = {}
  for (const r of runs) {
    if (r.runClass.startsWith('collisions') && r.recordedLumiPb > 0) golden[String(r.run)] = [[1, r.lastLumisection]]
  }
  return JSON.stringify(golden, null, 1) + '\n'
}

/**
 * Writes `Runs-generated.csv` and `Cert_Collisions2022_355100_362760_Golden.json`
 * (the name the example workflows expect under AUTOCAL_REALDATA_DIR) into dir.
 */
export function writeGeneratedRealdata (dir: string, options: GeneratorOptions): { csv: string, golden: string, runs: RunRecord[] } {
  mkdirSync(dir, { recursive: true })
  const runs = generateRuns(options)
  const csv = join(dir, 'Runs-generated.csv')
  const golden = join(dir, 'Cert_Collisions2022_355100_362760_Golden.json')
  writeFileSync(csv, toOmsCsv(runs))
  writeFileSync(golden, toGoldenJson(runs))
  return { csv, golden, runs }
}
