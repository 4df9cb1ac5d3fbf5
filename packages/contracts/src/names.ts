// One grammar for the names that become ids, Redis keys, Kafka keys and path
// components: era, campaign, workflow, task, subsystem, tag, record and block
// ids; and the range of a run number. Checked at every entry (run sources,
// injection, control API, workflow YAML, consumers), so that no name can leave
// a directory (`../..`), split an id (`/`) or carry control characters.
// Written by hand (src/gen is not); scripts/write-index.ts exports it.

/** A name: starts with a letter or digit, then letters, digits, `_`, `.`, `-`; at most 100 characters. No `/`, no `..`. */
const nameRe = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/
/** A subsystem: upper case, e.g. ECAL, PPS, HCAL, EGM_POG. */
const subsystemRe = /^[A-Z][A-Z0-9_]{0,31}$/
/** A CondDB tag or record: CMS tags use letters, digits, `_`, `-`, `.`; at most 200 characters. */
const tagRe = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$/
/** A block id: `<kind>-<name>` as the dispatcher's block grouping writes it (run-361000, fill-8102, era-Run2022C, lumi-Run2022C-0003). */
const blockIdRe = /^(run|fill|era|lumi)-[A-Za-z0-9][A-Za-z0-9_.-]{0,119}$/
// a job's numeric result (JobStatus.results): a Prometheus-friendly lower snake case name
const resultRe = /^[a-z][a-z0-9_]{0,63}$/

export const nameKinds = ['era', 'campaign', 'workflow', 'task', 'subsystem', 'tag', 'record', 'block', 'result'] as const
export type NameKind = typeof nameKinds[number]

const grammar: Record<NameKind, { re: RegExp, expected: string }> = {
  era: { re: nameRe, expected: 'letters, digits, _ . - (at most 100, starting with a letter or digit), e.g. Run2022C' },
  campaign: { re: nameRe, expected: 'letters, digits, _ . - (at most 100, starting with a letter or digit), e.g. prompt' },
  workflow: { re: nameRe, expected: 'letters, digits, _ . - (at most 100, starting with a letter or digit), e.g. timing' },
  task: { re: nameRe, expected: 'letters, digits, _ . - (at most 100, starting with a letter or digit), e.g. timing-calib' },
  subsystem: { re: subsystemRe, expected: 'upper-case letters, digits, _ (at most 32, starting with a letter), e.g. ECAL' },
  tag: { re: tagRe, expected: 'letters, digits, _ . - (at most 200, starting with a letter or digit), e.g. EcalPedestals_pcl' },
  record: { re: tagRe, expected: 'letters, digits, _ . - (at most 200, starting with a letter or digit), e.g. EcalPedestalsRcd' },
  block: { re: blockIdRe, expected: '<run|fill|era|lumi>-<name>, e.g. run-361000' },
  result: { re: resultRe, expected: 'lower-case letters, digits, _ (at most 64, starting with a letter), e.g. chi2_ndf' }
}

/** The largest run number + 1: runs are uint32 on every topic (1 ≤ run < 2^32). */
export const runLimit = 2 ** 32

/**
 * Checks a name of the given kind. Returns undefined when it is valid, else
 * the reason, naming the kind and the value (control characters escaped), e.g.
 * `era '../x' is not a valid name: expected letters, digits, _ . - …`.
 * Empty names are invalid: callers that allow an absent name check for '' first.
 */
export function nameProblem (kind: NameKind, value: string): string | undefined {
  const g = grammar[kind]
  if (g.re.test(value) && !value.includes('..')) return undefined
  return `${kind} ${JSON.stringify(value.length > 120 ? `${value.slice(0, 120)}…` : value)} is not a valid name: expected ${g.expected}`
}

/** True when `value` follows the grammar of `kind`. */
export function isValidName (kind: NameKind, value: string): boolean {
  return nameProblem(kind, value) === undefined
}

/** Checks a run number: an integer with 1 ≤ run < 2^32. Returns the reason, or undefined when valid. */
export function runProblem (run: number | bigint): string | undefined {
  const n = typeof run === 'bigint' ? run : Number.isInteger(run) ? BigInt(run) : undefined
  if (n !== undefined && n >= 1n && n < BigInt(runLimit)) return undefined
  return `run ${String(run)} is out of range: expected an integer with 1 ≤ run < 2^32`
}
