// Which IOV of a tag is valid at a run: the reference-IOV lookup of
// initial conditions. An IOV lasts from its since until the next since of
// the tag; of several rows with one since the latest insertion wins
// (CondDB supersede). Pure.
import { runProblem } from '@autocal/contracts'
import { lumiSince, type IovRow } from './conddb-format.ts'
import { latestPerSince } from './payload-validation.ts'

export type IovAtRun =
  | { kind: 'found', iov: IovRow, key: bigint }
  | { kind: 'none', reason: string }
  | { kind: 'bad-request', reason: string }

/**
 * Parses the `at` of `GET /api/v1/tags/:tag/iovs?at=<run>`: a decimal run
 * number with 1 ≤ run < 2^32; the reason names the value when it is not one.
 */
export function parseRun (text: string): { kind: 'run', run: bigint } | { kind: 'bad', reason: string } {
  if (!/^\d{1,10}$/.test(text)) return { kind: 'bad', reason: `at='${text.slice(0, 40)}' is not a run number (decimal digits, 1 ≤ run < 2^32)` }
  const run = BigInt(text)
  const problem = runProblem(run)
  return problem === undefined ? { kind: 'run', run } : { kind: 'bad', reason: `at=${text}: ${problem}` }
}

/**
 * The IOV valid at `run`: the last IOV (superseded rows dropped) whose since
 * is at or below the run in the tag's encoding (Run: the run; Lumi: the
 * run's first lumisection, `(run << 32) | 1`). Time, Hash and User tags are
 * not indexed by run: bad-request. No IOV at or below: none.
 */
export function iovAtRun (tag: string, timeType: string, iovs: readonly IovRow[], run: bigint): IovAtRun {
  let key: bigint
  if (timeType === 'Run') key = run
  else if (timeType === 'Lumi') key = lumiSince(run, 1)
  else return { kind: 'bad-request', reason: `tag '${tag}' has time type ${timeType}: its IOVs are not indexed by run` }
  let found: IovRow | undefined
  for (const iov of latestPerSince(iovs)) {
    if (iov.since <= key) found = iov
    else break
  }
  if (found === undefined) return { kind: 'none', reason: `tag '${tag}' has no IOV valid at run ${run} (its first since is after it, or it has none)` }
  return { kind: 'found', iov: found, key }
}
