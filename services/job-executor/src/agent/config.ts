// Configuration of the autocal-agent.
import { hostname } from 'node:os'
import { z } from 'zod'
import { baseShape } from '@autocal/runtime'
import { passedEnvProblem } from '@autocal/contracts'
import { defaultPassedEnv } from '../domain/job-environment.ts'

export const AgentConfig = z.object({
  ...baseShape,
  /** host:port of the job-executor's agent endpoint. */
  AUTOCAL_AGENT_EXECUTOR: z.string().min(1).default('127.0.0.1:50052'),
  /** This agent's bearer token (its entry in the executor's AUTOCAL_AGENT_TOKENS); or AUTOCAL_AGENT_TOKEN_FILE. */
  AUTOCAL_AGENT_TOKEN: z.string().min(1).optional(),
  /** A file holding the token (instead of AUTOCAL_AGENT_TOKEN). */
  AUTOCAL_AGENT_TOKEN_FILE: z.string().min(1).optional(),
  /** Stable name of this agent, the one its token belongs to (its jobs are re-attached to it after a reconnect). */
  AUTOCAL_AGENT_ID: z.string().min(1).default(hostname()),
  AUTOCAL_AGENT_SLOTS: z.coerce.number().int().positive().default(2),
  AUTOCAL_AGENT_POOL: z.string().default(''),
  /** TLS to the executor: a CA file (PEM) to trust, or 'system' for the system roots. */
  AUTOCAL_AGENT_TLS_CA_FILE: z.string().min(1).optional(),
  /** A client certificate and its key (PEM), for an executor that requires them: both or neither. */
  AUTOCAL_AGENT_TLS_CERT_FILE: z.string().min(1).optional(),
  AUTOCAL_AGENT_TLS_KEY_FILE: z.string().min(1).optional(),
  /** Dial the executor without TLS (the token travels in clear text): only on a trusted network. */
  AUTOCAL_AGENT_INSECURE: z.stringbool().default(false),
  /** User jobs run as (name, uid or uid:gid); `nobody` when the agent runs as root. */
  AUTOCAL_AGENT_JOB_USER: z.string().min(1).optional(),
  /** Variables of the agent's environment passed to jobs (comma-separated); never AUTOCAL_* keys or secrets. */
  AUTOCAL_AGENT_JOB_ENV: z.string().transform(v => v.split(',').map(b => b.trim()).filter(b => b !== '')).default(defaultPassedEnv).superRefine((names, ctx) => {
    for (const name of names) {
      const problem = passedEnvProblem(name)
      if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem })
    }
  }),
  AUTOCAL_AGENT_KILL_GRACE_MS: z.coerce.number().int().positive().default(5000),
  /**
   * How the agent runs its jobs: `local` (processes on this host) or `htcondor` (submitted to the schedd of
   * this host with condor_submit, followed with condor_q/condor_history: an lxplus-like submit host).
   */
  AUTOCAL_AGENT_BACKEND: z.enum(['local', 'htcondor']).default('local'),
  /** Directory of condor_submit, condor_q, condor_history, condor_rm (htcondor backend); PATH when unset. */
  AUTOCAL_AGENT_CONDOR_BIN_DIR: z.string().min(1).optional(),
  /** Container images the agent's HTCondor jobs may run (comma-separated, exact or prefix ending in `*`); none when unset. */
  AUTOCAL_AGENT_CONDOR_IMAGES: z.string().transform(v => v.split(',').map(b => b.trim()).filter(b => b !== '')).default([]),
  /** How often the agent polls HTCondor for its jobs' states, ms. */
  AUTOCAL_AGENT_POLL_MS: z.coerce.number().int().positive().default(2000),
  AUTOCAL_AGENT_BACKOFF_MAX_MS: z.coerce.number().int().positive().default(30_000)
}).superRefine((c, ctx) => {
  if ((c.AUTOCAL_AGENT_TOKEN === undefined) === (c.AUTOCAL_AGENT_TOKEN_FILE === undefined)) {
    ctx.addIssue({ code: 'custom', path: ['AUTOCAL_AGENT_TOKEN'], message: 'set one of AUTOCAL_AGENT_TOKEN and AUTOCAL_AGENT_TOKEN_FILE' })
  }
  const cert = c.AUTOCAL_AGENT_TLS_CERT_FILE !== undefined
  const key = c.AUTOCAL_AGENT_TLS_KEY_FILE !== undefined
  if (cert !== key) {
    ctx.addIssue({ code: 'custom', path: [cert ? 'AUTOCAL_AGENT_TLS_KEY_FILE' : 'AUTOCAL_AGENT_TLS_CERT_FILE'], message: 'half-configured TLS: set AUTOCAL_AGENT_TLS_CERT_FILE and AUTOCAL_AGENT_TLS_KEY_FILE together' })
  }
  const tls = c.AUTOCAL_AGENT_TLS_CA_FILE !== undefined
  if ((cert || key) && !tls) {
    ctx.addIssue({ code: 'custom', path: ['AUTOCAL_AGENT_TLS_CA_FILE'], message: 'half-configured TLS: a client certificate needs AUTOCAL_AGENT_TLS_CA_FILE (a CA file or `system`)' })
  }
  if (tls && c.AUTOCAL_AGENT_INSECURE) {
    ctx.addIssue({ code: 'custom', path: ['AUTOCAL_AGENT_INSECURE'], message: 'AUTOCAL_AGENT_INSECURE=true contradicts AUTOCAL_AGENT_TLS_CA_FILE: choose one' })
  }
  if (!tls && !c.AUTOCAL_AGENT_INSECURE) {
    ctx.addIssue({ code: 'custom', path: ['AUTOCAL_AGENT_TLS_CA_FILE'], message: 'the agent dials the executor over TLS: set AUTOCAL_AGENT_TLS_CA_FILE (a CA file or `system`), or AUTOCAL_AGENT_INSECURE=true on a trusted network' })
  }
})
export type AgentConfig = z.infer<typeof AgentConfig>
