// The watchdog's notes in Redis: one hash per campaign, `td:jobwatch:<campaign>`,
// field `<task key>|<attempt>|<job index>|<try>` → JobWatch as JSON. Lost with
// Redis, they are simply made again (a wait starts afresh; a job already
// answered is asked again and answers again).
import type { RedisHandle } from '@autocal/runtime'
import type { JobWatch } from '../domain/job-watchdog.ts'

export function createJobWatchStore (redis: RedisHandle) {
  const hash = (campaign: string): string => redis.key('td', 'jobwatch', campaign)
  return {
    /** Every watch of the campaign, by field. */
    all: async (campaign: string): Promise<Map<string, JobWatch>> =>
      new Map(Object.entries(await redis.client.hgetall(hash(campaign))).map(([f, v]) => [f, JSON.parse(v) as JobWatch])),
    put: async (campaign: string, field: string, watch: JobWatch): Promise<void> => { await redis.client.hset(hash(campaign), field, JSON.stringify(watch)) },
    /** Starts watching a job try unless an answer (or another watch) was written meanwhile. */
    begin: async (campaign: string, field: string, watch: JobWatch): Promise<void> => { await redis.client.hsetnx(hash(campaign), field, JSON.stringify(watch)) },
    /** The executor answered this job try (written whether or not it was watched yet). */
    answered: async (campaign: string, field: string): Promise<void> => {
      await redis.client.hset(hash(campaign), field, JSON.stringify({ sinceMs: Date.now(), reRequests: 0, answered: true } satisfies JobWatch))
    },
    remove: async (campaign: string, fields: readonly string[]): Promise<void> => { if (fields.length > 0) await redis.client.hdel(hash(campaign), ...fields) }
  }
}

export type JobWatchStore = ReturnType<typeof createJobWatchStore>
