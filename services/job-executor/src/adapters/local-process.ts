// The local backend's processes. A job runs as
//   /bin/sh -c 'echo $$ > "$AUTOCAL_PID_FILE"; "$@"; echo $? > "$AUTOCAL_EXIT_FILE"' autocal-job <argv...>
// in its own process group (detached), so that a timeout or a cancel kills
// the whole group, and so that an executor that restarted can learn how a job
// it did not start ended (the exit file), or that it is still running (the
// process group is alive). The shell script is a constant: the job's argv is
// passed as arguments, never pasted into a command string. With a job user
// (the executor runs as root), the whole group runs as that user: its output
// directory and its exit file are the only things made writable for it.
import { setTimeout as delay } from 'node:timers/promises'
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { chownSync, closeSync, constants as fsConstants, createReadStream, existsSync, mkdirSync, openSync } from 'node:fs'
import { lstat, open, readFile, realpath, stat } from 'node:fs/promises'
import { once } from 'node:events'
import { constants } from 'node:os'
import { basename, dirname, join } from 'node:path'
import type { JobUser } from './job-user.ts'
import { create } from '@bufbuild/protobuf'
import { OutputSchema, type Output } from '@autocal/contracts'
import { isInside, manifestMaxBytes, manifestName, parseManifest } from '../domain/manifest.ts'
import { decodeShellStatus, outcomeOf } from '../domain/outcome.ts'

// the pid file (the group's id, first thing) tells an executor that took over
// a job recorded as 'starting' whether it was started before its executor died
const wrapper = 'echo $$ > "$AUTOCAL_PID_FILE"; "$@"; echo $? > "$AUTOCAL_EXIT_FILE"'

/** The pid file that goes with an exit file (`….exit` → `….pid`). */
export const pidFileOf = (exitFile: string): string => exitFile.replace(/(\.exit)?$/, '.pid')

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
  /** Run as this user (the executor is root); undefined = as the executor's own user. */
  user?: JobUser | undefined
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
  if (spec.user !== undefined) chownSync(spec.cwd, spec.user.uid, spec.user.gid) // its one writable directory
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
  const pidFile = pidFileOf(spec.exitFile)
  closeSync(openSync(pidFile, 'w')) // emptied: a pid in it is this start's
  if (spec.user !== undefined) {
    // the wrapper (running as the job user) writes the pid and exit status into these files only
    closeSync(openSync(spec.exitFile, 'w'))
    chownSync(spec.exitFile, spec.user.uid, spec.user.gid)
    chownSync(pidFile, spec.user.uid, spec.user.gid)
  }
  let child
  try {
    child = spawn('/bin/sh', ['-c', wrapper, 'autocal-job', ...spec.argv], {
      cwd: spec.cwd,
      env: { ...spec.env, AUTOCAL_EXIT_FILE: spec.exitFile, AUTOCAL_PID_FILE: pidFile },
      detached: true,
      stdio: ['ignore', log, log],
      ...(spec.user === undefined ? {} : { uid: spec.user.uid, gid: spec.user.gid })
    })
  } finally {
    closeSync(log) // the child has its own copy
  }
  if (child.pid === undefined) throw new Error(`cannot start ${spec.argv[0] ?? '(empty argv)'}`)
  const exited = once(child, 'close').then(() => {}, () => {})
  return { pid: child.pid, exited }
}

/**
 * Checks that `dir` really lies inside `root` (symbolic links resolved, as far
 * as the path exists): a job's output directory may not lead out of the jobs
 * directory through a link. Throws naming both.
 */
export async function confineDirectory (root: string, dir: string): Promise<void> {
  const realRoot = await realpath(root)
  let existing = dir
  let rest = ''
  for (;;) {
    try {
      const real = await realpath(existing)
      if (!isInside(realRoot, join(real, rest))) throw new Error(`output directory ${dir} resolves to ${join(real, rest)}, outside ${realRoot}`)
      return
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || dirname(existing) === existing) throw err
      rest = join(basename(existing), rest)
      existing = dirname(existing)
    }
  }
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
  while (groupAlive(pgid) && Date.now() < deadline) await delay(50)
  if (groupAlive(pgid)) signalGroup(pgid, 'SIGKILL')
  while (groupAlive(pgid) && Date.now() < deadline + 5000) await delay(50)
}

/** The process group id the wrapper recorded for the exit file's job, or undefined when it never started. */
export async function readPidFile (exitFile: string): Promise<number | undefined> {
  const text = await readFile(pidFileOf(exitFile), 'utf8').catch(() => '')
  const pid = Number(text.trim())
  return text.trim() !== '' && Number.isInteger(pid) && pid > 1 ? pid : undefined
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
  /** The numeric results of the manifest (done jobs only). */
  results: Record<string, number>
}

/**
 * How a job's process group ended, read from its exit file and its outputs
 * manifest; kills what is left of the group first.
 */
export async function concludeProcess (p: { pid: number, exitFile: string, outdir: string, killGraceMs: number, timedOut: boolean, timeoutS: number, cancelled: string | undefined }): Promise<ProcessConclusion> {
  if (groupAlive(p.pid)) await killGroup(p.pid, p.killGraceMs)
  const status = await readExitFile(p.exitFile)
  const decoded = status === undefined ? { exitCode: null, signal: 'SIGKILL' } : decodeShellStatus(status, signalNumbers)
  const { outputs, missing, problem, results } = await readOutputs(p.outdir)
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
    outputs: outcome.phase === 'done' ? outputs : [],
    results: outcome.phase === 'done' ? results : {}
  }
}

/**
 * The manifest's text, or undefined when there is none. It must be a regular
 * file in the output directory itself (opened without following a symbolic
 * link: a link to /etc/shadow is refused, its content never read) and at most
 * manifestMaxBytes long.
 */
async function readManifest (path: string): Promise<{ text: string | undefined } | { problem: string }> {
  let handle
  try {
    handle = await open(path, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return { text: undefined }
    if (code === 'ELOOP') return { problem: `${manifestName} is a symbolic link; it must be a file in the output directory` }
    return { problem: `${manifestName} cannot be read (${code ?? 'error'})` }
  }
  try {
    const s = await handle.stat()
    if (!s.isFile()) return { problem: `${manifestName} is not a regular file` }
    if (s.size > manifestMaxBytes) return { problem: `${manifestName} is larger than ${manifestMaxBytes} bytes` }
    return { text: await handle.readFile('utf8') }
  } finally {
    await handle.close()
  }
}

/**
 * The outputs a job declared in its manifest, with size and sha256; declared
 * paths that do not exist. Every output must resolve (symbolic links
 * followed, by realpath) inside the real output directory, else the manifest
 * is unusable (`problem`): a job reports only its own files.
 */
export async function readOutputs (outdir: string): Promise<{ outputs: Output[], missing: string[], problem: string | undefined, results: Record<string, number> }> {
  const outputs: Output[] = []
  const missing: string[] = []
  const read = await readManifest(join(outdir, manifestName))
  if ('problem' in read) return { outputs, missing, problem: read.problem, results: {} }
  const manifest = parseManifest(read.text, outdir)
  if (!manifest.ok) return { outputs, missing, problem: manifest.reason, results: {} }
  const results = manifest.results
  if (manifest.outputs.length === 0) return { outputs, missing, problem: undefined, results }
  const realOutdir = await realpath(outdir)
  for (const d of manifest.outputs) {
    let real: string
    try {
      real = await realpath(d.path)
    } catch {
      // a dangling link is as missing as no file; a link out of the directory is refused below even then
      const link = await lstat(d.path).catch(() => undefined)
      if (link?.isSymbolicLink() === true) return { outputs: [], missing: [], problem: `${manifestName}: output ${d.path} is a symbolic link that does not resolve inside the job's output directory`, results: {} }
      missing.push(d.path)
      continue
    }
    if (!isInside(realOutdir, real)) {
      return { outputs: [], missing: [], problem: `${manifestName}: output ${d.path} resolves to ${real}, outside the job's output directory ${realOutdir}`, results: {} }
    }
    const summary = await fileSummary(real)
    if (summary === undefined) missing.push(d.path)
    else outputs.push(create(OutputSchema, { path: real, label: d.label, ...summary }))
  }
  return { outputs, missing, problem: undefined, results }
}
