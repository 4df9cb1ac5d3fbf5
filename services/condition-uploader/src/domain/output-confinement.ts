// Where a payload file may be: inside the job's output directory, itself
// inside the configured output root (issue 12: a job must not be able to
// upload another job's or another subsystem's file as its own). Paths here
// are already resolved (realpath, symlinks followed) by the caller.
import { isAbsolute, relative } from 'node:path'

/** True when `path` is `dir` itself or below it; both absolute and resolved. */
export function isWithin (path: string, dir: string): boolean {
  const rel = relative(dir, path)
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel))
}

export type Confinement =
  | { kind: 'inside' }
  | { kind: 'outside', reason: string }

/**
 * Decides whether a resolved payload file lies inside the resolved job
 * output directory (when the request names one) and inside the resolved
 * output root. The reason names the file, what it resolved to and the
 * directory it escaped.
 */
export function confine (input: { file: string, resolved: string, outputDir: string | undefined, root: string }): Confinement {
  const { file, resolved, outputDir, root } = input
  const via = resolved === file ? '' : ` (resolves to ${resolved})`
  if (outputDir !== undefined && !isWithin(resolved, outputDir)) {
    return { kind: 'outside', reason: `payload file ${file}${via} is outside the job's output directory ${outputDir}` }
  }
  if (!isWithin(resolved, root)) {
    return { kind: 'outside', reason: `payload file ${file}${via} is outside the job's output directory: not under the output root ${root} (AUTOCAL_OUTPUT_ROOT)` }
  }
  return { kind: 'inside' }
}
