// Configuration of the job-executor.
import { z } from 'zod'
import { baseShape, grpcShape, httpShape, kafkaShape, redisShape } from '@autocal/runtime'

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
  /** Backends this executor runs jobs on (comma-separated): local, agent, htcondor, kubernetes. */
  AUTOCAL_EXECUTOR_BACKENDS: z.string().default('local,agent').transform(v => v.split(',').map(b => b.trim()).filter(b => b !== '')),
  /** Directory of condor_submit, condor_q, condor_history, condor_rm; PATH when unset. */
  AUTOCAL_CONDOR_BIN_DIR: z.string().optional(),
  /** Namespace of the kubernetes backend's Jobs. */
  AUTOCAL_KUBE_NAMESPACE: z.string().default('autocal'),
  /** API server URL; the default kubeconfig (in-cluster or ~/.kube/config) when unset. */
  AUTOCAL_KUBE_SERVER: z.url().optional(),
  /** File holding the bearer token for AUTOCAL_KUBE_SERVER. */
  AUTOCAL_KUBE_TOKEN_FILE: z.string().optional(),
  /** Bearer tokens agents may present (comma-separated); the agent gRPC endpoint is served only when set. */
  AUTOCAL_AGENT_TOKENS: z.string().optional().transform(v => (v ?? '').split(',').map(t => t.trim()).filter(t => t !== '')),
  /** How often agents send heartbeats. */
  AUTOCAL_AGENT_HEARTBEAT_MS: z.coerce.number().int().positive().default(5000),
  /** An agent silent for this long is lost: its jobs are queued again. */
  AUTOCAL_AGENT_LOST_AFTER_MS: z.coerce.number().int().positive().default(20000),
  /** TLS of the agent endpoint (PEM files); plaintext when unset. */
  AUTOCAL_AGENT_TLS_CERT_FILE: z.string().optional(),
  AUTOCAL_AGENT_TLS_KEY_FILE: z.string().optional()
})
export type Config = z.infer<typeof Config>
