// The local backend's processes. A job runs as
//   /bin/sh -c '"$@"; echo $? > "$AUTOCAL_EXIT_FILE"' autocal-job <argv...>
// in its own process group (detached), so that a timeout or a cancel kills
// the whole group, and so that an executor that restarted can learn how a job
// it did not start ended (the exit file), or that it is still running (the
// process group is alive). The shell script is a constant: the job's argv is
// passed as arguments, never pasted into a command string.
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { closeSync, createReadStream, existsSync, mkdirSync, openSync } from 'node:fs'
import { readFile, stat } from 'node:fs/promises'
import { once } from 'node:events'
import { constants } from 'node:os'
import { dirname, join } from 'node:path'
import { create } from '@bufbuild/protobuf'
import { OutputSchema, type Output } from '@autocal/contracts'
import { manifestName, parseManifest } from '../domain/manifest.ts'
import { decodeShellStatus, outcomeOf } from '../domain/outcome.ts'

const wrapper = '"$@"; echo $? > "$AUTOCAL_EXIT_FILE"'

export interface StartedProcess {
  pid: number
  /** Resolves when the wrapper exits (only for processes this executor started). */
  exited: Promise<void>
}

export interface ProcessSpec {
  argv: string[]
  cwd: string
  env: Record<string, string>
  logFile: string
  exitFile: string
}

// Directories already created by this process (the log and exit-file
// directories are shared by every job): one mkdir syscall less per job.
const madeDirs = new Set<string>()
function ensureDir (dir: string): void {
  if (madeDirs.has(dir)) return
  mkdirSync(dir, { recursive: true })
  madeDirs.add(dir)
}

export function startProcess (spec: ProcessSpec): StartedProcess {
  mkdirSync(spec.cwd, { recursive: true })
  // The job writes straight into its log file (opened for appending) rather
  // than through pipes to this process: no pipes to create and drain per job,
  // and the log keeps filling if the executor restarts while the job runs.
  const openLog = (): number => {
    ensureDir(dirname(spec.logFile))
    ensureDir(dirname(spec.exitFile))
    return openSync(spec.logFile, 'a')
  }
  let log: number
  try {
    log = openLog()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    madeDirs.clear() // a directory was removed since: create them again
    log = openLog()
  }
  let child
  try {
    child = spawn('/bin/sh', ['-c', wrapper, 'autocal-job', ...spec.argv], {
      cwd: spec.cwd,
      env: { ...spec.env, AUTOCAL_EXIT_FILE: spec.exitFile },
      detached: true,
      stdio: ['ignore', log, log]
    })
  } finally {
    closeSync(log) // the child has its own copy
  }
  if (child.pid === undefined) throw new Error(`cannot start ${spec.argv[0] ?? '(empty argv)'}`)
  const exited = once(child, 'close').then(() => {}, () => {})
  return { pid: child.pid, exited }
}

/** True while the process group led by pgid has a member. */
export function groupAlive (pgid: number): boolean {
  try {
    process.kill(-pgid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Sends a signal to a whole process group; false when it is already gone. */
export function signalGroup (pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal)
    return true
  } catch {
    return false
  }
}

/** SIGTERM to the group, SIGKILL after the grace period if anything is left. */
export async function killGroup (pgid: number, graceMs: number): Promise<void> {
  if (!signalGroup(pgid, 'SIGTERM')) return
  const deadline = Date.now() + graceMs
  while (groupAlive(pgid) && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 50))
  if (groupAlive(pgid)) signalGroup(pgid, 'SIGKILL')
  while (groupAlive(pgid) && Date.now() < deadline + 5000) await new Promise(resolve => setTimeout(resolve, 50))
}

/** The recorded exit status, or undefined while there is none. */
export async function readExitFile (exitFile: string): Promise<number | undefined> {
  if (!existsSync(exitFile)) return undefined
  const text = (await readFile(exitFile, 'utf8')).trim()
  return text === '' ? undefined : Number(text)
}

export const signalNumbers: Record<string, number> = constants.signals as unknown as Record<string, number>

export async function fileSummary (path: string): Promise<{ sizeBytes: bigint, sha256: string } | undefined> {
  let size: number
  try {
    const s = await stat(path)
    if (!s.isFile()) return undefined
    size = s.size
  } catch {
    return undefined
  }
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer)
  return { sizeBytes: BigInt(size), sha256: hash.digest('hex') }
}

export interface ProcessConclusion {
  phase: 'done' | 'failed'
  exitCode: number | undefined
  signal: string
  reason: string
  retryable: boolean
  outputs: Output[]
}

/**
 * How a job's process group ended, read from its exit file and its outputs
 * manifest; kills what is left of the group first.
 */
export async function concludeProcess (p: { pid: number, exitFile: string, outdir: string, killGraceMs: number, timedOut: boolean, timeoutS: number, cancelled: string | undefined }): Promise<ProcessConclusion> {
  if (groupAlive(p.pid)) await killGroup(p.pid, p.killGraceMs)
  const status = await readExitFile(p.exitFile)
  const decoded = status === undefined ? { exitCode: null, signal: 'SIGKILL' } : decodeShellStatus(status, signalNumbers)
  const { outputs, missing, problem } = await readOutputs(p.outdir)
  const outcome = outcomeOf({
    exitCode: decoded.exitCode,
    signal: decoded.signal,
    timedOut: p.timedOut,
    timeoutS: p.timeoutS,
    cancelled: p.cancelled !== undefined,
    cancelReason: p.cancelled ?? '',
    missingOutputs: missing,
    manifestProblem: problem
  })
  return {
    phase: outcome.phase,
    exitCode: decoded.exitCode ?? undefined,
    signal: decoded.signal,
    reason: outcome.reason,
    retryable: outcome.retryable,
    outputs: outcome.phase === 'done' ? outputs : []
  }
}

/** The outputs a job declared in its manifest, with size and sha256; declared paths that do not exist. */
export async function readOutputs (outdir: string): Promise<{ outputs: Output[], missing: string[], problem: string | undefined }> {
  const manifestPath = join(outdir, manifestName)
  const manifest = parseManifest(existsSync(manifestPath) ? await readFile(manifestPath, 'utf8') : undefined, outdir)
  const outputs: Output[] = []
  const missing: string[] = []
  if (!manifest.ok) return { outputs, missing, problem: manifest.reason }
  for (const d of manifest.outputs) {
    const summary = await fileSummary(d.path)
    if (summary === undefined) missing.push(d.path)
    else outputs.push(create(OutputSchema, { path: d.path, label: d.label, ...summary }))
  }
  return { outputs, missing, problem: undefined }
}
