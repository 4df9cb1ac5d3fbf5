// Lua scripts as ioredis commands (defineCommand): each call sends the
// script's SHA1 (EVALSHA) and ioredis loads the text on Redis's NOSCRIPT
// answer, also inside pipelines. A script makes several commands one atomic
// round trip.
import { createHash } from 'node:crypto'
import type { Redis } from 'ioredis'

export interface RedisScript {
  text: string
  /** SHA1 of the text: what Redis knows the script by. */
  sha: string
  /** The ioredis command name the script is defined under on each client. */
  command: string
}

/** A Lua script, defined on a client the first time it runs there. */
export function redisScript (text: string): RedisScript {
  const sha = createHash('sha1').update(text).digest('hex')
  return { text, sha, command: `autocal_${sha}` }
}

type ScriptCommand = (numberOfKeys: number, ...keysAndArgs: Array<string | number>) => Promise<unknown>

/**
 * Runs `script` with its KEYS and ARGV on `client` (defining it there as an
 * ioredis command on first use) and resolves with the script's reply; a
 * script error rejects. A script is never auto-pipelined: ioredis copies a
 * client's defined commands into an auto-pipeline when it opens it, so a
 * script defined while one is open would be queued where it does not exist
 * ("pipeline[functionName] is not a function") and the pipeline's reply would
 * then throw outside any caller (ioredis issue 1931).
 */
export async function runScript (client: Redis, script: RedisScript, keys: string[], args: Array<string | number>): Promise<unknown> {
  const commands = client as unknown as Record<string, ScriptCommand | undefined>
  if (typeof commands[script.command] !== 'function') {
    const ignored = client.options.autoPipeliningIgnoredCommands ?? []
    if (!ignored.includes(script.command)) client.options.autoPipeliningIgnoredCommands = [...ignored, script.command]
    client.defineCommand(script.command, { lua: script.text })
  }
  return await (commands[script.command] as ScriptCommand).call(client, keys.length, ...keys, ...args)
}
