// Resolves a payload file and the directories it must lie in (realpath:
// symlinks followed, `..` removed) and applies domain/output-confinement.ts.
import { realpathSync } from 'node:fs'
import { resolve } from 'node:path'
import { confine } from '../domain/output-confinement.ts'

export type PayloadPath =
  | { kind: 'inside', resolved: string }
  /** No file there (or its directory does not exist): the job wrote nothing. */
  | { kind: 'missing' }
  | { kind: 'outside', reason: string }

function real (path: string): string | undefined {
  try {
    return realpathSync(resolve(path))
  } catch {
    return undefined
  }
}

/**
 * Checks that `file` resolves inside `outputDir` (when non-empty) and inside
 * `root`. A directory that does not resolve confines nothing: the file is
 * outside (or missing, when the file itself does not exist).
 */
export function resolvePayloadPath (file: string, outputDir: string, root: string): PayloadPath {
  const resolved = real(file)
  if (resolved === undefined) return { kind: 'missing' }
  const rootReal = real(root)
  if (rootReal === undefined) return { kind: 'outside', reason: `payload file ${file} is outside the job's output directory: the output root ${root} (AUTOCAL_OUTPUT_ROOT) does not exist` }
  let dirReal: string | undefined
  if (outputDir !== '') {
    dirReal = real(outputDir)
    if (dirReal === undefined) return { kind: 'outside', reason: `payload file ${file} is outside the job's output directory: ${outputDir} does not exist` }
  }
  const c = confine({ file, resolved, outputDir: dirReal, root: rootReal })
  return c.kind === 'inside' ? { kind: 'inside', resolved } : c
}
