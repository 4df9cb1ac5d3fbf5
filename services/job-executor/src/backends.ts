// The batch backends enabled by configuration, bound to job requests.
import { mkdirSync, readFileSync } from 'node:fs'
import { dirname } from 'node:path'
import type { JobRequest } from '@autocal/contracts'
import type { Config } from './config.ts'
import { jobEnvironment, type ExtraEnv } from './domain/job-environment.ts'
import { imageAllowed } from './domain/request-check.ts'
import { createCondorBackend } from './adapters/htcondor.ts'
import { condorJobOf } from './domain/condor-submit.ts'
import { createKubeBackend } from './adapters/kubernetes.ts'
import type { JobEntry } from './adapters/job-store.ts'
import type { BatchBackend } from './batch-jobs.ts'

const startOf = (request: JobRequest) => {
  if (request.action.case !== 'start') throw new Error(`job ${request.jobId}: not a start request`)
  if (request.action.value.argv.length === 0) throw new Error(`job ${request.jobId}: empty argv`)
  return request.action.value
}

/**
 * The htcondor and kubernetes backends this executor's configuration enables. `baseEnv` is what every
 * HTCondor job gets; `extra` the variables a job may ask for by name (both jobs' environments are built by
 * jobEnvironment). A submit throws (the job fails to start with the message) for an image outside the
 * backend's allow-list (AUTOCAL_CONDOR_IMAGES, AUTOCAL_KUBE_IMAGES) or a variable the executor does not pass.
 */
export function batchBackends (config: Config, baseEnv: Record<string, string>, extra?: ExtraEnv): Partial<Record<'htcondor' | 'kubernetes', BatchBackend>> {
  const out: Partial<Record<'htcondor' | 'kubernetes', BatchBackend>> = {}
  if (config.AUTOCAL_EXECUTOR_BACKENDS.includes('htcondor')) {
    const condor = createCondorBackend({ binDir: config.AUTOCAL_CONDOR_BIN_DIR })
    out.htcondor = {
      submit: async (entry: JobEntry, request: JobRequest) => {
        const start = startOf(request)
        if (start.image !== '' && !imageAllowed(start.image, config.AUTOCAL_CONDOR_IMAGES)) throw new Error(`job ${request.jobId}: image ${start.image} is not in AUTOCAL_CONDOR_IMAGES`)
        mkdirSync(dirname(entry.logFile), { recursive: true })
        return await condor.submit(condorJobOf(request, start, entry.outdir, entry.logFile, jobEnvironment(request, entry.outdir, baseEnv, extra)))
      },
      state: condor.state,
      find: condor.find,
      cancel: condor.cancel
    }
  }
  if (config.AUTOCAL_EXECUTOR_BACKENDS.includes('kubernetes')) {
    const kube = createKubeBackend({
      namespace: config.AUTOCAL_KUBE_NAMESPACE,
      server: config.AUTOCAL_KUBE_SERVER,
      token: config.AUTOCAL_KUBE_TOKEN_FILE === undefined ? undefined : readFileSync(config.AUTOCAL_KUBE_TOKEN_FILE, 'utf8').trim()
    })
    out.kubernetes = {
      submit: async (entry: JobEntry, request: JobRequest) => {
        const start = startOf(request)
        if (start.image === '') throw new Error(`job ${request.jobId}: the kubernetes backend needs an image`)
        if (!imageAllowed(start.image, config.AUTOCAL_KUBE_IMAGES)) throw new Error(`job ${request.jobId}: image ${start.image} is not in AUTOCAL_KUBE_IMAGES`)
        const p = request.provenance
        return await kube.submit({
          jobId: request.jobId,
          try: request.try,
          image: start.image,
          argv: start.argv,
          env: jobEnvironment(request, entry.outdir, {}, extra),
          cpus: start.resources?.cpus ?? 0,
          memoryMb: start.resources?.memoryMb ?? 0,
          timeoutS: start.timeoutS,
          campaign: p?.campaign ?? '',
          block: p?.blockId ?? '',
          task: p?.task ?? '',
          jobIndex: request.jobIndex,
          serviceAccount: config.AUTOCAL_KUBE_SERVICE_ACCOUNT,
          runAsUser: config.AUTOCAL_KUBE_RUN_AS_USER
        })
      },
      state: kube.state,
      find: kube.find,
      cancel: kube.cancel
    }
  }
  return out
}
