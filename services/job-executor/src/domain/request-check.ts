// What a job request must satisfy before the executor acts on it: the names
// of its provenance follow autocal's one name grammar, its output directory
// lies inside the executor's jobs directory, and the image of a kubernetes
// job is allow-listed. A request that breaks a rule is a fault of the message
// (the consumer dead-letters it with the reason). Pure.
import { isAbsolute, normalize } from 'node:path'
import { accountingGroupRe, condorJobFlavours, nameProblem, passedEnvProblem, type JobRequest } from '@autocal/contracts'
import { isInside } from './manifest.ts'

export interface RequestRules {
  /** Absolute directory every output directory must be inside. */
  jobsDir: string
  /** Images the kubernetes backend may run: exact references, or prefixes ending in `*`. */
  images: readonly string[]
}

/** True when `image` is one of `allowed` (exact), or starts with an entry's text before its final `*`. */
export function imageAllowed (image: string, allowed: readonly string[]): boolean {
  return allowed.some(a => a.endsWith('*') ? image.startsWith(a.slice(0, -1)) : image === a)
}

/** Job ids as the dispatcher makes them (`<campaign>/<block>/<task>/<attempt>/<job>`), and no quote, backslash or space. */
const jobIdRe = /^[A-Za-z0-9_./:@+#-]{1,400}$/

/**
 * Why the request may not be acted on, naming the field and value; undefined
 * when it may. Rules: job id of letters, digits and _ . / : @ + # - (at most 400),
 * try ≥ 1; provenance campaign, task, subsystem and block id (and workflow
 * when given) per `nameProblem` of @autocal/contracts; for a start: a
 * non-empty argv, an output directory (when given) absolute, normalised and
 * strictly inside `jobsDir`, a kubernetes image from `images`, an accounting
 * group and job flavour (when given) as `condorJobFlavours`/`accountingGroupRe`
 * of @autocal/contracts say, and pass_env names that `passedEnvProblem` accepts.
 */
export function requestProblem (request: JobRequest, rules: RequestRules): string | undefined {
  if (!jobIdRe.test(request.jobId)) {
    return `job_id ${JSON.stringify(request.jobId.slice(0, 100))} must be 1–400 of letters, digits and _ . / : @ + # -`
  }
  if (request.try < 1) return `job ${request.jobId}: try must be at least 1`
  const p = request.provenance
  if (p === undefined) return `job ${request.jobId}: provenance is missing`
  const names: Array<[Parameters<typeof nameProblem>[0], string, string]> = [
    ['campaign', 'provenance.campaign', p.campaign],
    ['task', 'provenance.task', p.task],
    ['subsystem', 'provenance.subsystem', p.subsystem],
    ['block', 'provenance.block_id', p.blockId]
  ]
  if (p.workflow !== '') names.push(['workflow', 'provenance.workflow', p.workflow])
  for (const [kind, field, value] of names) {
    const problem = nameProblem(kind, value)
    if (problem !== undefined) return `job ${request.jobId}: ${field}: ${problem}`
  }
  if (request.action.case !== 'start') return undefined
  const start = request.action.value
  if (start.argv.length === 0 || start.argv[0] === '') return `job ${request.jobId}: argv is empty`
  if (start.outdir !== '') {
    const dir = normalize(start.outdir)
    if (!isAbsolute(start.outdir) || start.outdir.includes('\0') || !isInside(rules.jobsDir, dir) || dir === normalize(rules.jobsDir)) {
      return `job ${request.jobId}: outdir ${JSON.stringify(start.outdir.slice(0, 300))} is not inside the executor's jobs directory ${rules.jobsDir}`
    }
  }
  if (start.backend === 'kubernetes' && !imageAllowed(start.image, rules.images)) {
    return `job ${request.jobId}: image ${JSON.stringify(start.image.slice(0, 300))} is not in the executor's allow-list (AUTOCAL_KUBE_IMAGES)`
  }
  if (start.accountingGroup !== '' && !accountingGroupRe.test(start.accountingGroup)) {
    return `job ${request.jobId}: accounting_group ${JSON.stringify(start.accountingGroup.slice(0, 150))} must be 1–128 of letters, digits and _ . -`
  }
  if (start.jobFlavour !== '' && !Object.hasOwn(condorJobFlavours, start.jobFlavour)) {
    return `job ${request.jobId}: job_flavour ${JSON.stringify(start.jobFlavour.slice(0, 60))} is not one of ${Object.keys(condorJobFlavours).join(', ')}`
  }
  for (const name of start.passEnv) {
    const problem = passedEnvProblem(name)
    if (problem !== undefined) return `job ${request.jobId}: pass_env: ${problem}`
  }
  return undefined
}
