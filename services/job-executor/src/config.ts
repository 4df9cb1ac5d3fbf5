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
  /** Base URL of this executor's HTTP server as others reach it (for log links). */
  AUTOCAL_EXECUTOR_PUBLIC_URL: z.url().optional(),
  /** SIGTERM → SIGKILL grace when a job's process group is killed. */
  AUTOCAL_EXECUTOR_KILL_GRACE_MS: z.coerce.number().int().positive().default(5000),
  /** How often leases are renewed, cancels applied and lost executors' jobs taken over. */
  AUTOCAL_EXECUTOR_RECONCILE_MS: z.coerce.number().int().positive().default(2000)
})
export type Config = z.infer<typeof Config>
