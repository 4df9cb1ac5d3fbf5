// The outputs manifest a job writes into its output directory:
//   outputs.json = {"outputs": [{"path": "timing.db", "label": "condition"}, ...],
//                   "results": {"chi2_ndf": 1.07, "hits": 40210}}
// `results` (optional) are the job's numeric results (a fit's χ², number of
// hits, a summary of the constants): names of the `result` grammar of
// @autocal/contracts, finite numbers, at most maxJobResults.
// Paths are relative to the output directory, or absolute inside it: a path
// that leaves the directory (absolute elsewhere, or through `..`) makes the
// manifest unusable, so that a job can only report its own files. Symbolic
// links are resolved by the adapter, which checks the real path again. Pure:
// text in, declared outputs (or the reason the manifest is unusable) out.
import { isAbsolute, join, normalize, relative, sep } from 'node:path'
import { resultsProblem } from '@autocal/contracts'

export interface DeclaredOutput {
  /** Absolute path, inside the output directory. */
  path: string
  label: string
}

export type ManifestResult = { ok: true, outputs: DeclaredOutput[], results: Record<string, number> } | { ok: false, reason: string }

export const manifestName = 'outputs.json'

/** The largest manifest read (bytes); a bigger one is refused. */
export const manifestMaxBytes = 1024 * 1024

/** True when `path` (absolute, normalised) is `dir` itself or below it. */
export function isInside (dir: string, path: string): boolean {
  const rel = relative(dir, path)
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel))
}

export function parseManifest (text: string | undefined, outdir: string): ManifestResult {
  if (text === undefined) return { ok: true, outputs: [], results: {} } // no manifest: no outputs
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    // the parser's message quotes the text: not echoed
    return { ok: false, reason: `${manifestName} is not valid JSON` }
  }
  const list = (json as { outputs?: unknown } | null)?.outputs
  if (!Array.isArray(list)) return { ok: false, reason: `${manifestName}: expected {"outputs": [...]}` }
  const raw = (json as { results?: unknown }).results ?? {}
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { ok: false, reason: `${manifestName}: results must be an object of name → number` }
  const results = Object.fromEntries(Object.entries(raw)) as Record<string, number>
  const problem = resultsProblem(results)
  if (problem !== undefined) return { ok: false, reason: `${manifestName}: ${problem}` }
  const outputs: DeclaredOutput[] = []
  const dir = normalize(outdir)
  for (const [i, item] of list.entries()) {
    const path = typeof item === 'string' ? item : (item as { path?: unknown } | null)?.path
    if (typeof path !== 'string' || path === '') return { ok: false, reason: `${manifestName}: outputs[${i}].path must be a non-empty string` }
    if (path.includes('\0')) return { ok: false, reason: `${manifestName}: outputs[${i}].path contains a NUL character` }
    const label = typeof item === 'object' && item !== null && typeof (item as { label?: unknown }).label === 'string' ? (item as { label: string }).label : ''
    const full = normalize(isAbsolute(path) ? path : join(dir, path))
    if (!isInside(dir, full) || full === dir) {
      return { ok: false, reason: `${manifestName}: outputs[${i}].path ${JSON.stringify(path.slice(0, 200))} is outside the job's output directory ${dir}` }
    }
    outputs.push({ path: full, label })
  }
  return { ok: true, outputs, results }
}
