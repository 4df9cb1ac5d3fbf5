// Configuration of the autocal-agent.
import { hostname } from 'node:os'
import { z } from 'zod'
import { baseShape } from '@autocal/runtime'

export const AgentConfig = z.object({
  ...baseShape,
  /** host:port of the job-executor's agent endpoint. */
  AUTOCAL_AGENT_EXECUTOR: z.string().min(1).default('127.0.0.1:50052'),
  /** Bearer token the executor accepts (one of its AUTOCAL_AGENT_TOKENS). */
  AUTOCAL_AGENT_TOKEN: z.string().min(1),
  /** Stable name of this agent (its jobs are re-attached to it after a reconnect). */
  AUTOCAL_AGENT_ID: z.string().min(1).default(hostname()),
  AUTOCAL_AGENT_SLOTS: z.coerce.number().int().positive().default(2),
  AUTOCAL_AGENT_POOL: z.string().default(''),
  /** TLS to the executor: a CA file (PEM) to trust, or 'system' for the system roots; plaintext when unset. */
  AUTOCAL_AGENT_TLS_CA_FILE: z.string().optional(),
  AUTOCAL_AGENT_KILL_GRACE_MS: z.coerce.number().int().positive().default(5000),
  AUTOCAL_AGENT_BACKOFF_MAX_MS: z.coerce.number().int().positive().default(30_000)
})
export type AgentConfig = z.infer<typeof AgentConfig>
