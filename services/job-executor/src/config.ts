// Configuration of the job-executor.
import { z } from 'zod'
import { baseShape, grpcShape, httpShape, kafkaShape, readShape, redisShape, tokenListSchema } from '@autocal/runtime'
import { passedEnvProblem } from '@autocal/contracts'
import { defaultPassedEnv } from './domain/job-environment.ts'

const list = z.string().transform(v => v.split(',').map(b => b.trim()).filter(b => b !== ''))
/** A comma-separated list of variable names the executor may pass to jobs (each checked by passedEnvProblem). */
const envNames = (fallback: string[]) => list.default(fallback).superRefine((names, ctx) => {
  for (const name of names) {
    const problem = passedEnvProblem(name)
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem })
  }
})

export const Config = z.object({
  ...baseShape,
  ...kafkaShape,
  ...redisShape,
  ...httpShape,
  ...grpcShape,
  AUTOCAL_HTTP_PORT: httpShape.AUTOCAL_HTTP_PORT.unwrap().default(8083),
  AUTOCAL_GRPC_PORT: grpcShape.AUTOCAL_GRPC_PORT.unwrap().default(50052),
  /** Jobs that may run at once on the local backend, across all executors sharing this Redis. */
  AUTOCAL_EXECUTOR_SLOTS: z.coerce.number().int().positive().default(4),
  /** Local jobs waiting for a slot in this executor at most; further requests stay in Kafka until there is room. */
  AUTOCAL_EXECUTOR_MAX_QUEUED: z.coerce.number().int().positive().default(100),
  /** Base URL of this executor's HTTP server as others reach it (for log links). */
  AUTOCAL_EXECUTOR_PUBLIC_URL: z.url().optional(),
  /** SIGTERM → SIGKILL grace when a job's process group is killed. */
  AUTOCAL_EXECUTOR_KILL_GRACE_MS: z.coerce.number().int().positive().default(5000),
  /** How often leases are renewed, cancels applied and lost executors' jobs taken over. */
  AUTOCAL_EXECUTOR_RECONCILE_MS: z.coerce.number().int().positive().default(2000),
  /** How often each enabled htcondor/kubernetes/agent backend is probed for autocal_backend_up. */
  AUTOCAL_EXECUTOR_BACKEND_PROBE_MS: z.coerce.number().int().positive().default(15_000),
  /** Backends this executor runs jobs on (comma-separated): local, agent, htcondor, kubernetes. */
  AUTOCAL_EXECUTOR_BACKENDS: z.string().default('local,agent').transform(v => v.split(',').map(b => b.trim()).filter(b => b !== '')),
  /** Directory every job's output directory must be inside; <AUTOCAL_DATA_DIR>/jobs when unset. */
  AUTOCAL_EXECUTOR_JOBS_DIR: z.string().min(1).optional(),
  /** Name of the pod (process namespace) local jobs run in; the host name when unset. */
  AUTOCAL_EXECUTOR_HOST: z.string().min(1).optional(),
  /** User local jobs run as (name, uid or uid:gid); `nobody` when the executor runs as root. */
  AUTOCAL_EXECUTOR_JOB_USER: z.string().min(1).optional(),
  /** Variables of the executor's environment passed to jobs (comma-separated); never AUTOCAL_* keys or secrets. */
  AUTOCAL_EXECUTOR_JOB_ENV: envNames(defaultPassedEnv),
  /**
   * Further variables of the executor's environment that a workflow may ask for by name (`passEnv:` of a task,
   * comma-separated), e.g. X509_USER_PROXY; the same rules as AUTOCAL_EXECUTOR_JOB_ENV. A job asking for another fails to start.
   */
  AUTOCAL_EXECUTOR_JOB_EXTRA_ENV: envNames([]),
  /** Container images HTCondor jobs may run (container universe; comma-separated, exact or prefix ending in `*`); none when unset. */
  AUTOCAL_CONDOR_IMAGES: list.default([]),
  /** Directory of condor_submit, condor_q, condor_history, condor_rm; PATH when unset. */
  AUTOCAL_CONDOR_BIN_DIR: z.string().optional(),
  /** Namespace of the kubernetes backend's Jobs. */
  AUTOCAL_KUBE_NAMESPACE: z.string().default('autocal'),
  /** API server URL; the default kubeconfig (in-cluster or ~/.kube/config) when unset. */
  AUTOCAL_KUBE_SERVER: z.url().optional(),
  /** File holding the bearer token for AUTOCAL_KUBE_SERVER. */
  AUTOCAL_KUBE_TOKEN_FILE: z.string().optional(),
  /** Images the kubernetes backend may run (comma-separated): exact references, or prefixes ending in `*`. */
  AUTOCAL_KUBE_IMAGES: list.default([]),
  /** ServiceAccount of the job pods (it should have no rights; its token is not mounted anyway). */
  AUTOCAL_KUBE_SERVICE_ACCOUNT: z.string().regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, 'expected a DNS-1123 name').default('autocal-job'),
  /** uid (and gid) the job containers run as: never root. */
  AUTOCAL_KUBE_RUN_AS_USER: z.coerce.number().int().positive().default(65534),
  /** Agents and their tokens: "<agent id>=<token>,…"; the agent gRPC endpoint is served only when set. */
  AUTOCAL_AGENT_TOKENS: tokenListSchema('=', 'AUTOCAL_AGENT_TOKENS').default([]),
  /** A file with the same "<agent id>=<token>" entries, one per line (read at start; added to AUTOCAL_AGENT_TOKENS). */
  AUTOCAL_AGENT_TOKENS_FILE: z.string().min(1).optional(),
  /** How often agents send heartbeats. */
  AUTOCAL_AGENT_HEARTBEAT_MS: z.coerce.number().int().positive().default(5000),
  /** An agent silent for this long is lost: its jobs are queued again. */
  AUTOCAL_AGENT_LOST_AFTER_MS: z.coerce.number().int().positive().default(20000),
  /** TLS of the agent endpoint (PEM files): both, or AUTOCAL_AGENT_INSECURE=true. */
  AUTOCAL_AGENT_TLS_CERT_FILE: z.string().min(1).optional(),
  AUTOCAL_AGENT_TLS_KEY_FILE: z.string().min(1).optional(),
  /** CA (PEM) that agents' client certificates must be signed by; client certificates are required when set. */
  AUTOCAL_AGENT_TLS_CLIENT_CA_FILE: z.string().min(1).optional(),
  /** Serve the agent endpoint without TLS (tokens travel in clear text): only on a trusted network. */
  AUTOCAL_AGENT_INSECURE: z.stringbool().default(false),
  /** Who may read job logs: AUTOCAL_READ_TOKENS "<principal>:<token>,…", or AUTOCAL_READ_PUBLIC=true. */
  ...readShape
}).superRefine((c, ctx) => {
  const cert = c.AUTOCAL_AGENT_TLS_CERT_FILE !== undefined
  const key = c.AUTOCAL_AGENT_TLS_KEY_FILE !== undefined
  if (cert !== key) {
    ctx.addIssue({ code: 'custom', path: [cert ? 'AUTOCAL_AGENT_TLS_KEY_FILE' : 'AUTOCAL_AGENT_TLS_CERT_FILE'], message: 'half-configured TLS: set AUTOCAL_AGENT_TLS_CERT_FILE and AUTOCAL_AGENT_TLS_KEY_FILE together' })
  }
  if (cert && key && c.AUTOCAL_AGENT_INSECURE) {
    ctx.addIssue({ code: 'custom', path: ['AUTOCAL_AGENT_INSECURE'], message: 'AUTOCAL_AGENT_INSECURE=true contradicts AUTOCAL_AGENT_TLS_CERT_FILE / AUTOCAL_AGENT_TLS_KEY_FILE: choose one' })
  }
  if (c.AUTOCAL_AGENT_TLS_CLIENT_CA_FILE !== undefined && !(cert && key)) {
    ctx.addIssue({ code: 'custom', path: ['AUTOCAL_AGENT_TLS_CLIENT_CA_FILE'], message: 'client certificates need TLS: set AUTOCAL_AGENT_TLS_CERT_FILE and AUTOCAL_AGENT_TLS_KEY_FILE too' })
  }
  const agents = c.AUTOCAL_AGENT_TOKENS.length > 0 || c.AUTOCAL_AGENT_TOKENS_FILE !== undefined
  if (agents && !cert && !key && !c.AUTOCAL_AGENT_INSECURE) {
    ctx.addIssue({ code: 'custom', path: ['AUTOCAL_AGENT_TLS_CERT_FILE'], message: 'the agent endpoint needs TLS: set AUTOCAL_AGENT_TLS_CERT_FILE and AUTOCAL_AGENT_TLS_KEY_FILE, or AUTOCAL_AGENT_INSECURE=true on a trusted network' })
  }
  if (c.AUTOCAL_EXECUTOR_BACKENDS.includes('kubernetes') && c.AUTOCAL_KUBE_IMAGES.length === 0) {
    ctx.addIssue({ code: 'custom', path: ['AUTOCAL_KUBE_IMAGES'], message: 'the kubernetes backend needs the list of images it may run' })
  }
})
export type Config = z.infer<typeof Config>
