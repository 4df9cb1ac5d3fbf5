// Runs the labelled DBS stand-in (test/helpers/dbs-stand-in.ts; DBS cannot run here) for the local system:
// /AlCaPhiSym/<era>-v1/RAW of every collision run of the real 2022 run list (runs2022_oms_enriched.csv in
// $AUTOCAL_REALDATA_DIR, else ../shared/realdata), files of 100 lumisections, every block closed (Tier-0 done).
// Prints the AUTOCAL_DBS_URL to give the task-dispatcher, and serves until Ctrl-C.
//
//   node deploy/local/dbs-stand-in.ts [port]
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { startDbsStandIn, type StandInRun } from '../../test/helpers/dbs-stand-in.ts'
import { findRealdata } from './system.ts'

const realdata = findRealdata()
if (realdata === undefined) {
  console.error('no real run list: set AUTOCAL_REALDATA_DIR (runs2022_oms_enriched.csv)')
  process.exit(2)
}
const [header = '', ...lines] = readFileSync(join(realdata, 'runs2022_oms_enriched.csv'), 'utf8').trim().split('\n')
const col = (name: string): number => header.split(',').indexOf(name)
const byEra = new Map<string, StandInRun[]>()
for (const line of lines) {
  const cells = line.split(',') // the columns read here come before the first quoted one
  if (cells[col('run_class')] !== 'collisions2022') continue
  const era = cells[col('era')] ?? ''
  byEra.set(era, [...byEra.get(era) ?? [], { run: Number(cells[col('run_number')]), era, durationS: Number(cells[col('duration_s')]) }])
}
const port = Number(process.argv[2] ?? 0)
const dbs = await startDbsStandIn({ port, datasets: [...byEra].map(([era, runs]) => ({ dataset: `/AlCaPhiSym/${era}-v1/RAW`, runs, open: false })) })
console.log(`AUTOCAL_DBS_URL=${dbs.url}`)
console.error(`DBS stand-in: ${[...byEra.values()].reduce((n, r) => n + r.length, 0)} runs in ${byEra.size} AlCaPhiSym RAW datasets; Ctrl-C stops it`)
process.once('SIGINT', () => { void dbs[Symbol.asyncDispose]().then(() => process.exit(0)) })
process.once('SIGTERM', () => { void dbs[Symbol.asyncDispose]().then(() => process.exit(0)) })
