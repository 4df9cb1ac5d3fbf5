// The outputs manifest a job writes into its output directory:
//   outputs.json = {"outputs": [{"path": "timing.db", "label": "condition"}, ...]}
// Paths are relative to the output directory or absolute. Pure: text in,
// declared outputs (or the reason the manifest is unusable) out.
import { isAbsolute, join, normalize } from 'node:path'

export interface DeclaredOutput {
  /** Absolute path. */
  path: string
  label: string
}

export type ManifestResult = { ok: true, outputs: DeclaredOutput[] } | { ok: false, reason: string }

export const manifestName = 'outputs.json'

export function parseManifest (text: string | undefined, outdir: string): ManifestResult {
  if (text === undefined) return { ok: true, outputs: [] } // no manifest: no outputs
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (err) {
    return { ok: false, reason: `${manifestName} is not JSON: ${(err as Error).message}` }
  }
  const list = (json as { outputs?: unknown }).outputs
  if (!Array.isArray(list)) return { ok: false, reason: `${manifestName}: expected {"outputs": [...]}` }
  const outputs: DeclaredOutput[] = []
  for (const [i, item] of list.entries()) {
    const path = typeof item === 'string' ? item : (item as { path?: unknown })?.path
    if (typeof path !== 'string' || path === '') return { ok: false, reason: `${manifestName}: outputs[${i}].path must be a non-empty string` }
    const label = typeof item === 'object' && item !== null && typeof (item as { label?: unknown }).label === 'string' ? (item as { label: string }).label : ''
    outputs.push({ path: normalize(isAbsolute(path) ? path : join(outdir, path)), label })
  }
  return { ok: true, outputs }
}
