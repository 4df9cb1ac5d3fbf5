// The htcondor backend: condor_submit, condor_q / condor_history -json, condor_rm,
// always as argv (execFile), never a shell. The tools are found on PATH or in
// AUTOCAL_CONDOR_BIN_DIR (the tests point it at stand-ins).
import { execFile } from 'node:child_process'
import { accessSync, constants as fsConstants, mkdirSync, writeFileSync } from 'node:fs'
import { delimiter, isAbsolute, join } from 'node:path'
import { constants } from 'node:os'
import { condorState, type BatchState, type CondorAd } from '../domain/batch-state.ts'
import { condorConstraint, parseTerseSubmit, submitDescription, type CondorJobSpec } from '../domain/condor-submit.ts'

const attributes = 'ClusterId,ProcId,JobStatus,ExitCode,ExitBySignal,ExitSignal,HoldReason,HoldReasonCode,RemoveReason'

const signalName = (n: number): string => Object.entries(constants.signals).find(([, v]) => v === n)?.[0] ?? `signal ${n}`

/** HTCondor wants the executable as a path: argv[0] looked up on PATH like a shell would. */
export function resolveExecutable (name: string, path = process.env.PATH ?? ''): string {
  if (isAbsolute(name) || name.includes('/')) return name
  for (const dir of path.split(delimiter)) {
    const candidate = join(dir, name)
    try {
      accessSync(candidate, fsConstants.X_OK)
      return candidate
    } catch {}
  }
  return name
}

export function createCondorBackend (o: { binDir?: string | undefined, env?: Record<string, string> }) {
  const tool = (name: string): string => o.binDir === undefined ? name : join(o.binDir, name)
  const run = async (name: string, args: string[]): Promise<string> => await new Promise((resolve, reject) => {
    execFile(tool(name), args, { env: { ...process.env, ...o.env }, timeout: 60_000 }, (err, stdout, stderr) => {
      if (err !== null) reject(new Error(`${name} ${args.join(' ')} failed: ${stderr.trim() || err.message}`))
      else resolve(stdout)
    })
  })
  const query = async (name: string, args: string[]): Promise<CondorAd | undefined> => {
    const out = (await run(name, args)).trim()
    if (out === '') return undefined // not (or no longer) there
    const ads = JSON.parse(out) as CondorAd[]
    return ads[0]
  }
  return {
    /** Writes the submit description into the output directory and submits it: the HTCondor job id. */
    submit: async (spec: Omit<CondorJobSpec, 'eventLog'>): Promise<string> => {
      mkdirSync(spec.outdir, { recursive: true })
      const file = join(spec.outdir, 'autocal.sub')
      // a container job's executable is a path inside its image, not one of this host
      const argv = spec.image === undefined || spec.image === '' ? [resolveExecutable(spec.argv[0] ?? ''), ...spec.argv.slice(1)] : spec.argv
      writeFileSync(file, submitDescription({ ...spec, argv, eventLog: join(spec.outdir, 'autocal.events.log') }))
      const id = parseTerseSubmit(await run('condor_submit', ['-terse', file]))
      if (id === undefined) throw new Error(`condor_submit ${file}: no job id in its output`)
      return id
    },
    /** The job's state from the queue, else from the history; undefined when HTCondor knows nothing of it. */
    state: async (id: string): Promise<BatchState | undefined> => {
      const ad = await query('condor_q', [id, '-json', '-attributes', attributes]) ??
        await query('condor_history', [id, '-json', '-limit', '1', '-attributes', attributes])
      return ad === undefined ? undefined : condorState(ad, signalName)
    },
    /**
     * The HTCondor id of the job submitted for (job id, try), in the queue or
     * in the history (by the AutocalJobId and AutocalTry attributes), or
     * undefined when there is none: looked up before any resubmission.
     */
    find: async (jobId: string, attempt: number): Promise<string | undefined> => {
      const constraint = condorConstraint(jobId, attempt)
      const ad = await query('condor_q', ['-constraint', constraint, '-json', '-attributes', 'ClusterId,ProcId']) ??
        await query('condor_history', ['-constraint', constraint, '-json', '-limit', '1', '-attributes', 'ClusterId,ProcId'])
      const found = ad as { ClusterId?: number, ProcId?: number } | undefined
      return found?.ClusterId === undefined ? undefined : `${found.ClusterId}.${found.ProcId ?? 0}`
    },
    cancel: async (id: string): Promise<void> => { await run('condor_rm', [id]) }
  }
}

export type CondorBackend = ReturnType<typeof createCondorBackend>
