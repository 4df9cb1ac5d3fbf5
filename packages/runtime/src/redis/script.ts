// Lua scripts run by their SHA1 (EVALSHA): each call sends the digest, not the
// script's text; Redis loads the text once, on the first NOSCRIPT answer.
// A script makes several commands one atomic round trip.
import { createHash } from 'node:crypto'
import type { Redis } from 'ioredis'

export interface RedisScript {
  text: string
  sha: string
}

export function redisScript (text: string): RedisScript {
  return { text, sha: createHash('sha1').update(text).digest('hex') }
}

export async function runScript (client: Redis, script: RedisScript, keys: string[], args: Array<string | number>): Promise<unknown> {
  try {
    return await client.evalsha(script.sha, keys.length, ...keys, ...args)
  } catch (err) {
    if (!String(err).includes('NOSCRIPT')) throw err
    return await client.eval(script.text, keys.length, ...keys, ...args)
  }
}
