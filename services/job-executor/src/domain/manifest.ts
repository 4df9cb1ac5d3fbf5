// The outputs manifest a job writes into its output directory:
//   outputs.json = {"outputs": [{"path": "timing.db", "label": "condition"}, ...]}
// Paths are relative to the output directory, or absolute inside it: a path
// that leaves the directory (absolute elsewhere, or through `..`) makes the
// manifest unusable, so that a job can only report its own files. Symbolic
// links are resolved by the adapter, which checks the real path again. Pure:
// text in, declared outputs (or the reason the manifest is unusable) out.
import { isAbsolute, join, normalize, relative, sep } from 'node:path'

export interface DeclaredOutput {
  /** Absolute path, inside the output directory. */
  path: string
  label: string
}

export type ManifestResult = { ok: true, outputs: DeclaredOutput[] } | { ok: false, reason: string }

export const manifestName = 'outputs.json'

/** The largest manifest read (bytes); a bigger one is refused. */
export const manifestMaxBytes = 1024 * 1024

/** True when `path` (absolute, normalised) is `dir` itself or below it. */
export function isInside (dir: string, path: string): boolean {
  const rel = relative(dir, path)
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel))
}

export function parseManifest (text: string | undefined, outdir: string): ManifestResult {
  if (text === undefined) return { ok: true, outputs: [] } // no manifest: no outputs
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    // the parser's message quotes the text: not echoed
    return { ok: false, reason: `${manifestName} is not valid JSON` }
  }
  const list = (json as { outputs?: unknown } | null)?.outputs
  if (!Array.isArray(list)) return { ok: false, reason: `${manifestName}: expected {"outputs": [...]}` }
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
  return { ok: true, outputs }
}
