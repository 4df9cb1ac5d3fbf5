// Data-aware tasks (issue 15): a task that declares an input dataset
// (`input: { dataset: /AlCaPhiSym/Run2022C-v1/RAW }`) gets the dataset's files
// for its block's runs from the DBS read API, and its jobs are its slices of
// them (`jobs: { perFiles: 10 }`, `jobs: { perLumis: 200 }`, or `jobs: N`
// shares). Pure: what DBS listed comes in, the decision goes out: wait on a
// gate, skip the task with the reason, fail it, or dispatch one job per slice.
//
// Dataset names follow DBS's grammar /<primary>/<processed>/<TIER> (the DBS
// server's validation of `dataset`: primary a letter then letters, digits, _
// and -, at most 100; processed letters, digits, _ . -, at most 199; tier upper
// case letters and -, at most 50), without DBS's wildcards: a task reads one
// dataset. `{era}` is the only placeholder (the block's era, e.g. Run2022C).
import { retryDecision, type RetryPolicy } from './retry-policy.ts'

/** How a data-aware task's files are cut into jobs: N files each, about N lumisections each, or N equal shares. */
export type FanOut = { per: 'files', n: number } | { per: 'lumis', n: number } | { per: 'jobs', n: number }

/** Placeholders a dataset template may use. */
export const datasetPlaceholders = ['era'] as const

const datasetRe = /^\/([A-Za-z][A-Za-z0-9_-]{0,99})\/([A-Za-z0-9_.-]{1,199})\/([A-Z-]{1,50})$/

/** What is wrong with a dataset name (`/primary/processed/TIER`), or undefined when it follows DBS's grammar. */
export function datasetProblem (name: string): string | undefined {
  if (datasetRe.test(name)) return undefined
  const parts = name.split('/')
  const shape = 'expected /<primary>/<processed>/<TIER> such as /AlCaPhiSym/Run2022C-v1/RAW'
  if (!name.startsWith('/') || parts.length !== 4) return `dataset ${JSON.stringify(name)} is not a dataset name: ${shape}`
  const [, primary = '', processed = '', tier = ''] = parts
  if (!/^[A-Za-z][A-Za-z0-9_-]{0,99}$/.test(primary)) return `dataset ${JSON.stringify(name)}: primary dataset ${JSON.stringify(primary)} must start with a letter and have only letters, digits, _ and - (at most 100)`
  if (!/^[A-Za-z0-9_.-]{1,199}$/.test(processed)) return `dataset ${JSON.stringify(name)}: processed dataset ${JSON.stringify(processed)} may have only letters, digits, _ . and - (1 to 199)`
  return `dataset ${JSON.stringify(name)}: data tier ${JSON.stringify(tier)} must be upper case letters and - (e.g. RAW, ALCARECO, GEN-SIM)`
}

/**
 * Problems of a dataset template as a workflow writes it: an unknown placeholder, or a name that does not follow
 * the grammar once `{era}` is filled with a valid era (Run2022C). Empty = valid.
 */
export function datasetTemplateProblems (template: string): string[] {
  const out: string[] = []
  for (const m of template.matchAll(/\{([^{}]*)\}/g)) {
    const p = m[1] as string
    if (!(datasetPlaceholders as readonly string[]).includes(p)) out.push(`unknown placeholder {${p}} in the dataset; only ${datasetPlaceholders.map(x => `{${x}}`).join(' ')} is allowed`)
  }
  if (out.length > 0) return out
  const problem = datasetProblem(expandDataset(template, { era: 'Run2022C' }))
  return problem === undefined ? [] : [problem]
}

/** The dataset of a block: `{era}` replaced by the block's era. */
export function expandDataset (template: string, block: { era: string }): string {
  return template.replace(/\{era\}/g, block.era)
}

/** One file of the dataset as DBS lists it for the block's runs: its logical file name and lumisections there. */
export interface DatasetFile {
  lfn: string
  /** Lumisections of the block's runs in this file (DBS filelumis `lumi_section_num`). */
  lumis: number
  /** The run and lumisection of the first of them (0 when DBS lists none): files are sliced in data-taking order. */
  firstRun: number
  firstLumi: number
}

/**
 * The files cut into the jobs' slices, in data-taking order (first lumisection, then name):
 * `files`: N files per job (the last may have fewer); `lumis`: files added to a job while its lumisections stay
 * at most N (a file is never split, so a job has at least one file, even when that file alone has more);
 * `jobs`: N contiguous shares as equal as they come (fewer jobs when there are fewer files). No files, no slices.
 */
export function sliceFiles (files: readonly DatasetFile[], fanOut: FanOut): string[][] {
  const ordered = [...files].sort((a, b) => a.firstRun - b.firstRun || a.firstLumi - b.firstLumi || (a.lfn < b.lfn ? -1 : a.lfn > b.lfn ? 1 : 0))
  const slices: string[][] = []
  switch (fanOut.per) {
    case 'files':
      for (let i = 0; i < ordered.length; i += fanOut.n) slices.push(ordered.slice(i, i + fanOut.n).map(f => f.lfn))
      return slices
    case 'lumis': {
      let cur: string[] = []
      let lumis = 0
      for (const f of ordered) {
        if (cur.length > 0 && lumis + f.lumis > fanOut.n) {
          slices.push(cur)
          cur = []
          lumis = 0
        }
        cur.push(f.lfn)
        lumis += f.lumis
      }
      if (cur.length > 0) slices.push(cur)
      return slices
    }
    case 'jobs': {
      const jobs = Math.min(fanOut.n, ordered.length)
      for (let j = 0; j < jobs; j++) {
        slices.push(ordered.slice(Math.floor(j * ordered.length / jobs), Math.floor((j + 1) * ordered.length / jobs)).map(f => f.lfn))
      }
      return slices
    }
  }
}

/** What DBS says of the dataset for the block's runs (adapters/dbs.ts). */
export interface DatasetState {
  /** The dataset's `dataset_access_type` (VALID, PRODUCTION, INVALID, DELETED, …); undefined = DBS does not know it. */
  accessType?: string
  /** Blocks of the dataset with files of the runs: name and whether still `open_for_writing`. */
  blocks: ReadonlyArray<{ name: string, open: boolean }>
}

/** Access types of a dataset whose files are not to be read (DBS's dataset_access_type). */
export const unusableAccessTypes: ReadonlySet<string> = new Set(['INVALID', 'DELETED', 'DEPRECATED'])

/** The gate of a task waiting for Tier-0 to close its dataset: `datasetLocked:<dataset>`. */
export const lockGate = (dataset: string): string => `datasetLocked:${dataset}`
/** The gate of a task whose file list could not be read from DBS: `dbs:<dataset>`. */
export const dbsGate = (dataset: string): string => `dbs:${dataset}`

const runsText = (runs: readonly number[]): string => runs.length === 1 ? `run ${runs[0] as number}` : `runs ${runs[0] as number}–${runs[runs.length - 1] as number}`

/**
 * Whether the `datasetLocked` gate is open: DBS knows the dataset and lists at least one block with files of the
 * runs, and none of those blocks is `open_for_writing` (Tier-0 closes a block when it has written it; an open
 * block can still gain files). Returns the pending gate, or undefined when open.
 */
export function lockPending (dataset: string, state: DatasetState): string | undefined {
  if (state.accessType === undefined || state.blocks.length === 0 || state.blocks.some(b => b.open)) return lockGate(dataset)
  return undefined
}

export type InputDecision =
  | { kind: 'dispatch', jobFiles: string[][] }
  | { kind: 'skip', reason: string }

/**
 * What a data-aware task does once its gates are open and its files are listed: skipped with the reason when
 * the dataset is not usable or has no file of the block's runs ("no files of /A/B/RAW for run 355872"), else
 * one job per slice ({@link sliceFiles}).
 */
export function inputDecision (dataset: string, runs: readonly number[], state: Pick<DatasetState, 'accessType'>, files: readonly DatasetFile[], fanOut: FanOut): InputDecision {
  if (state.accessType !== undefined && unusableAccessTypes.has(state.accessType)) return { kind: 'skip', reason: `dataset ${dataset} is ${state.accessType} in DBS` }
  if (files.length === 0) return { kind: 'skip', reason: `no files of ${dataset} for ${runsText(runs)}` }
  return { kind: 'dispatch', jobFiles: sliceFiles(files, fanOut) }
}

export type DbsFailureDecision =
  | { kind: 'retry', atMs: number, why: string }
  | { kind: 'fail', reason: string }

/**
 * A failed read of DBS is an infrastructure failure (retry-policy.ts): retried after the task's backoff,
 * doubling, up to `policy.infrastructure` times (`failures` = earlier failed reads of this attempt), then the task
 * fails with the reason. The reason names the dataset and DBS's error either way.
 */
export function dbsFailureDecision (policy: Pick<RetryPolicy, 'infrastructure'>, failures: number, backoffS: number, nowMs: number, dataset: string, error: string): DbsFailureDecision {
  const d = retryDecision({ retries: 0, neverExitCodes: [], neverSignals: [], infrastructure: policy.infrastructure }, 'infrastructure', 0, failures)
  const what = `file list of ${dataset} not read from DBS: ${error}`
  if (!d.retry) return { kind: 'fail', reason: `${what}; ${d.why}` }
  const delayS = backoffS * 2 ** (d.nth - 1)
  return { kind: 'retry', atMs: nowMs + delayS * 1000, why: `${what}; infrastructure failure ${d.nth} of ${policy.infrastructure}, retry in ${Math.round(delayS)} s` }
}
