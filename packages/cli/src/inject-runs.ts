// `autocal inject` (also `autocal runs inject`): runs into a reprocessing
// campaign, given one by one (--runs), as a range (--range), by acquisition
// era (--era, the dispatcher's known runs of the era) or from a run-list file
// (--runs-file: one run or range per line, `#` comments).
import { closeSync, constants, fstatSync, openSync, readFileSync, type Stats } from 'node:fs'
import { nameProblem, runProblem } from '@autocal/contracts'

/** A bad run-list file or option: the message names the file and line, or the option. */
export class InjectUsageError extends Error {}

/** What a run-list file names: single runs and ranges (first ≤ last, both included). */
export interface RunList { runs: number[], ranges: Array<{ firstRun: number, lastRun: number }> }

/**
 * Reads a run-list file's text: one run (`355100`) or range (`355100-355120`,
 * spaces around `-` allowed) per line; `#` starts a comment (whole line or
 * after the entry); blank lines are skipped. Runs are 1 ≤ run < 2^32.
 * Throws InjectUsageError naming `<file>:<line>` and the bad text for any
 * other line, a range whose first run is after its last, and a file that
 * names no run at all.
 */
export function parseRunList (text: string, file: string): RunList {
  const out: RunList = { runs: [], ranges: [] }
  const lines = text.split(/\r?\n/)
  const bad = (i: number, why: string): InjectUsageError => new InjectUsageError(`${file}:${i + 1}: ${why}`)
  const run = (i: number, digits: string): number => {
    const problem = runProblem(BigInt(digits))
    if (problem !== undefined) throw bad(i, problem)
    return Number(digits)
  }
  lines.forEach((raw, i) => {
    const line = (raw.split('#')[0] ?? '').trim()
    if (line === '') return
    const m = /^(\d+)(?:\s*-\s*(\d+))?$/.exec(line)
    if (m === null) throw bad(i, `expected a run number or a range FIRST-LAST, got ${JSON.stringify(line.length > 60 ? `${line.slice(0, 60)}…` : line)}`)
    const first = run(i, m[1] ?? '')
    if (m[2] === undefined) { out.runs.push(first); return }
    const last = run(i, m[2])
    if (first > last) throw bad(i, `range ${first}-${last}: the first run is after the last`)
    out.ranges.push({ firstRun: first, lastRun: last })
  })
  if (out.runs.length === 0 && out.ranges.length === 0) throw new InjectUsageError(`${file}: no run in the file (one run or FIRST-LAST range per line, # for comments)`)
  return out
}

/** The largest run-list file read, in bytes (1 MiB: some 100,000 lines of runs or ranges). */
export const maxRunListBytes = 1024 * 1024

/** What a file that is not a regular file is, for the message. */
function kindOf (st: Stats): string {
  if (st.isDirectory()) return 'a directory'
  if (st.isCharacterDevice()) return 'a character device'
  if (st.isBlockDevice()) return 'a block device'
  if (st.isFIFO()) return 'a FIFO'
  if (st.isSocket()) return 'a socket'
  return 'not a file'
}

/**
 * Reads and parses a run-list file. The path must name a regular file of at most
 * {@link maxRunListBytes} bytes (opened without blocking and checked before reading, so
 * /dev/zero, a pipe or a huge file stop the command at once instead of filling memory or
 * hanging). Throws InjectUsageError naming the file: unreadable (with its errno code), not a
 * regular file (what it is), too large (its size), or a bad line (see parseRunList).
 */
export function readRunList (file: string): RunList {
  let text: string
  let fd: number | undefined
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK)
    const st = fstatSync(fd)
    if (!st.isFile()) throw new InjectUsageError(`--runs-file ${file}: not a regular file (${kindOf(st)})`)
    if (st.size > maxRunListBytes) throw new InjectUsageError(`--runs-file ${file}: ${st.size} bytes, more than the ${maxRunListBytes} bytes a run list may have`)
    text = readFileSync(fd, 'utf8')
  } catch (err) {
    if (err instanceof InjectUsageError) throw err
    throw new InjectUsageError(`--runs-file ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`)
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
  return parseRunList(text, file)
}

/**
 * The InjectRuns of the options: --runs and --range as before, the eras of
 * --era (comma-separated, each checked against the name grammar), and the
 * runs and ranges of --runs-file. Throws InjectUsageError when nothing is given.
 */
export function injectRunsOf (o: { runs: number[], range: [number, number], era?: string | undefined, runsFile?: string | undefined }): { runs: number[], firstRun: number, lastRun: number, ranges: RunList['ranges'], eras: string[] } {
  const eras = o.era === undefined ? [] : o.era.split(',').map(e => e.trim()).filter(e => e !== '')
  for (const era of eras) {
    const problem = nameProblem('era', era)
    if (problem !== undefined) throw new InjectUsageError(`--era: ${problem}`)
  }
  const list = o.runsFile === undefined ? { runs: [], ranges: [] } : readRunList(o.runsFile)
  const [firstRun, lastRun] = o.range
  const out = { runs: [...o.runs, ...list.runs], firstRun, lastRun, ranges: list.ranges, eras }
  if (out.runs.length === 0 && firstRun === 0 && out.ranges.length === 0 && eras.length === 0) throw new InjectUsageError('inject needs --runs, --range, --era or --runs-file')
  return out
}
