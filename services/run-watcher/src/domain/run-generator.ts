// The built-in run generator: plausible CMS runs for when no run list is at
// hand (a fresh clone without ../shared/realdata, a demo, a benchmark).
// Runs come in fills of 1–8 runs separated by beam dumps; about 60 % are
// collision runs with luminosity (recorded ≈ 90–99 % of delivered), the rest
// cosmics or circulating beam; the era letter advances every `runsPerEra`
// runs. The runs look like 2022 runs (classes collisions2022…, eras
// Run2022A…) so that the example workflows select them. Deterministic for a
// seed. deploy/local/run-generator.ts writes these runs as an OMS CSV, so the
// CSV and this source agree.
import type { RunRecord } from './run-record.ts'

export interface GeneratorOptions {
  runs: number
  firstRun?: number
  firstFill?: number
  /** Start of the first run, UTC epoch ms. */
  startMs?: number
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

/** Seconds per CMS lumisection (2^18 LHC orbits). */
const lumisectionS = 23.31

export function generateRuns (options: GeneratorOptions): RunRecord[] {
  const rnd = random(options.seed ?? 2022)
  const collisionFraction = options.collisionFraction ?? 0.6
  const runsPerEra = options.runsPerEra ?? 400
  let run = options.firstRun ?? 400_000
  let fill = options.firstFill ?? 9000
  let time = options.startMs ?? Date.parse('2022-07-05T00:00:00Z')
  let runsLeftInFill = 1 + Math.floor(rnd() * 8)
  const out: RunRecord[] = []
  for (let i = 0; i < options.runs; i++) {
    if (runsLeftInFill === 0) {
      fill += 1
      runsLeftInFill = 1 + Math.floor(rnd() * 8)
      time += (1 + rnd() * 4) * 3600_000 // beam dump to next fill
    }
    runsLeftInFill -= 1
    const collisions = rnd() < collisionFraction
    const durationS = Math.round(collisions ? 600 + rnd() * 12_000 : 120 + rnd() * 3000)
    const delivered = collisions ? Math.round(durationS * (0.002 + rnd() * 0.02) * 1e6) / 1e6 : 0
    const recorded = Math.round(delivered * (0.9 + rnd() * 0.09) * 1e6) / 1e6
    const runClass = collisions ? 'collisions2022' : (rnd() < 0.7 ? 'cosmics2022' : 'circulating2022')
    const startMs = Math.trunc(time)
    const endMs = startMs + durationS * 1000
    out.push({
      run,
      fill,
      era: `Run2022${String.fromCharCode(65 + Math.min(25, Math.floor(i / runsPerEra)))}`,
      startMs,
      endMs,
      durationS,
      lastLumisection: Math.max(1, Math.floor(durationS / lumisectionS)),
      deliveredLumiPb: delivered,
      recordedLumiPb: recorded,
      runClass,
      global: true,
      bFieldT: 3.8,
      stableBeam: collisions && delivered > 0,
      fillType: collisions ? 'PROTONS' : '',
      hltKey: `/cdaq/generated/${runClass}/HLT/V1`,
      componentsOut: []
    })
    run += 1 + (rnd() < 0.1 ? 1 : 0)
    time = endMs + (60 + rnd() * 600) * 1000
  }
  return out
}
