// The built-in run generator: plausible CMS runs for a fresh clone without
// ../shared/realdata, and for benchmarks. Writes a run list in the OMS
// run-table CSV export format (the same columns as Runs2022-hltmode.csv, read
// by the run-watcher's replay source) and a certification ("golden") JSON of
// the good collision runs, so the example workflows' filters have data.
// Deterministic for a given seed. The runs look like 2022 runs (classes
// collisions2022, eras Run2022A…) so that the example workflows select them.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

export interface GeneratedRun {
  run: number
  fill: number
  durationS: number
  start: Date
  end: Date
  deliveredLumiPb: number
  recordedLumiPb: number
  runClass: string
  era: string
  lastLumisection: number
}

export interface GeneratorOptions {
  runs: number
  firstRun?: number
  firstFill?: number
  start?: Date
  seed?: number
  /** Fraction of runs that are collision runs (the rest cosmics or circulating beam). */
  collisionFraction?: number
  /** Runs per era before the era letter advances. */
  runsPerEra?: number
}

/** mulberry32: a small seeded PRNG, so that a seed always gives the same runs. */
function random (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export function generateRuns (options: GeneratorOptions): GeneratedRun[] {
  const rnd = random(options.seed ?? 2022)
  const collisionFraction = options.collisionFraction ?? 0.6
  const runsPerEra = options.runsPerEra ?? 400
  let run = options.firstRun ?? 400_000
  let fill = options.firstFill ?? 9000
  let time = (options.start ?? new Date('2022-07-05T00:00:00Z')).getTime()
  let runsLeftInFill = 1 + Math.floor(rnd() * 8)
  const out: GeneratedRun[] = []
  for (let i = 0; i < options.runs; i++) {
    if (runsLeftInFill === 0) {
      fill += 1
      runsLeftInFill = 1 + Math.floor(rnd() * 8)
      time += (1 + rnd() * 4) * 3600_000 // beam dump to next fill
    }
    runsLeftInFill -= 1
    const collisions = rnd() < collisionFraction
    const durationS = Math.round(collisions ? 600 + rnd() * 12_000 : 120 + rnd() * 3000)
    const lumisections = Math.max(1, Math.floor(durationS / 23.31))
    const delivered = collisions ? Math.round(durationS * (0.002 + rnd() * 0.02) * 1e6) / 1e6 : 0
    const recorded = Math.round(delivered * (0.9 + rnd() * 0.09) * 1e6) / 1e6
    const start = new Date(time)
    const end = new Date(time + durationS * 1000)
    out.push({
      run,
      fill,
      durationS,
      start,
      end,
      deliveredLumiPb: delivered,
      recordedLumiPb: recorded,
      runClass: collisions ? 'collisions2022' : (rnd() < 0.7 ? 'cosmics2022' : 'circulating2022'),
      era: `Run2022${String.fromCharCode(65 + Math.min(25, Math.floor(i / runsPerEra)))}`,
      lastLumisection: lumisections
    })
    run += 1 + (rnd() < 0.1 ? 1 : 0)
    time = end.getTime() + (60 + rnd() * 600) * 1000
  }
  return out
}

const omsTime = (d: Date): string => d.toISOString().slice(0, 19).replace('T', ' ')

/** The runs as an OMS run-table CSV export (the columns of Runs2022-hltmode.csv). */
export function toOmsCsv (runs: GeneratedRun[]): string {
  const header = 'run_number,fill_number,duration,start_time,end_time,components_out,delivered_lumi,recorded_lumi,l1_triggers_counter,l1_hlt_mode_stripped,hlt_key,era,initial_prescale_index'
  const rows = runs.map(r => [
    r.run, r.fill, r.durationS, omsTime(r.start), omsTime(r.end), '"[]"', r.deliveredLumiPb, r.recordedLumiPb,
    r.lastLumisection * 100_000, `${r.runClass}/v1`, `/cdaq/generated/${r.runClass}/HLT/V1`, r.era, 0
  ].join(','))
  return [header, ...rows].join('\n') + '\n'
}

/** Golden JSON: every collision run with some recorded luminosity, all its lumisections certified. */
export function toGoldenJson (runs: GeneratedRun[]): string {
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
export function writeGeneratedRealdata (dir: string, options: GeneratorOptions): { csv: string, golden: string, runs: GeneratedRun[] } {
  mkdirSync(dir, { recursive: true })
  const runs = generateRuns(options)
  const csv = join(dir, 'Runs-generated.csv')
  const golden = join(dir, 'Cert_Collisions2022_355100_362760_Golden.json')
  writeFileSync(csv, toOmsCsv(runs))
  writeFileSync(golden, toGoldenJson(runs))
  return { csv, golden, runs }
}
