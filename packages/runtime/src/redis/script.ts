// Lua scripts run by their SHA1 (EVALSHA): each call sends the digest, not the
// script's text; Redis loads the text once, on the first NOSCRIPT answer.
// A script makes several commands one atomic round trip.
//
// Not ioredis's defineCommand: a command defined on a client while an
// auto-pipeline is being filled is missing from that pipeline, and ioredis
// 5.9 then misaligns the pipeline's replies and throws "results[i] is not
// iterable" as an uncaught exception (ioredis issue #1931). Our clients
// auto-pipeline, and scripts are first run at any moment, so the dispatcher
// crashed this way; plain EVALSHA/EVAL are ordinary pipelined commands.
// `test/integration/redis.test.ts` runs new scripts amid pipelined commands.
import { createHash } from 'node:crypto'
import type { Redis } from 'ioredis'

export interface RedisScript {
  text: string
  /** SHA1 of the text: what Redis knows the script by. */
  sha: string
}

/** A Lua script and its SHA1. */
export function redisScript (text: string): RedisScript {
  return { text, sha: createHash('sha1').update(text).digest('hex') }
}

/** Runs `script` with its KEYS and ARGV: EVALSHA, and EVAL (which loads it) when Redis answers NOSCRIPT. */
export async function runScript (client: Redis, script: RedisScript, keys: string[], args: Array<string | number>): Promise<unknown> {
  try {
    return await client.evalsha(script.sha, keys.length, ...keys, ...args)
  } catch (err) {
    if (!String(err).includes('NOSCRIPT')) throw err
    return await client.eval(script.text, keys.length, ...keys, ...args)
  }
}
