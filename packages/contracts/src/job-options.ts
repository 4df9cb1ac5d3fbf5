// The batch options a job request (StartJob) may carry besides argv and
// resources, as both the dispatcher (workflow validation) and the executor
// (request checks) read them.

/**
 * The job flavours of CERN's HTCondor batch service and the longest run each
 * allows, in seconds (`+JobFlavour`; CERN batch documentation, "Job flavours").
 */
export const condorJobFlavours: Readonly<Record<string, number>> = {
  espresso: 20 * 60,
  microcentury: 60 * 60,
  longlunch: 2 * 3600,
  workday: 8 * 3600,
  tomorrow: 24 * 3600,
  testmatch: 3 * 24 * 3600,
  nextweek: 7 * 24 * 3600
}

/** An HTCondor accounting group as autocal accepts it: 1–128 of letters, digits and _ . - (e.g. `group_u_CMS.u_zh`). */
export const accountingGroupRe = /^[A-Za-z0-9_.-]{1,128}$/

/**
 * Why a variable name may not be passed from an executor's environment to a
 * job (StartJob.pass_env, a task's `passEnv:`), or undefined when it may: AUTOCAL_* keys are the services' own
 * configuration (tokens, passwords), and names that say token, secret,
 * password or key are refused for the same reason.
 */
export function passedEnvProblem (name: string): string | undefined {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return `${JSON.stringify(name)} is not a variable name`
  if (name.startsWith('AUTOCAL_')) return `${name}: the executor's AUTOCAL_* configuration is never passed to jobs`
  if (/TOKEN|SECRET|PASSW|CREDENTIAL|_KEY$|^KEY$/i.test(name)) return `${name}: looks like a secret; jobs hold none`
  return undefined
}
